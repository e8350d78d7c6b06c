// Key-range fingerprints computed in SQL that SQLite 3.40 (Debian), local D1 (workerd, 3.47) and
// @sqlite.org/sqlite-wasm 3.54 evaluate to the same integers. Design and numbers: NOTES.md.
//
//   row    -> D: a prefix-free digit string (per column: type tag, length, content; REALs as
//              sign, 53-bit mantissa and exponent; text/blob bytes as hex, then hex digits
//              re-coded into decimal digits 0-8 -> 0-8, 9..F -> 90..96)
//   D      -> E_m = sum over 9-digit chunks c_i (as the integer '1'||chunk) of c_i * S_m[i],
//              block weights for blocks of K chunks, column/piece weights for values over L
//              bytes (folded from 64 KB pieces), all mod p_m; m = 1, 2; p1 = 2^31-1, p2 = 2^31-19
//   range  -> count(*), F_m = sum over rows of Z_m(key) * E_m mod p_m, Z_m = product of one
//              random constant per base-32 digit of the key (or of a 62-bit hash of the key)
// Every table entry (S, G, U, W, T) is an independent random constant in [1, p): fresh per
// verification. Loops (long rows, long values) run over VALUES lists, which D1 does not count
// as rows read (recursive CTEs, json_each, window functions and materialized tables are counted).
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const P = [2147483647, 2147483629];
export const DEFAULTS = { K: 32, L: 1024, signedZero: true };
const FAN = 64; // entries of each VALUES loop list (blocks: FAN*FAN; pieces: FAN)
const KEY_DIGITS = 13; // base-32 digits of a 64-bit value (12 of 5 bits, one of 4)

// ---------- parameters ----------
function rng(seed) {
  if (seed === undefined) {
    const buf = randomBytes(8);
    seed = buf.readBigUInt64LE(0);
  }
  let s = BigInt.asUintN(64, BigInt(seed));
  return () => {
    // splitmix64
    s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n);
    let z = s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
}

// One independent uniform constant in [1, p) per table entry and modulus.
export function makeParams({ columns, seed, K = DEFAULTS.K, L = DEFAULTS.L,
  signedZero = DEFAULTS.signedZero } = {}) {
  const next = rng(seed);
  const draw = (p) => Number(next() % BigInt(p - 1)) + 1;
  const tables = P.map((p) => ({
    p,
    S: Array.from({ length: K }, () => draw(p)), // chunk position in a block
    G0: Array.from({ length: FAN }, () => draw(p)), // block index, low base-64 digit
    G1: Array.from({ length: FAN }, () => draw(p)), // block index, high digit
    U: Array.from({ length: columns }, () => draw(p)), // which long column
    W0: Array.from({ length: 256 }, () => draw(p)), // which piece of a super-piece
    W1: Array.from({ length: 256 }, () => draw(p)), // which super-piece
    T: Array.from({ length: KEY_DIGITS }, () => Array.from({ length: 32 }, () => draw(p))),
  }));
  // An independent set for hashing non-integer keys into the 62 bits that pick Z.
  const keyTables = P.map((p) => ({
    p,
    S: Array.from({ length: K }, () => draw(p)),
    G0: Array.from({ length: FAN }, () => draw(p)),
    G1: Array.from({ length: FAN }, () => draw(p)),
  }));
  return { K, L, signedZero, tables, keyTables };
}

