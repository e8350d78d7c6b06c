import { Miniflare } from 'miniflare';
const mf = new Miniflare({ modules: true, script: 'export default {}', compatibilityDate: '2026-04-26', d1Databases: ['DB'] });
const db = await mf.getD1Database('DB');
async function q(sql, ...b) {
  try { const r = await db.prepare(sql).bind(...b).all(); return { rows: r.results, read: r.meta.rows_read, dur: r.meta.duration }; }
  catch (e) { return { err: e.message }; }
}
await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c ANY)');
await db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<1000) INSERT INTO t SELECT i, 'x'||i, i*0.5, i FROM n`).run();
const tests = [
  ['atan2', 'SELECT atan2(-0.0,-1) x'],
  ['pow-0', 'SELECT pow(-0.0,-1) x, pow(0.0,-1) y, 1/-0.0 z'],
  ['math', 'SELECT log2(8) a, pow(2,3) b, floor(2.5) c, mod(7,3) d, sign(-2) e, -9223372036854775807-1 >> 60 f, (-5)>>1 g'],
  ['unhex', "SELECT unhex('41') x"],
  ['zeroblob', 'SELECT hex(zeroblob(3)) x'],
  ['printfc', "SELECT printf('%.5c','x') x"],
  ['scan', 'SELECT count(*) n FROM t'],
  ['range', 'SELECT count(*) n, sum(c) s FROM t WHERE id>=1 AND id<101'],
  ['window', 'SELECT count(*) n, sum(r) s FROM (SELECT row_number() OVER (ORDER BY id) r FROM t WHERE id>=1 AND id<101)'],
  ['recursive1000', 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<1000) SELECT count(*) n FROM n'],
  ['json_each', "SELECT count(*) n FROM json_each('[1,2,3,4,5,6,7,8,9,10]')"],
  ['corr-rec', 'SELECT count(*) n, sum((WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM k WHERE i<10) SELECT sum(i) FROM k)) s FROM t WHERE id>=1 AND id<101'],
  ['corr-sub', 'SELECT count(*) n, sum((SELECT length(v)*2 FROM (SELECT a v))) s FROM t WHERE id>=1 AND id<101'],
  ['materialized', 'WITH m AS MATERIALIZED (SELECT id, a FROM t WHERE id>=1 AND id<101) SELECT count(*) n, sum(length(a)) FROM m'],
  ['ordered-limit', 'SELECT count(*) n FROM (SELECT id FROM t WHERE id>=1 ORDER BY id LIMIT 100)'],
  ['negzero-store', 'SELECT 1'],
];
for (const [name, sql] of tests) console.log(name, JSON.stringify(await q(sql)));
await db.exec('CREATE TABLE z (k INTEGER PRIMARY KEY, r REAL, x ANY, y)');
await db.prepare('INSERT INTO z VALUES (1, ?1, ?1, ?1)').bind(-0).run();
await db.prepare('INSERT INTO z VALUES (2, -0.0, -0.0, -0.0)').run();
console.log(JSON.stringify(await q("SELECT k, typeof(r), typeof(x), typeof(y), pow(r,-1) pr, pow(x,-1) px, pow(y,-1) py, quote(x), printf('%g',x) FROM z")));
await mf.dispose();
