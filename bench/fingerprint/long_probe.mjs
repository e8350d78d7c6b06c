// Time of the long-value path in local D1: one row holding a 2,000,000-byte blob, one a 1,900,000-byte text.
import { Miniflare } from 'miniflare';
import { makeParams, rangeQuery } from './fingerprint.mjs';
const mf = new Miniflare({
  modules: true,
  script: 'export default {}',
  compatibilityDate: '2026-04-26',
  d1Databases: ['DB'],
});
const db = await mf.getD1Database('DB');
await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b BLOB)');
await db
  .prepare(
    "INSERT INTO t VALUES (1, NULL, randomblob(2000000)), (2, substr(hex(randomblob(950000)),1,1900000), NULL), (3, 'short', X'01')",
  )
  .run();
const prm = makeParams({ columns: 3, seed: 5 });
for (const [lo, hi] of [
  [1, 2],
  [2, 3],
  [3, 4],
]) {
  const r = await db
    .prepare(rangeQuery('t', ['id'], lo, hi, ['id', 'a', 'b'], prm, { integerKey: true }))
    .all();
  console.log(
    `row ${lo}: rows_read ${r.meta.rows_read}, ${r.meta.duration} ms`,
    JSON.stringify(r.results[0]),
  );
}
await mf.dispose();
