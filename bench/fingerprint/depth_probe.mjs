// Smallest expression-tree height limit at which a statement compiles, measured with Debian's
// sqlite3 shell (`.limit expr_depth N`), to keep statements under D1's limit of 100.
// (sqlite-wasm 3.54 reports its parser stack as "Recursion limit" under the same limit, so it
// cannot separate the two.)
import { execFileSync } from 'node:child_process';
import {
  makeParams,
  rangeQuery,
  rowsQuery,
  rowFingerprintExpr,
  WITH,
  foldAll,
  longPart,
  valueEnc,
} from './fingerprint.mjs';
const DDL = 'CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b REAL, c INTEGER, d BLOB);';
export function minDepth(sql, ddl = DDL) {
  const ok = (d) => {
    try {
      execFileSync('sqlite3', [':memory:'], {
        input: `${ddl}\n.limit expr_depth ${d}\nEXPLAIN ${sql};\n`,
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      return true;
    } catch (e) {
      if (/too large|depth/.test(e.stderr.toString())) return false;
      throw new Error(e.stderr.toString().slice(0, 200));
    }
  };
  let lo = 1,
    hi = 1000;
  if (!ok(hi)) return '>1000';
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (ok(m)) hi = m;
    else lo = m + 1;
  }
  return lo;
}
if (process.argv[1].endsWith('depth_probe.mjs')) {
  const cols = ['id', 'a', 'b', 'c', 'd'];
  const prm = makeParams({ columns: 5, seed: 1 });
  const t = prm.tables[0];
  const q = (n, sql) => console.log(n.padEnd(12), minDepth(sql));
  q('valueEnc', `SELECT ${valueEnc('_t.b', prm)} FROM t AS _t`);
  q('foldAll', `${WITH}SELECT ${foldAll('_x', t, prm.K)} FROM (SELECT CAST('1' AS BLOB) AS _x)`);
  q(
    'longPart',
    `${WITH}SELECT ${longPart(
      cols.map((c) => '_t.' + c),
      prm,
    )} FROM t AS _t`,
  );
  q('rowFpExpr', `${WITH}SELECT ${rowFingerprintExpr(cols, prm)} FROM t AS _t`);
  q('rows', rowsQuery('t', ['id'], 1, 10, cols, prm, { integerKey: true }));
  q('range', rangeQuery('t', ['id'], 1, 10, cols, prm, { integerKey: true }));
  q('range text', rangeQuery('t', ['a'], undefined, undefined, cols, prm));
}
