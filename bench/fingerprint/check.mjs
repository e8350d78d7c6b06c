// The runnable check behind `node bench/fingerprint/fingerprint.mjs [--skip-bench | --bench-only]
// [--rows N] [--trials N]`:
// (a) per-row and per-range fingerprints identical in Debian's sqlite3 3.40 (shell, file),
//     local D1 (Miniflare/workerd 3.47) and sqlite-wasm 3.54, over 20,000 mixed rows;
// (b) seeded single-cell corruptions of each kind change the row's (or range's) fingerprint;
// (c) local D1, 100,000 rows: rows_read and time for 100 ranges in 10 batches, and narrowing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Miniflare } from 'miniflare';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { makeParams, rangeQuery, rowsQuery, rowFingerprintExpr, WITH } from './fingerprint.mjs';

const args = process.argv.slice(2);
const NROWS = Number(args[args.indexOf('--rows') + 1]) || 20000;
const TRIALS = Number(args[args.indexOf('--trials') + 1]) || 1000;
const log = (...a) => console.log(...a);
function assert(c, msg) {
  if (!c) throw new Error('FAILED: ' + msg);
}

// ---------- seeded random ----------
function prng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (a) => a[int(a.length)] };
}

// ---------- exact literals ----------
const hexOf = (bytes) => Buffer.from(bytes).toString('hex').toUpperCase();
function realLit(v) {
  if (Number.isNaN(v)) return 'NULL';
  if (v === Infinity) return '9e999';
  if (v === -Infinity) return '-9e999';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  const hi = dv.getUint32(0),
    lo = dv.getUint32(4);
  const sign = hi >>> 31 ? '-' : '';
  const E = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e;
  if (E === 0) e = -1074;
  else {
    m += 1n << 52n;
    e = E - 1075;
  }
  return e >= -1022 ? `(${sign}${m}*pow(2,${e}))` : `(${sign}${m}*pow(2,${e + 200})*pow(2,-200))`;
}
const intLit = (b) => (b === -(1n << 63n) ? '(-9223372036854775807-1)' : String(b));
const textLit = (bytes) => `CAST(X'${hexOf(bytes)}' AS TEXT)`;
const blobLit = (bytes) => `X'${hexOf(bytes)}'`;
function bitsToDouble(r) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setUint32(0, Math.floor(r.next() * 2 ** 32));
  dv.setUint32(4, Math.floor(r.next() * 2 ** 32));
  return dv.getFloat64(0);
}
function nextUlp(v, dir) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  let b = dv.getBigUint64(0);
  b = dir > 0 ? b + 1n : b - 1n;
  dv.setBigUint64(0, BigInt.asUintN(64, b));
  return dv.getFloat64(0);
}
function randomDouble(r) {
  const k = r.int(20);
  if (k === 0)
    return r.pick([
      0,
      -0,
      Infinity,
      -Infinity,
      2 ** 53 - 1,
      2 ** 53,
      2 ** 53 + 2,
      -(2 ** 53 - 1),
      Number.MIN_VALUE,
      -Number.MIN_VALUE,
      2.2250738585072014e-308,
      2.225073858507201e-308,
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      0.1,
      1,
      1.5,
      2,
      4,
      0.5,
      2 ** -1022,
      2 ** 1023,
      1e-310,
    ]);
  if (k === 1) return (r.next() - 0.5) * 2 ** r.int(2100) * 2 ** -1074; // small magnitudes, subnormals
  if (k === 2) {
    // powers of two and their neighbours, where log2() may be one off
    const p = (r.int(2) ? 1 : -1) * 2 ** (r.int(2098) - 1074);
    const d = r.int(3);
    return d === 0 ? p : nextUlp(p, d === 1 ? 1 : -1);
  }
  for (;;) {
    const v = bitsToDouble(r);
    if (!Number.isNaN(v)) return v;
  }
}
function randomInt(r) {
  const k = r.int(8);
  if (k === 0)
    return r.pick([
      0n,
      1n,
      -1n,
      (1n << 63n) - 1n,
      -(1n << 63n),
      (1n << 53n) + 1n,
      -(1n << 53n) - 1n,
    ]);
  if (k < 4) return BigInt(r.int(2000001) - 1000000);
  return BigInt.asIntN(
    64,
    (BigInt(Math.floor(r.next() * 2 ** 32)) << 32n) | BigInt(Math.floor(r.next() * 2 ** 32)),
  );
}
function randomUtf8(r, maxChars) {
  const out = [];
  const n = r.int(maxChars + 1);
  for (let i = 0; i < n; i++) {
    const k = r.int(10);
    let cp;
    if (k === 0)
      cp = 0; // NUL
    else if (k < 5) cp = 32 + r.int(95);
    else if (k < 7) cp = 0x80 + r.int(0x800 - 0x80);
    else if (k < 9) {
      cp = 0x800 + r.int(0x10000 - 0x800);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
    } else cp = 0x10000 + r.int(0x110000 - 0x10000);
    out.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
  }
  if (r.int(20) === 0) out.push(0xff); // an invalid byte now and then
  return out;
}
const randomBytes = (r, max) => Array.from({ length: r.int(max + 1) }, () => r.int(256));

