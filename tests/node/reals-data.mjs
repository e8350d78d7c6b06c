import assert from 'node:assert/strict';

// Random-bit doubles and their bit-for-bit comparison, shared by tests/node/reals.test.mjs
// (sqlite-wasm as the source) and tests/worker/reals.test.mjs (a Durable Object as the source).
// Seeded random bit patterns as doubles (NaN skipped: SQLite stores it as NULL).
export function randomDoubles(count, seed) {
  let s = BigInt(seed) | 1n;
  const view = new DataView(new ArrayBuffer(8));
  const out = [];
  while (out.length < count) {
    s ^= (s << 13n) & 0xffffffffffffffffn;
    s ^= s >> 7n;
    s ^= (s << 17n) & 0xffffffffffffffffn;
    view.setBigUint64(0, s);
    const d = view.getFloat64(0);
    if (!Number.isNaN(d)) out.push(d);
  }
  return out;
}

export function edgeDoubles() {
  const out = [
    0,
    -0,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    2.2250738585072014e-308,
    -2.2250738585072014e-308,
    5e-324,
    -5e-324,
    2.225073858507201e-308,
    Infinity,
    -Infinity,
    2 ** 53,
    2 ** 53 - 1,
    2 ** 53 + 2,
    9e12,
    8999999999999.999,
    25000.26,
    0.1,
    0.3,
    1 / 3,
    1e-5,
    51.507351,
    -0.001,
    3,
    1e300,
    1e-300,
    -2.6784102624133478e307,
  ];
  for (let e = -1074; e <= 1023; ++e) out.push(2 ** e);
  return out;
}

// A value as a JS number, the edge cases named: SQL for one column.
export function exactCell(c) {
  return (
    `CASE WHEN typeof(${c}) <> 'real' THEN typeof(${c}) || ':' || quote(${c}) ` +
    `WHEN ${c} = 9e999 THEN 'inf' WHEN ${c} = -9e999 THEN '-inf' ` +
    `WHEN ${c} = 0 THEN (CASE WHEN atan2(${c}, -1) < 0 THEN '-0' ELSE '0' END) ELSE ${c} END`
  );
}

// Rows of two sides compared value by value with Object.is; returns the count of differing
// rows and the first few.
export function diffRows(local, remote) {
  const differ = [];
  const n = Math.max(local.length, remote.length);
  for (let i = 0; i < n; ++i) {
    const a = local[i];
    const b = remote[i];
    if (
      !a ||
      !b ||
      a.length !== b.length ||
      a.some((x, k) => !Object.is(typeof x === 'bigint' ? Number(x) : x, b[k]))
    ) {
      differ.push({ row: i, local: a?.map(String), d1: b?.map(String) });
    }
  }
  return { count: differ.length, first: differ.slice(0, 3) };
}

export const SCHEMA = [
  'CREATE TABLE v(id INTEGER PRIMARY KEY, r REAL, n NUMERIC, i INTEGER, b BLOB, x)',
  'CREATE TABLE kr(k REAL NOT NULL PRIMARY KEY, v REAL)',
  'CREATE TABLE kw(k REAL, j INTEGER, v, PRIMARY KEY(k, j)) WITHOUT ROWID',
];
export const READS = [
  `SELECT id, ${['r', 'n', 'i', 'b', 'x'].map(exactCell).join(', ')} FROM v ORDER BY id`,
  `SELECT ${exactCell('k')}, ${exactCell('v')} FROM kr ORDER BY k`,
  `SELECT ${exactCell('k')}, j, ${exactCell('v')} FROM kw ORDER BY k, j`,
];

// Every READS query answers the same rows, bit for bit, locally (`readLocal(sql)` -> rows) and
// in D1.
export async function expectIdentical(readLocal, d1, label) {
  for (const sql of READS) {
    const local = await readLocal(sql);
    const remote = await d1.prepare(sql).raw();
    const d = diffRows(local, remote);
    assert.equal(
      d.count,
      0,
      `${label}: ${d.count} of ${local.length} rows differ in D1, e.g. ` +
        `${JSON.stringify(d.first)} (${sql.slice(0, 60)}...)`,
    );
    assert.ok(local.length > 1000, `${label}: ${local.length} rows`);
  }
}
