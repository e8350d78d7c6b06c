import { Miniflare } from 'miniflare';
const mf = new Miniflare({ modules: true, script: 'export default {}', compatibilityDate: '2026-04-26', d1Databases: ['DB'] });
const db = await mf.getD1Database('DB');
async function q(sql, ...b) {
  try { const r = await db.prepare(sql).bind(...b).all(); return { rows: r.results, read: r.meta.rows_read, dur: r.meta.duration }; }
  catch (e) { return { err: e.message }; }
}
await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c ANY)');
await db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<1000) INSERT INTO t SELECT i, 'x'||i, i*0.5, i FROM n`).run();
const V = '(VALUES ' + Array.from({length: 64}, (_, i) => `(${i})`).join(',') + ')';
const tests = [
  ['values-join', `SELECT count(*) n, sum((SELECT count(*) FROM (SELECT column1 a FROM ${V}) x, (SELECT column1 b FROM ${V}) y WHERE 64*a+b < t.id % 100)) s FROM t WHERE id>=1 AND id<101`],
  ['values-nested', `SELECT count(*) n, sum((SELECT sum((SELECT count(*) FROM (SELECT column1 b FROM ${V}) WHERE 64*a+b < t.id % 100)) FROM (SELECT column1 a FROM ${V}) WHERE 64*a < t.id%100)) s FROM t WHERE id>=1 AND id<101`],
  ['cte-values-join', `WITH v(i) AS (SELECT column1 FROM ${V}) SELECT count(*) n, sum((SELECT count(*) FROM v x, v y WHERE 64*x.i+y.i < t.id % 100)) s FROM t WHERE id>=1 AND id<101`],
  ['sub-limit', `SELECT count(*) n, sum(e) FROM (SELECT length(a)*2 e FROM t WHERE id>=1 AND id<101 LIMIT -1)`],
];
for (const [name, sql] of tests) console.log(name, JSON.stringify(await q(sql)));
let e = '1'; let ok = 0;
for (let i = 1; i < 200; i++) { e = `abs(${e})`; const r = await q(`SELECT ${e} x`); if (r.err) { console.log('abs depth fails at', i, r.err.slice(0,80)); break; } ok = i; }
console.log('abs ok up to', ok);
await mf.dispose();