// A value of any kind, as { lit, kind, ... } for the untyped column x.
function randomAny(r) {
  switch (r.int(9)) {
    case 0:
      return 'NULL';
    case 1:
      return r.pick([
        "''",
        "X''",
        "'1'",
        '1',
        '1.0',
        "'0'",
        '0',
        '-0.0',
        "CAST(X'00' AS TEXT)",
        "X'00'",
      ]);
    case 2:
    case 3:
      return intLit(randomInt(r));
    case 4:
    case 5:
      return realLit(randomDouble(r));
    case 6:
      return textLit(randomUtf8(r, 30));
    case 7:
      return blobLit(randomBytes(r, 30));
    default:
      return `'${String.fromCharCode(97 + r.int(26)).repeat(r.int(5))}'`;
  }
}

export const MIX_DDL =
  'CREATE TABLE v (id INTEGER PRIMARY KEY, r REAL, x, t TEXT, b BLOB, i INTEGER)';
export const MIX_COLS = ['id', 'r', 'x', 't', 'b', 'i'];
function mixedData(n, seed) {
  const r = prng(seed);
  const rows = [];
  for (let id = 1; id <= n; id++) {
    const t = r.int(15) === 0 ? r.pick(['NULL', "''"]) : textLit(randomUtf8(r, 40));
    const b = r.int(15) === 0 ? r.pick(['NULL', "X''"]) : blobLit(randomBytes(r, 24));
    rows.push(
      `(${id},${realLit(randomDouble(r))},${randomAny(r)},${t},${b},${r.int(10) ? intLit(randomInt(r)) : 'NULL'})`,
    );
  }
  const stmts = [];
  for (let i = 0; i < rows.length; i += 100)
    stmts.push(`INSERT INTO v VALUES ${rows.slice(i, i + 100).join(',')}`);
  // Long values: around and over the inline limit L, and over a megabyte, sent in pieces.
  const big = (len, s) => {
    const rr = prng(s);
    return Array.from({ length: len }, () => 32 + rr.int(95));
  };
  const extra = [
    [n + 1, textLit(big(1024, 1)), blobLit(big(1025, 2))],
    [n + 2, textLit(big(1025, 3)), blobLit(big(1024, 4))],
    [n + 3, textLit(big(5000, 5)), "X''"],
  ];
  for (const [id, t, b] of extra)
    stmts.push(`INSERT INTO v VALUES (${id},1.5,${b},${t},${b},${id})`);
  stmts.push(`INSERT INTO v VALUES (${n + 4},NULL,NULL,'',X'',NULL)`);
  const rr = prng(99);
  for (let k = 0; k < 30; k++) {
    // 1.2 MB of text, 30 x 40,000 bytes (with multi-byte characters)
    const piece = Buffer.from(
      Array.from({ length: 20000 }, () =>
        String.fromCodePoint(rr.int(3) ? 97 + rr.int(26) : 0x400 + rr.int(200)),
      ).join(''),
      'utf8',
    ).subarray(0, 40000);
    stmts.push(`UPDATE v SET t = t || CAST(X'${hexOf(piece)}' AS TEXT) WHERE id = ${n + 4}`);
  }
  for (let k = 0; k < 8; k++)
    stmts.push(
      `UPDATE v SET b = CAST(b || X'${hexOf(randomBytes(rr, 40000).concat([k]))}' AS BLOB) WHERE id = ${n + 4}`,
    );
  return stmts;
}

