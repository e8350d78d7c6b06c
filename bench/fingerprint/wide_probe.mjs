// Statement size and time for a wide table in local D1: `node bench/fingerprint/wide_probe.mjs 60`
// (1,000 rows of N TEXT columns; integer key, then a composite (c0, id) key).
import { Miniflare } from 'miniflare';
import { makeParams, rangeQuery } from './fingerprint.mjs';
const C = Number(process.argv[2] || 100);
const cols = ['id', ...Array.from({ length: C - 1 }, (_, i) => `c${i}`)];
const prm = makeParams({ columns: C, seed: 3 });
const mf = new Miniflare({
  modules: true,
  script: 'export default {}',
  compatibilityDate: '2026-04-26',
  d1Databases: ['DB'],
});
const db = await mf.getD1Database('DB');
await db.exec(
  `CREATE TABLE w (id INTEGER PRIMARY KEY, ${cols
    .slice(1)
    .map((c) => c + ' TEXT')
    .join(', ')})`,
);
await db
  .prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<1000) INSERT INTO w SELECT i, ${cols
      .slice(1)
      .map((c, j) => `printf('%d-%d value text', i, ${j})`)
      .join(', ')} FROM n`,
  )
  .run();
const sql = rangeQuery('w', ['id'], 1, 1001, cols, prm, { integerKey: true });
console.log('columns', C, 'statement bytes', sql.length);
try {
  const r = await db.prepare(sql).all();
  console.log(JSON.stringify(r.results), 'rows_read', r.meta.rows_read, 'ms', r.meta.duration);
} catch (e) {
  console.log('ERR', e.message);
}
const sql2 = rangeQuery('w', ['c0', 'id'], undefined, undefined, cols, prm);
console.log('text key statement bytes', sql2.length);
try {
  const r = await db.prepare(sql2).all();
  console.log(JSON.stringify(r.results), 'rows_read', r.meta.rows_read, 'ms', r.meta.duration);
} catch (e) {
  console.log('ERR', e.message);
}
await mf.dispose();