// ---------- SQL pieces ----------
export const qid = (name) => '"' + String(name).replace(/"/g, '""') + '"';
const VALUES = '(VALUES ' + Array.from({ length: FAN }, (_, i) => `(${i})`).join(',') + ')';
// A constant table read by index: 10-digit entries in a text literal.
const lookup = (arr, idx) =>
  `CAST(substr('${arr.map((v) => String(v).padStart(10, '0')).join('')}',10*(${idx})+1,10) AS INTEGER)`;

// Hex digits to decimal digits, prefix-free: 0-8 stay, 9->90, A->91, ..., F->96.
export function codeHex(hexExpr) {
  let e = `replace(${hexExpr},'9','90')`;
  'ABCDEF'.split('').forEach((c, i) => (e = `replace(${e},'${c}','9${i + 1}')`));
  return e;
}

// Exact REAL: tag, 16-digit mantissa in [2^52, 2^53), exponent + 1100 (4 digits). log2() may be
// one off near powers of two: k is corrected by exact comparisons with pow(2, k).
function realEnc(v, signedZero) {
  const zero = signedZero ? `iif(atan2(${v},-1)<0,'6','5')` : `'5'`;
  return `(SELECT CASE WHEN _fa=0 THEN ${zero} WHEN _fa>1.7976931348623157e308 THEN iif(${v}>0,'90','91') ` +
    `ELSE iif(${v}>0,'3','4')||printf('%d%04d',CAST(iif(_fk<-971,_fa*pow(2,600)*pow(2,-548-_fk),_fa*pow(2,52-_fk)) AS INTEGER),_fk+1100) END ` +
    `FROM (SELECT _fa,_fk0-(pow(2,_fk0)>_fa)+(_fk0<1023 AND pow(2,_fk0+1)<=_fa) AS _fk FROM (SELECT abs(${v}) AS _fa,floor(log2(abs(${v}))) AS _fk0)))`;
}

// One value as a prefix-free digit string. Tags: 0 NULL, 1/2 integer >=0/<0 (2-digit length,
// digits), 3/4 REAL >0/<0, 5/6 +0.0/-0.0, 90/91 +-Inf, 7 text, 8 blob (7-digit byte length,
// then the re-coded hex when at most L bytes; longer values are folded in pieces).
export function valueEnc(v, { L, signedZero }) {
  return `CASE typeof(${v}) WHEN 'integer' THEN iif(${v}<0,'2'||printf('%02d',length(${v})-1)||substr(${v},2),'1'||printf('%02d',length(${v}))||${v}) ` +
    `WHEN 'real' THEN ${realEnc(v, signedZero)} ` +
    `WHEN 'text' THEN '7'||printf('%07d',length(CAST(${v} AS BLOB)))||iif(length(CAST(${v} AS BLOB))>${L},'',${codeHex(`hex(${v})`)}) ` +
    `WHEN 'blob' THEN '8'||printf('%07d',length(${v}))||iif(length(${v})>${L},'',${codeHex(`hex(${v})`)}) ELSE '0' END`;
}

// A sum / a product mod p as a balanced tree: SQLite limits expression depth (100 in D1),
// and a chain a+b+c+... is as deep as it is long.
const balSum = (xs) => (xs.length === 1 ? xs[0] : `(${balSum(xs.slice(0, xs.length >> 1))}+${balSum(xs.slice(xs.length >> 1))})`);
const balProd = (xs, p) => (xs.length === 1 ? xs[0] : `(${balProd(xs.slice(0, xs.length >> 1), p)}*${balProd(xs.slice(xs.length >> 1), p)}%${p})`);

// Fold of the K chunks of block `o` (o: an SQL offset in digits) of the BLOB digit string x.
// Flat on purpose: SQLite 3.40's parser stack (100 entries) overflows at ~32 nested calls.
export function foldBlock(x, o, t, K) {
  const terms = [];
  for (let i = 0; i < K; i++)
    terms.push(`CAST('1'||substr(${x},${o}${9 * i + 1},9) AS INTEGER)*${t.S[i]}%${t.p}`);
  return `(${balSum(terms)}%${t.p})`;
}

// Fold of a whole BLOB digit string x: block 0 inline (weight 1), blocks 1.. in two nested
// VALUES loops (weight G1[b1]*G0[b0]); up to FAN*FAN blocks of 9K digits.
export function foldAll(x, t, K) {
  const span = 9 * K;
  const nb = `(length(${x})-1)/${span}`; // last block index
  const inner = `(SELECT sum(${lookup(t.G0, '_b0')}*${foldBlock(x, '_o+', t, K)}%${t.p})%${t.p} ` +
    `FROM (SELECT column1 AS _b0,${span}*(${FAN}*_b1+column1) AS _o FROM ${VALUES} WHERE ${FAN}*_b1+column1 BETWEEN 1 AND ${nb}))`;
  const loop = `(SELECT sum(${lookup(t.G1, '_b1')}*${inner}%${t.p})%${t.p} FROM (SELECT column1 AS _b1 FROM ${VALUES} WHERE ${FAN}*column1<=${nb}))`;
  return `${foldBlock(x, '', t, K)}+iif(length(${x})>${span},${loop},0)`;
}

// Values over L bytes: sum over such columns c and pieces j (of 9K/4 bytes, so a piece's
// digits fit one block) of U[c]*W1[j1]*W0[j0]*fold(piece), j = FANL*j1+j0; the value is cut
// into super-pieces of FANL pieces first so no step copies the whole value.
const FANL = 256;
const VALUESL = '(VALUES ' + Array.from({ length: FANL }, (_, i) => `(${i})`).join(',') + ')';
export function longPart(cols, t, prm) {
  const { K } = prm;
  const pb = Math.floor((9 * K) / 4), sp = pb * FANL;
  const pick = `CASE column1 ${cols.map((c, i) => `WHEN ${i} THEN ${c}`).join(' ')} END`;
  const inner = `(SELECT sum(${lookup(t.W0, '_j0')}*${foldBlock('_x', '', t, K)}%${t.p})%${t.p} FROM ` +
    `(SELECT column1 AS _j0,CAST(${codeHex(`hex(substr(_y,${pb}*column1+1,${pb}))`)} AS BLOB) AS _x FROM ${VALUESL} WHERE ${pb}*column1<length(_y) LIMIT ${FANL}))`;
  const pieces = `(SELECT sum(${lookup(t.W1, '_j1')}*${inner}%${t.p})%${t.p} FROM ` +
    `(SELECT column1 AS _j1,substr(CAST(_v AS BLOB),${sp}*column1+1,${sp}) AS _y FROM ${VALUESL} WHERE ${sp}*column1<length(CAST(_v AS BLOB)) LIMIT ${FANL}))`;
  return `(SELECT ifnull(sum(${lookup(t.U, '_c')}*${pieces}%${t.p})%${t.p},0) FROM ` +
    `(SELECT column1 AS _c,${pick} AS _v FROM (VALUES ${cols.map((_, i) => `(${i})`).join(',')}) LIMIT ${cols.length}) ` +
    `WHERE typeof(_v) IN ('text','blob') AND length(CAST(_v AS BLOB))>${prm.L})`;
}

const anyLong = (cols, L) =>
  `max(${[...cols, "''"].map((c) => `ifnull(length(CAST(${c} AS BLOB)),0)`).join(',')})>${L}`;
const digitsOf = (cols, prm) =>
  `CAST(printf('${'%s'.repeat(cols.length)}',${cols.map((c) => valueEnc(c, prm)).join(',')}) AS BLOB)`;

// The per-row pipeline, as a subquery with columns _k (key or 62-bit key hash), _e1, _e2
// (E mod p1, E mod p2). Three levels of FROM-subqueries, each with LIMIT so SQLite does not
// flatten them (flattening would copy _d's expression into each of its 2K uses).
//   A: the table scan: key, digit string _d, the long-value part (only when a value > L bytes)
//   B: folds of _d (and of the key's digit string for non-integer keys)
export function rowPipeline(table, keyCols, columns, prm, { where = [], integerKey = false } = {}) {
  const a = '_t';
  const cols = columns.map((c) => `${a}.${qid(c.name ?? c)}`);
  const keys = keyCols.map((k) => `${a}.${qid(k)}`);
  const [t1, t2] = prm.tables;
  const lg = anyLong(cols, prm.L);
  const levelA = `SELECT ${integerKey ? keys[0] : digitsOf(keys, prm)} AS _k0,${digitsOf(cols, prm)} AS _d,` +
    `iif(${lg},${longPart(cols, t1, prm)},0) AS _l1,iif(${lg},${longPart(cols, t2, prm)},0) AS _l2 ` +
    `FROM ${qid(table)} AS ${a}${where.length ? ' WHERE ' + where.join(' AND ') : ''} LIMIT -1`;
  const [k1, k2] = prm.keyTables;
  const key = integerKey ? '_k0' : `((${foldAll('_k0', k1, prm.K)})%${k1.p})<<31|((${foldAll('_k0', k2, prm.K)})%${k2.p})`;
  return `SELECT ${key} AS _k,(${foldAll('_d', t1, prm.K)}+_l1)%${t1.p} AS _e1,(${foldAll('_d', t2, prm.K)}+_l2)%${t2.p} AS _e2 ` +
    `FROM (${levelA}) LIMIT -1`;
}

// Per-row fingerprint E = (E1 << 31) | E2 as an expression over the pipeline's columns.
export const rowFingerprintExpr = () => '(_e1<<31|_e2)';

// Z_m(key): product of T[digit][value] over the base-32 digits of x (an integer expression),
// skipping digits that are equal for every key of the range (a common factor).
function zExpr(x, t, digits) {
  const f = digits.map((d) => lookup(t.T[d], d < 12 ? `${x}>>${5 * d}&31` : `${x}>>60&15`));
  return f.length ? balProd(f, t.p) : '1';
}

// Digits that can differ between keys in [lo, hi) (integer keys).
function varyingDigits(lo, hi) {
  const all = [...Array(KEY_DIGITS).keys()];
  if (lo === undefined || hi === undefined) return all;
  const a = BigInt.asUintN(64, BigInt(lo)), b = BigInt.asUintN(64, BigInt(hi) - 1n);
  if (BigInt(lo) < 0n && BigInt(hi) - 1n >= 0n) return all;
  const x = a ^ b;
  const bits = x === 0n ? 0 : x.toString(2).length;
  return all.slice(0, Math.min(KEY_DIGITS, Math.ceil(bits / 5)));
}

function rangeWhere(keyCols, lo, hi) {
  const keys = keyCols.map((k) => `_t.${qid(k)}`);
  const kv = keys.length === 1 ? keys[0] : `(${keys.join(',')})`;
  const where = [];
  if (lo !== undefined) where.push(`${kv}>=${lo}`);
  if (hi !== undefined) where.push(`${kv}<${hi}`);
  return where;
}

// One statement: count(*), F1, F2 for keys in [lo, hi) (lo/hi: SQL literals, undefined for an
// open end; several key columns compare as a row value). `integerKey`: the single key column
// is the rowid / INTEGER PRIMARY KEY and lo/hi are integers.
export function rangeQuery(table, keyCols, lo, hi, columns, prm, { integerKey = false } = {}) {
  const digits = integerKey ? varyingDigits(lo, hi) : [...Array(KEY_DIGITS).keys()];
  const [t1, t2] = prm.tables;
  return `SELECT count(*) AS n,ifnull(sum(${zExpr('_k', t1, digits)}*_e1%${t1.p})%${t1.p},0) AS f1,` +
    `ifnull(sum(${zExpr('_k', t2, digits)}*_e2%${t2.p})%${t2.p},0) AS f2 ` +
    `FROM (${rowPipeline(table, keyCols, columns, prm, { where: rangeWhere(keyCols, lo, hi), integerKey })})`;
}

// Per-row listing for a small range (the last step of a narrowing): key and E as text.
export function rowsQuery(table, keyCols, lo, hi, columns, prm, { integerKey = false } = {}) {
  return `SELECT _k AS k,CAST(_e1<<31|_e2 AS TEXT) AS e FROM (${rowPipeline(table, keyCols, columns, prm, { where: rangeWhere(keyCols, lo, hi), integerKey })})`;
}

// ---------- runnable check: node bench/fingerprint/fingerprint.mjs ----------
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  // Not awaited: check.mjs imports this module, which must finish evaluating first.
  import('./check.mjs').then((m) => m.main()).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