// ---------- engines ----------
class Native {
  constructor() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'fp-'));
    this.file = path.join(this.dir, 'db.sqlite');
  }
  exec(sqls) {
    const f = path.join(this.dir, 'in.sql');
    writeFileSync(f, sqls.map((s) => s + ';\n').join(''));
    execFileSync('sqlite3', [this.file, `.read ${f}`], { maxBuffer: 1 << 30 });
  }
  // Rows as arrays of strings (list mode, '|' separated); values never contain '|' here.
  query(sql) {
    const f = path.join(this.dir, 'q.sql');
    writeFileSync(f, `.timer on\n${sql};\n`);
    const out = execFileSync('sqlite3', [this.file, `.read ${f}`], { maxBuffer: 1 << 30 })
      .toString()
      .trim()
      .split('\n');
    const timer = out.pop();
    this.lastTime = Number(/real ([0-9.]+)/.exec(timer)?.[1]);
    return out.map((l) => l.split('|'));
  }
  version() {
    return execFileSync('sqlite3', ['--version']).toString().split(' ')[0];
  }
  close() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
class Wasm {
  static async open() {
    const s = await sqlite3InitModule({ print: () => {}, printErr: () => {} });
    const w = new Wasm();
    w.db = new s.oo1.DB(':memory:', 'c');
    return w;
  }
  exec(sqls) {
    for (const s of sqls) this.db.exec(s);
  }
  query(sql, bind) {
    return this.db.selectArrays(sql, bind).map((row) => row.map((v) => String(v)));
  }
  version() {
    return this.db.selectValue('SELECT sqlite_version()');
  }
}
class D1 {
  static async open() {
    const d = new D1();
    d.mf = new Miniflare({
      modules: true,
      script: 'export default {}',
      compatibilityDate: '2026-04-26',
      d1Databases: ['DB'],
    });
    d.db = await d.mf.getD1Database('DB');
    return d;
  }
  async exec(sqls, per = 50) {
    for (let i = 0; i < sqls.length; i += per)
      await this.db.batch(sqls.slice(i, i + per).map((s) => this.db.prepare(s)));
  }
  async query(sql) {
    const r = await this.db.prepare(sql).raw();
    return r.map((row) => row.map((v) => String(v)));
  }
  // One round trip: a batch of statements; results, rows_read, D1's duration, wall time.
  async batch(sqls) {
    const t0 = performance.now();
    const res = await this.db.batch(sqls.map((s) => this.db.prepare(s)));
    const wall = performance.now() - t0;
    return {
      results: res.map((r) => r.results),
      rowsRead: res.reduce((a, r) => a + r.meta.rows_read, 0),
      duration: res.reduce((a, r) => a + r.meta.duration, 0),
      wall,
    };
  }
  async close() {
    await this.mf.dispose();
  }
}

