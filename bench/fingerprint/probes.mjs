// What local D1 counts as rows read, and the -0.0 question: `node bench/fingerprint/probes.mjs`.
// 1,000-row table; each line: the query's shape, meta.rows_read, meta.duration (ms).
import { Miniflare } from 'miniflare';

const mf = new Miniflare({
  modules: true,
  script: 'export default {}',
  compatibilityDate: '2026-04-26',
  d1Databases: ['DB'],
});
const db = await mf.getD1Database('DB');
async function q(sql) {
  try {
    const r = await db.prepare(sql).all();
    return `rows_read ${String(r.meta.rows_read).padStart(6)}  ${r.meta.duration} ms  ${JSON.stringify(
      r.results[0],
    )
      .replace(/\(VALUES [^)]*\)(,\(\d+\))*\)/g, 'V')
      .slice(0, 100)}`;
  } catch (e) {
    return 'ERROR ' + e.message.slice(0, 100);
  }
}
await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c ANY)');
await db
  .prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<1000) INSERT INTO t SELECT i, 'x'||i, i*0.5, i FROM n`,
  )
  .run();
const V = (n) => '(VALUES ' + Array.from({ length: n }, (_, i) => `(${i})`).join(',') + ')';
const R = 'FROM t WHERE id>=1 AND id<101'; // 100 rows
const probes = [
  ['whole table count(*)', 'SELECT count(*) FROM t'],
  ['100-row range, count + sum', `SELECT count(*), sum(c) ${R}`],
  ['last range (no row after it)', 'SELECT count(*) FROM t WHERE id>=901 AND id<1001'],
  [
    'range via ORDER BY id LIMIT 100',
    'SELECT count(*) FROM (SELECT 1 FROM t WHERE id>=1 ORDER BY id LIMIT 100)',
  ],
  [
    'range, per-row subquery without a table',
    `SELECT count(*), sum((SELECT length(v)*2 FROM (SELECT a v))) ${R}`,
  ],
  [
    'range through a LIMIT -1 subquery',
    `SELECT count(*), sum(e) FROM (SELECT length(a)*2 e ${R} LIMIT -1)`,
  ],
  [
    'range, row_number() window',
    `SELECT count(*), sum(r) FROM (SELECT row_number() OVER (ORDER BY id) r ${R})`,
  ],
  [
    'range, MATERIALIZED CTE',
    `WITH m AS MATERIALIZED (SELECT id, a ${R}) SELECT count(*), sum(length(a)) FROM m`,
  ],
  [
    '10 ranges by GROUP BY in one statement',
    'SELECT count(*), sum(c) FROM t WHERE id>=1 AND id<1001 GROUP BY (id-1)/100',
  ],
  [
    'recursive CTE, 1,000 steps',
    'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<1000) SELECT count(*) FROM n',
  ],
  [
    'range, correlated recursive CTE (560 steps)',
    `SELECT count(*), sum((WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM k WHERE i<t.id%10) SELECT sum(i) FROM k)) ${R}`,
  ],
  ['json_each, 10 elements', "SELECT count(*) FROM json_each('[1,2,3,4,5,6,7,8,9,10]')"],
  [
    'range, correlated json_each (500 elements)',
    `SELECT count(*), sum((SELECT sum(value) FROM json_each('[1,2,3,4,5]') WHERE key < t.id % 5)) ${R}`,
  ],
  ['VALUES, 64 rows', `SELECT count(*) FROM ${V(64)}`],
  [
    'range, correlated VALUES loop',
    `SELECT count(*), sum((SELECT sum(column1*length(t.a)) FROM ${V(64)} WHERE column1 < t.id % 7)) ${R}`,
  ],
  [
    'range, two nested VALUES loops (4,950 steps)',
    `SELECT count(*), sum((SELECT sum((SELECT count(*) FROM (SELECT column1 b FROM ${V(64)}) WHERE 64*a+b < t.id % 100)) FROM (SELECT column1 a FROM ${V(64)}) WHERE 64*a < t.id%100)) ${R}`,
  ],
  [
    'range, join of two VALUES',
    `SELECT count(*), sum((SELECT count(*) FROM (SELECT column1 a FROM ${V(64)}) x, (SELECT column1 b FROM ${V(64)}) y WHERE 64*a+b < t.id % 100)) ${R}`,
  ],
  [
    'range, NOT MATERIALIZED VALUES CTE used twice',
    `WITH _n(i) AS NOT MATERIALIZED (SELECT column1 FROM ${V(256)}) SELECT count(*), sum((SELECT count(*) FROM _n WHERE i < t.id % 100)), sum((SELECT sum(i) FROM _n WHERE i < t.id % 7)) ${R}`,
  ],
  [
    'range, a VALUES CTE joined with itself',
    `WITH v(i) AS (SELECT column1 FROM ${V(64)}) SELECT count(*), sum((SELECT count(*) FROM v x, v y WHERE 64*x.i+y.i < t.id % 100)) ${R}`,
  ],
];
for (const [name, sql] of probes) console.log(name.padEnd(48), await q(sql));

console.log('\n-0.0: what tells it from 0.0 in local D1 (the same on 3.40 and 3.54, see NOTES.md)');
console.log(
  await q(
    "SELECT atan2(-0.0,-1) atan2, printf('%f|%e|%g|%!.3e',-0.0,-0.0,-0.0,-0.0) printf, CAST(-0.0 AS TEXT) cast, quote(-0.0) quote, pow(-0.0,-1) pow, 1/-0.0 div, sign(-0.0) sign",
  ),
);
await db.exec('CREATE TABLE z (k INTEGER PRIMARY KEY, r REAL, n NUMERIC, u)');
await db.prepare('INSERT INTO z VALUES (1, -0.0, -0.0, -0.0)').run();
console.log(
  await q(
    'SELECT typeof(r), atan2(r,-1) r_real, typeof(n), typeof(u), atan2(u,-1) u_untyped FROM z',
  ),
);
await mf.dispose();
