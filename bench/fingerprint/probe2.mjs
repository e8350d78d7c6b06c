import { Miniflare } from 'miniflare';
const mf = new Miniflare({ modules: true, script: 'export default {}', compatibilityDate: '2026-04-26', d1Databases: ['DB'] });
const db = await mf.getD1Database('DB');
async function q(sql, ...b) {
  try { const r = await db.prepare(sql).bind(...b).all(); return { rows: r.results, read: r.meta.rows_read, dur: r.meta.duration }; }
  catch (e) { return { err: e.message }; }
}
await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c ANY)');
await db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<1000) INSERT INTO t SELECT i, 'x'||i, i*0.5, i FROM n`).run();
const vals = Array.from({length: 64}, (_, i) => `(${i})`).join(',');
const tests = [
  ['values', `SELECT count(*) n FROM (VALUES ${vals})`],
  ['values-corr', `SELECT count(*) n, sum((SELECT sum(column1*length(t.a)) FROM (VALUES ${vals}) WHERE column1 < t.id % 7)) s FROM t WHERE id>=1 AND id<101`],
  ['values-corr-limit', `SELECT count(*) n, sum((SELECT sum(i) FROM (SELECT column1 i FROM (VALUES ${vals}) LIMIT t.id % 7))) s FROM t WHERE id>=1 AND id<101`],
  ['compound-corr', `SELECT count(*) n, sum((SELECT sum(i*length(t.a)) FROM (SELECT 1 i UNION ALL SELECT 2 UNION ALL SELECT 3))) s FROM t WHERE id>=1 AND id<101`],
  ['corr-rec', 'SELECT count(*) n, sum((WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM k WHERE i<t.id%10) SELECT sum(i) FROM k)) s FROM t WHERE id>=1 AND id<101'],
  ['corr-json', "SELECT count(*) n, sum((SELECT sum(value) FROM json_each('[1,2,3,4,5]') WHERE key < t.id % 5)) s FROM t WHERE id>=1 AND id<101"],
  ['subq-from-limit1', 'SELECT count(*) n FROM (SELECT id FROM t WHERE id>=1 AND id<101 LIMIT 1)'],
  ['range-le', 'SELECT count(*) n FROM t WHERE id>=1 AND id<=100'],
  ['range-between', 'SELECT count(*) n FROM t WHERE id BETWEEN 1 AND 100'],
  ['range-order-limit', 'SELECT count(*) n FROM (SELECT 1 FROM t WHERE id>=1 ORDER BY id LIMIT 100)'],
  ['range-last', 'SELECT count(*) n FROM t WHERE id>=901 AND id<1001'],
  ['range-last-le', 'SELECT count(*) n FROM t WHERE id>=901 AND id<=1000'],
  ['group-by-bucket', 'SELECT count(*) n, sum(c) FROM t WHERE id>=1 AND id<1001 GROUP BY (id-1)/100'],
];
for (const [name, sql] of tests) console.log(name, JSON.stringify(await q(sql)));
await mf.dispose();