// ---------- (a) cross-engine identity ----------
async function crossEngine(prm) {
  log(`\n(a) ${NROWS} mixed rows + 4 long ones in three engines`);
  const stmts = [MIX_DDL, ...mixedData(NROWS, 12345)];
  const native = new Native(),
    wasm = await Wasm.open(),
    d1 = await D1.open();
  native.exec(stmts);
  wasm.exec(stmts);
  await d1.exec(stmts);
  log(`  versions: native ${native.version()}, wasm ${wasm.version()}, D1 3.47 (workerd)`);
  const q = rowsQuery('v', ['id'], undefined, undefined, MIX_COLS, prm, { integerKey: true });
  log(`  per-row statement: ${q.length} bytes`);
  const t0 = performance.now();
  const rn = native.query(q);
  const tn = native.lastTime;
  const t1 = performance.now();
  const rw = wasm.query(q);
  const t2 = performance.now();
  const rd = await d1.query(q);
  const t3 = performance.now();
  log(
    `  per-row fingerprints of ${rn.length} rows: native ${tn}s (shell timer), wasm ${((t2 - t1) / 1000).toFixed(2)}s, D1 ${((t3 - t2) / 1000).toFixed(2)}s`,
  );
  assert(
    rn.length === NROWS + 4 && rw.length === rn.length && rd.length === rn.length,
    'row counts',
  );
  let diff = 0;
  for (let i = 0; i < rn.length; i++) {
    if (
      rn[i][0] !== rw[i][0] ||
      rn[i][1] !== rw[i][1] ||
      rn[i][0] !== rd[i][0] ||
      rn[i][1] !== rd[i][1]
    ) {
      if (diff++ < 5) log('  DIFF', rn[i], rw[i], rd[i]);
    }
    assert(/^[0-9]+$/.test(rn[i][1]), 'fingerprint is a non-negative integer: ' + rn[i][1]);
  }
  assert(diff === 0, `${diff} rows differ across engines`);
  // The one-expression form gives the same values (checked in wasm and native).
  // (3.40's parser stack has no room left around this form: D1 gets a CAST in an outer query,
  // as D1 hands integers over 2^53 to JS inexactly.)
  const qe = `${WITH}SELECT id, ${rowFingerprintExpr(MIX_COLS, prm, '_t')} FROM v AS _t ORDER BY id`;
  const qeD1 = `${WITH}SELECT id, CAST(e AS TEXT) FROM (SELECT id, ${rowFingerprintExpr(MIX_COLS, prm, '_t')} AS e FROM v AS _t ORDER BY id LIMIT -1)`;
  assert(JSON.stringify(wasm.query(qe)) === JSON.stringify(rw), 'rowFingerprintExpr (wasm)');
  assert(JSON.stringify(native.query(qe)) === JSON.stringify(rn), 'rowFingerprintExpr (native)');
  assert(JSON.stringify(await d1.query(qeD1)) === JSON.stringify(rd), 'rowFingerprintExpr (D1)');
  log(
    `  rowFingerprintExpr (one correlated expression, ${qe.length} bytes) gives the same values in all three`,
  );
  const distinct = new Set(rn.map((x) => x[1])).size;
  log(`  identical in all three engines: ${rn.length} rows, ${distinct} distinct fingerprints`);
  // Range level: integer key in 1,000-key ranges, and a composite key (t, id) through the key hash.
  const ranges = [];
  for (let lo = 1; lo <= NROWS + 4; lo += 1000)
    ranges.push(rangeQuery('v', ['id'], lo, lo + 1000, MIX_COLS, prm, { integerKey: true }));
  ranges.push(rangeQuery('v', ['t', 'id'], undefined, undefined, MIX_COLS, prm));
  ranges.push(rangeQuery('v', ['x', 'id'], "(X'',0)", "('zz',0)", MIX_COLS, prm));
  const an = ranges.map((s) => native.query(s)[0].join(','));
  const aw = ranges.map((s) => wasm.query(s)[0].join(','));
  const ad = [];
  for (const s of ranges) ad.push((await d1.query(s))[0].join(','));
  assert(
    JSON.stringify(an) === JSON.stringify(aw) && JSON.stringify(an) === JSON.stringify(ad),
    'range fingerprints differ',
  );
  log(
    `  ${ranges.length} range fingerprints identical (incl. composite keys (t,id) and (x,id)); e.g. ${an[0]} / ${an.at(-2)}`,
  );
  native.close();
  await d1.close();
  return wasm;
}

// ---------- (b) single changes ----------
function corruptions(wasm, prm) {
  log(
    `\n(b) ${TRIALS} seeded corruptions of each kind (sqlite-wasm; the SQL is the same everywhere)`,
  );
  const db = wasm.db;
  const rowStmt = db.prepare(rowsQuery('v', ['id'], '?1', '?2', MIX_COLS, prm));
  const rowFp = (id) => {
    rowStmt.bind([id, id + 1]);
    const ok = rowStmt.step();
    const v = ok ? rowStmt.get(1) : null;
    rowStmt.reset();
    return v;
  };
  const rangeCache = new Map();
  const R = 50; // keys per range for the range-level kinds
  const sameRange = (a, b) => Math.floor((a - 1) / R) === Math.floor((b - 1) / R);
  const rangeFp = (id) => {
    const lo = Math.floor((id - 1) / R) * R + 1;
    if (!rangeCache.has(lo))
      rangeCache.set(
        lo,
        db.prepare(rangeQuery('v', ['id'], lo, lo + R, MIX_COLS, prm, { integerKey: true })),
      );
    const s = rangeCache.get(lo);
    s.step();
    const v = s.get([]).join(',');
    s.reset();
    return v;
  };
  const r = prng(777);
  const one = (sql, bind) => db.selectValue(sql, bind);
  const bytesOf = (id, col) => {
    const h = one(`SELECT hex(${col}) FROM v WHERE id=?`, [id]);
    return h ? [...Buffer.from(h, 'hex')] : null;
  };
  const kinds = {
    'REAL one ULP': (id) => {
      const v = one('SELECT r FROM v WHERE id=?', [id]);
      if (typeof v !== 'number' || !Number.isFinite(v)) return null;
      let w = nextUlp(v, r.int(2) ? 1 : -1);
      if (!Number.isFinite(w) || Object.is(w, -0) || w === 0) w = nextUlp(v, v > 0 ? -1 : 1);
      if (w === 0) return null; // +-MIN_VALUE -> 0 would be the zero case
      return `UPDATE v SET r=${realLit(w)} WHERE id=${id}`;
    },
    'text byte changed': (id) => {
      const b = bytesOf(id, 't');
      if (!b || !b.length) return null;
      const i = r.int(b.length);
      b[i] = (b[i] + 1 + r.int(255)) % 256;
      return `UPDATE v SET t=${textLit(b)} WHERE id=${id}`;
    },
    'text two bytes swapped': (id) => {
      const b = bytesOf(id, 't');
      if (!b || b.length < 2) return null;
      const i = r.int(b.length),
        j = r.int(b.length);
      if (b[i] === b[j]) return null;
      [b[i], b[j]] = [b[j], b[i]];
      return `UPDATE v SET t=${textLit(b)} WHERE id=${id}`;
    },
    'text byte moved': (id) => {
      const b = bytesOf(id, 't');
      if (!b || b.length < 2) return null;
      const before = hexOf(b);
      const [c] = b.splice(r.int(b.length), 1);
      b.splice(r.int(b.length + 1), 0, c);
      if (hexOf(b) === before) return null;
      return `UPDATE v SET t=${textLit(b)} WHERE id=${id}`;
    },
    'blob byte changed': (id) => {
      const b = bytesOf(id, 'b');
      if (!b || !b.length || one('SELECT typeof(b) FROM v WHERE id=?', [id]) !== 'blob')
        return null;
      const i = r.int(b.length);
      b[i] = (b[i] + 1 + r.int(255)) % 256;
      return `UPDATE v SET b=${blobLit(b)} WHERE id=${id}`;
    },
    'blob two bytes swapped': (id) => {
      const b = bytesOf(id, 'b');
      if (!b || b.length < 2 || one('SELECT typeof(b) FROM v WHERE id=?', [id]) !== 'blob')
        return null;
      const i = r.int(b.length),
        j = r.int(b.length);
      if (b[i] === b[j]) return null;
      [b[i], b[j]] = [b[j], b[i]];
      return `UPDATE v SET b=${blobLit(b)} WHERE id=${id}`;
    },
    "NULL / '' / X'' / '0' swapped": (id) => {
      const cur = one("SELECT typeof(x)||':'||hex(x) FROM v WHERE id=?", [id]);
      const opts = ['NULL', "''", "X''", "X'00'", "CAST(X'00' AS TEXT)"].filter(
        (o) => one(`SELECT typeof(o)||':'||hex(o) FROM (SELECT ${o} AS o)`) !== cur,
      );
      return `UPDATE v SET x=${r.pick(opts)} WHERE id=${id}`;
    },
    'integer k -> REAL k.0': (id) => {
      const k = r.int(2) ? BigInt(r.int(2000) - 1000) : randomInt(r);
      const asReal = Number(k);
      if (BigInt(asReal) !== k) return null;
      return [
        `UPDATE v SET x=${intLit(k)} WHERE id=${id}`,
        `UPDATE v SET x=${realLit(asReal)} WHERE id=${id}`,
      ];
    },
    "integer k -> text 'k'": (id) => {
      const k = randomInt(r);
      return [`UPDATE v SET x=${intLit(k)} WHERE id=${id}`, `UPDATE v SET x='${k}' WHERE id=${id}`];
    },
    'blob -> same bytes as text': (id) => {
      const b = bytesOf(id, 'b');
      if (!b || one('SELECT typeof(b) FROM v WHERE id=?', [id]) !== 'blob') return null;
      return `UPDATE v SET b=${textLit(b)} WHERE id=${id}`;
    },
  };
  // A real swap (an UPDATE reading v itself would see the first row already changed).
  const swapSql = (col, a, b) => [
    `CREATE TEMP TABLE sw AS SELECT id, ${col} AS w FROM v WHERE id IN (${a},${b})`,
    `UPDATE v SET ${col}=(SELECT w FROM sw WHERE sw.id=${a + b}-v.id) WHERE id IN (${a},${b})`,
    'DROP TABLE sw',
  ];
  const rangeKinds = {
    'row deleted': (id) => `DELETE FROM v WHERE id=${id}`,
    'row added': (id) =>
      one('SELECT count(*) FROM v WHERE id=?', [id]) ? `DELETE FROM v WHERE id=${id}` : null,
    'key changed': (id) => {
      if (!sameRange(id, id + 1)) return null;
      return [`DELETE FROM v WHERE id=${id + 1}`, `UPDATE v SET id=${id + 1} WHERE id=${id}`];
    },
    'values swapped between two rows': (id) => {
      const other = id + 1 + r.int(5);
      if (!sameRange(id, other)) return null;
      const col = r.pick(['t', 'b', 'i', 'r']);
      const same = one(`SELECT a.${col} IS b.${col} FROM v a, v b WHERE a.id=? AND b.id=?`, [
        id,
        other,
      ]);
      if (same) return null;
      return { all: swapSql(col, id, other) };
    },
    'integers +1,-2,+1 on three rows': (id) => {
      if (!sameRange(id, id + 2)) return null;
      return [
        `UPDATE v SET i=id WHERE id BETWEEN ${id} AND ${id + 2}`,
        `UPDATE v SET i=i+CASE id-${id} WHEN 1 THEN -2 ELSE 1 END WHERE id BETWEEN ${id} AND ${id + 2}`,
      ];
    },
  };
  const run = (name, make, level) => {
    let done = 0,
      missed = 0,
      tries = 0;
    while (done < TRIALS && tries++ < TRIALS * 20) {
      const id = 1 + r.int(NROWS - 10);
      db.exec('SAVEPOINT c');
      let sql = make(id);
      if (sql === null) {
        db.exec('ROLLBACK TO c; RELEASE c');
        continue;
      }
      if (sql.all) sql = sql.all;
      else if (!Array.isArray(sql)) sql = [sql];
      // Two-step kinds: the first statement sets the "before" state.
      else if (sql.length > 1) {
        db.exec(sql[0]);
        sql = sql.slice(1);
      }
      if (name === 'row added') {
        // the "before" state lacks the row; adding it must show
        for (const s of sql) db.exec(s);
        const b0 = rangeFp(id);
        db.exec('ROLLBACK TO c');
        const a0 = rangeFp(id);
        if (a0 === b0) missed++;
        db.exec('RELEASE c');
        done++;
        continue;
      }
      const before = level === 'row' ? rowFp(id) : rangeFp(id);
      for (const s of sql) db.exec(s);
      const after = level === 'row' ? rowFp(id) : rangeFp(id);
      if (before === after) {
        missed++;
        if (missed < 3) log('  MISSED', name, id, sql[0].slice(0, 120));
      }
      db.exec('ROLLBACK TO c; RELEASE c');
      done++;
    }
    log(`  ${name.padEnd(34)} ${done} changes, ${missed} unchanged ${level} fingerprints`);
    assert(missed === 0 && done === TRIALS, name);
  };
  for (const [name, make] of Object.entries(kinds)) run(name, make, 'row');
  for (const [name, make] of Object.entries(rangeKinds)) run(name, make, 'range');
  // Without the key weight Z (a plain sum of row values), a swap between two rows cancels.
  {
    const noZ = db.prepare(
      rangeQuery('v', ['id'], 1, 51, MIX_COLS, prm, { integerKey: true, keyWeight: false }),
    );
    const fp = () => {
      noZ.step();
      const v = noZ.get([]).join(',');
      noZ.reset();
      return v;
    };
    let same = 0,
      n = 0;
    for (let k = 0; k < 100; k++) {
      const a = 1 + r.int(49),
        b = a + 1;
      const col = r.pick(['t', 'b', 'i', 'r']);
      if (one(`SELECT a.${col} IS b.${col} FROM v a, v b WHERE a.id=? AND b.id=?`, [a, b]))
        continue;
      db.exec('SAVEPOINT s');
      const before = fp();
      for (const s of swapSql(col, a, b)) db.exec(s);
      if (fp() === before) same++;
      n++;
      db.exec('ROLLBACK TO s; RELEASE s');
    }
    noZ.finalize();
    log(
      `  (without the key weight Z: ${same} of ${n} swaps between two rows leave the range fingerprint unchanged)`,
    );
  }
  // -0.0 vs 0.0 (only an untyped/BLOB-affinity column keeps -0.0; a REAL column stores 0.0).
  db.exec('SAVEPOINT z');
  db.exec('UPDATE v SET x=0.0 WHERE id=1');
  const pz = rowFp(1);
  db.exec('UPDATE v SET x=-0.0 WHERE id=1');
  const nz = rowFp(1);
  db.exec('ROLLBACK TO z; RELEASE z');
  log(
    `  -0.0 vs 0.0 in an untyped column: ${pz !== nz ? 'distinguished (atan2)' : 'NOT distinguished'}`,
  );
  assert(pz !== nz, '-0.0');
  rowStmt.finalize();
  for (const s of rangeCache.values()) s.finalize();
}

// ---------- (c) local D1, 100,000 rows ----------
export const BENCH_DDL =
  'CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c INTEGER, d BLOB)';
export const BENCH_COLS = ['id', 'a', 'b', 'c', 'd'];
function benchData(n) {
  const r = prng(4242);
  const words = [
    'alpha',
    'bravo',
    'charlie',
    'delta',
    'echo',
    'foxtrot',
    'golf',
    'hotel',
    'india',
    'juliett',
  ];
  const rows = [];
  const values = [];
  for (let id = 1; id <= n; id++) {
    let a = `row ${id}`;
    while (a.length < 60) a += ' ' + r.pick(words);
    a = a.slice(0, 60);
    const b = (r.next() - 0.5) * 10 ** (r.int(12) - 4);
    const c = BigInt(r.int(2 ** 31)) * BigInt(r.int(1000));
    const d = Array.from({ length: 16 }, () => r.int(256));
    values.push({ id, b });
    rows.push(`(${id},'${a}',${realLit(b)},${c},${blobLit(d)})`);
  }
  const stmts = [];
  for (let i = 0; i < rows.length; i += 500)
    stmts.push(`INSERT INTO t VALUES ${rows.slice(i, i + 500).join(',')}`);
  return { stmts, values };
}

async function bench(prm, n = 100000) {
  log(
    `\n(c) local D1 vs sqlite-wasm, ${n} rows of ~100 bytes (id, a TEXT 60, b REAL, c INTEGER, d BLOB 16)`,
  );
  const { stmts, values } = benchData(n);
  const d1 = await D1.open(),
    wasm = await Wasm.open(),
    native = new Native();
  await d1.exec([BENCH_DDL, ...stmts], 20);
  wasm.exec([BENCH_DDL, ...stmts]);
  native.exec([BENCH_DDL, ...stmts]);
  const ranges = [];
  for (let lo = 1; lo <= n; lo += 1000) ranges.push([lo, lo + 1000]);
  const sql = ([lo, hi]) => rangeQuery('t', ['id'], lo, hi, BENCH_COLS, prm, { integerKey: true });
  log(`  range statement: ${sql(ranges[0]).length} bytes`);
  // Local side (wasm) and native timing of the whole table.
  let t0 = performance.now();
  const local = ranges.map((rg) => wasm.query(sql(rg))[0].join(','));
  log(`  sqlite-wasm: 100 ranges in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  const nat = native.query(
    rangeQuery('t', ['id'], 1, n + 1, BENCH_COLS, prm, { integerKey: true }),
  );
  log(`  native 3.40: whole table in one statement ${native.lastTime} s`);
  // D1: 10 batches of 10 statements.
  let rowsRead = 0,
    dur = 0,
    wall = 0,
    maxWall = 0;
  const remote = [];
  for (let i = 0; i < ranges.length; i += 10) {
    const b = await d1.batch(ranges.slice(i, i + 10).map(sql));
    rowsRead += b.rowsRead;
    dur += b.duration;
    wall += b.wall;
    maxWall = Math.max(maxWall, b.wall);
    remote.push(...b.results.map((x) => [x[0].n, x[0].f1, x[0].f2].join(',')));
  }
  assert(JSON.stringify(remote) === JSON.stringify(local), 'D1 and wasm range fingerprints differ');
  log(
    `  D1: 100 ranges in 10 batches: rows_read ${rowsRead} (${(rowsRead / n).toFixed(4)}x), meta.duration ${dur} ms, wall ${(wall / 1000).toFixed(2)} s (slowest batch ${(maxWall / 1000).toFixed(2)} s); equal to wasm`,
  );
  // Reference: plain count(*) per range, same batches.
  let plain = 0;
  for (let i = 0; i < ranges.length; i += 10)
    plain += (
      await d1.batch(
        ranges
          .slice(i, i + 10)
          .map(([lo, hi]) => `SELECT count(*) FROM t WHERE id>=${lo} AND id<${hi}`),
      )
    ).rowsRead;
  log(`  (count(*) alone over the same ranges reads ${plain})`);

  // One corrupted row in D1: b one ULP off; narrow by 16-way splits, then by listing rows.
  const victim = 43210;
  const bv = values[victim - 1].b;
  await d1.exec([`UPDATE t SET b=${realLit(nextUlp(bv, 1))} WHERE id=${victim}`]);
  const narrow = async (fanout, listAt) => {
    let stmts = 0,
      reads = 0,
      trips = 0;
    let cur = [];
    {
      // level 0: the 100 ranges again
      for (let i = 0; i < ranges.length; i += 10) {
        const b = await d1.batch(ranges.slice(i, i + 10).map(sql));
        stmts += 10;
        reads += b.rowsRead;
        trips++;
        b.results.forEach((x, j) => {
          if ([x[0].n, x[0].f1, x[0].f2].join(',') !== local[i + j]) cur.push(ranges[i + j]);
        });
      }
    }
    const base = { stmts, reads, trips };
    let found = null;
    while (cur.length) {
      const [lo, hi] = cur[0];
      if (hi - lo <= listAt) {
        // list the rows' fingerprints
        const q = rowsQuery('t', ['id'], lo, hi, BENCH_COLS, prm, { integerKey: true });
        const b = await d1.batch([q]);
        stmts++;
        reads += b.rowsRead;
        trips++;
        const mine = new Map(wasm.query(q).map(([k, e]) => [k, e]));
        found = b.results[0].filter((x) => mine.get(String(x.k)) !== x.e).map((x) => x.k);
        break;
      }
      const step = Math.ceil((hi - lo) / fanout);
      const subs = [];
      for (let a = lo; a < hi; a += step) subs.push([a, Math.min(hi, a + step)]);
      const b = await d1.batch(subs.map(sql));
      stmts += subs.length;
      reads += b.rowsRead;
      trips++;
      const next = [];
      b.results.forEach((x, j) => {
        const l = wasm.query(sql(subs[j]))[0].join(',');
        if ([x[0].n, x[0].f1, x[0].f2].join(',') !== l) next.push(subs[j]);
      });
      cur = next;
      if (hi - lo === 1) {
        found = [lo];
        break;
      }
      if (cur.length && cur[0][1] - cur[0][0] === 1) {
        found = [cur[0][0]];
        break;
      }
    }
    log(
      `  narrowing (fan-out ${fanout}, list at <= ${listAt} keys): found ${JSON.stringify(found)}; after the 100-range pass (${base.stmts} statements, ${base.reads} rows read, ${base.trips} round trips): ` +
        `${stmts - base.stmts} more statements, ${reads - base.reads} more rows read, ${trips - base.trips} more round trips`,
    );
    assert(found && found.length === 1 && Number(found[0]) === victim, 'narrowing found the row');
  };
  await narrow(16, 1);
  await narrow(16, 16);
  await narrow(16, 64);
  await narrow(10, 1000);
  native.close();
  await d1.close();
}

export async function main() {
  const mix = makeParams({ columns: MIX_COLS.length, seed: 2024 });
  if (!args.includes('--bench-only')) {
    const wasm = await crossEngine(mix);
    corruptions(wasm, mix);
  }
  if (!args.includes('--skip-bench'))
    await bench(makeParams({ columns: BENCH_COLS.length, seed: 7 }));
  log('\nall checks passed');
}
