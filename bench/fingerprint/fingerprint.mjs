// Key-range fingerprints computed in SQL that SQLite 3.40 (Debian), local D1 (workerd, 3.47) and
// @sqlite.org/sqlite-wasm 3.54 evaluate to the same integers. Design and numbers: NOTES.md.
//
//   row    -> D: a prefix-free digit string (per column: type tag, length, content; REALs as
//              sign, 53-bit mantissa and exponent; text/blob bytes as hex, then hex digits
//              re-coded into decimal digits 0-8 -> 0-8, 9..F -> 90..96)
//   D      -> E_m = sum over 9-digit chunks of ('1'||chunk) * S_m[i] * (block weight), plus,
//              for values over L bytes, column * piece weights times the same fold of each
//              18,432-byte piece; all mod p_m, m = 1, 2 (p1 = 2^31-1, p2 = 2^31-19)
//   range  -> count(*), F_m = sum over rows of Z_m(key) * E_m mod p_m, Z_m = product of one
//              random constant per base-32 digit of the key (or of a 62-bit hash of the key)
// Every table entry (S, G, U, W, T) is an independent random constant in [1, p): fresh per
// verification. Loops (long rows, long values) run over a VALUES list, which D1 does not count
// as rows read (recursive CTEs, json_each, window functions and materialized tables are counted).
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const P = [2147483647, 2147483629];
export const DEFAULTS = { K: 32, L: 1024, signedZero: true };
const FAN = 256; // loop indexes 0..255: blocks of a digit string, pieces of a long value
const CAP_DIGITS = (K) => 9 * K * FAN; // digits one foldAll covers (K = 32: 73,728)
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
export function makeParams({
  columns,
  seed,
  K = DEFAULTS.K,
  L,
  signedZero = DEFAULTS.signedZero,
} = {}) {
  // Inline at most L bytes per value so a row's digit string always fits one foldAll:
  // columns * (12 + 4L) <= 9K * 256 (a text/blob costs at most 12 + 4 digits per byte).
  L ??= Math.min(DEFAULTS.L, Math.floor((CAP_DIGITS(K) / columns - 12) / 4));
  const next = rng(seed);
  const draw = (p) => Number(next() % BigInt(p - 1)) + 1;
  const tables = P.map((p) => ({
    p,
    S: Array.from({ length: K }, () => draw(p)), // chunk position in a block
    G0: Array.from({ length: 16 }, () => draw(p)), // block index, low hex digit
    G1: Array.from({ length: 16 }, () => draw(p)), // block index, high hex digit
    U: Array.from({ length: columns }, () => draw(p)), // which long column
    W0: Array.from({ length: 16 }, () => draw(p)), // piece index of a long value, low digit
    W1: Array.from({ length: 16 }, () => draw(p)), // high digit
    T: Array.from({ length: KEY_DIGITS }, () => Array.from({ length: 32 }, () => draw(p))),
  }));
  // An independent set for hashing non-integer keys into the 62 bits that pick Z.
  const keyTables = P.map((p) => ({
    p,
    S: Array.from({ length: K }, () => draw(p)),
    G0: Array.from({ length: 16 }, () => draw(p)),
    G1: Array.from({ length: 16 }, () => draw(p)),
  }));
  return { K, L, signedZero, tables, keyTables };
}

// ---------- SQL pieces ----------
export const qid = (name) => '"' + String(name).replace(/"/g, '""') + '"';
// The loop indexes, written once per statement as a CTE; VALUES rows are not rows read in D1.
export const WITH = `WITH _n(i) AS NOT MATERIALIZED (SELECT column1 FROM (VALUES ${Array.from({ length: FAN }, (_, i) => `(${i})`).join(',')})) `;
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
// one off near powers of two: k is corrected by exact comparisons with pow(2, k). Below 2^-971
// the scaling is done in two exact steps (2^(52-k) would overflow).
function realEnc(v, signedZero) {
  const zero = signedZero ? `iif(atan2(${v},-1)<0,'6','5')` : `'5'`;
  return (
    `(SELECT CASE WHEN a=0 THEN ${zero} WHEN a=9e999 THEN iif(${v}>0,'90','91') ` +
    `ELSE printf('%d%d%04d',3+(${v}<0),iif(k<-971,a*pow(2,600)*pow(2,-548-k),a*pow(2,52-k)),k+1100) END ` +
    `FROM (SELECT a,k-(pow(2,k)>a)+(k<1023 AND pow(2,k+1)<=a) AS k FROM (SELECT abs(${v}) AS a,floor(log2(abs(${v}))) AS k)))`
  );
}

// One value as a prefix-free digit string. Tags: 0 NULL, 1/2 integer >=0/<0 (2-digit digit
// count, digits), 3/4 REAL >0/<0, 5/6 +0.0/-0.0, 90/91 +-Inf, 7 text, 8 blob (7-digit byte
// length, then the re-coded hex when at most L bytes; longer values are folded in pieces).
export function valueEnc(v, { L, signedZero }) {
  return (
    `CASE typeof(${v}) WHEN 'integer' THEN printf('%d%02d%s',1+(${v}<0),length(${v})-(${v}<0),substr(${v},1+(${v}<0))) ` +
    `WHEN 'real' THEN ${realEnc(v, signedZero)} WHEN 'null' THEN '0' ` +
    `ELSE printf('%d%07d%s',7+(typeof(${v})='blob'),length(CAST(${v} AS BLOB)),iif(length(CAST(${v} AS BLOB))>${L},'',${codeHex(`hex(${v})`)})) END`
  );
}

// A sum / a product mod p as a balanced tree: SQLite limits expression depth (100 in D1),
// and a chain a+b+c+... is as deep as it is long.
const balSum = (xs) =>
  xs.length === 1
    ? xs[0]
    : `(${balSum(xs.slice(0, xs.length >> 1))}+${balSum(xs.slice(xs.length >> 1))})`;
const balProd = (xs, p) =>
  xs.length === 1
    ? xs[0]
    : `(${balProd(xs.slice(0, xs.length >> 1), p)}*${balProd(xs.slice(xs.length >> 1), p)}%${p})`;

// Fold of the K chunks of block `o` (o: an SQL offset in digits) of the BLOB digit string x.
// Flat on purpose: SQLite 3.40's parser stack (100 entries) overflows at ~32 nested calls.
export function foldBlock(x, o, t, K) {
  const terms = [];
  for (let i = 0; i < K; i++) terms.push(`('1'||substr(${x},${o}${9 * i + 1},9))*${t.S[i]}%${t.p}`);
  return `(${balSum(terms)}%${t.p})`;
}

// Fold of a whole BLOB digit string x (at most 256 blocks of 9K digits): block 0 inline with
// weight 1, blocks 1..255 in one loop over _n with weight G1[b>>4]*G0[b&15].
// Each loop is `(SELECT sum(_f)%p FROM (SELECT <deep expression> AS _f FROM ...))`: SQLite
// counts a scalar subquery's result expressions into the enclosing expression's height (D1's
// limit is 100) but not the columns of a FROM subquery.
export function foldAll(x, t, K) {
  const span = 9 * K;
  const loop =
    `(SELECT sum(_f)%${t.p} FROM (SELECT ${lookup(t.G1, '_b>>4')}*${lookup(t.G0, '_b&15')}%${t.p}*${foldBlock(x, '_o+', t, K)}%${t.p} AS _f ` +
    `FROM (SELECT i AS _b,${span}*i AS _o FROM _n WHERE i BETWEEN 1 AND (length(${x})-1)/${span})))`;
  return `${foldBlock(x, '', t, K)}+iif(length(${x})>${span},${loop},0)`;
}

// Values over L bytes: sum over such columns c and pieces j (of 9K*256/4 bytes, K = 32: 18,432,
// so a piece's digits fit one foldAll) of U[c]*W1[j>>4]*W0[j&15]*foldAll(piece).
export function longPart(cols, prm) {
  const { K } = prm;
  const sp = CAP_DIGITS(K) / 4;
  const pick = `CASE column1 ${cols.map((c, i) => `WHEN ${i} THEN ${c}`).join(' ')} END`;
  const pieces = (t) =>
    `(SELECT sum(_f)%${t.p} FROM (SELECT ${lookup(t.W1, '_j>>4')}*${lookup(t.W0, '_j&15')}%${t.p}*((${foldAll('_x', t, K)})%${t.p})%${t.p} AS _f FROM ` +
    `(SELECT i AS _j,CAST(${codeHex(`hex(substr(CAST(_v AS BLOB),${sp}*i+1,${sp}))`)} AS BLOB) AS _x FROM _n ` +
    `WHERE ${sp}*i<length(CAST(_v AS BLOB)) LIMIT ${FAN})))`;
  const [t1, t2] = prm.tables;
  return (
    `(SELECT ifnull(sum(_f1)%${t1.p},0)<<31|ifnull(sum(_f2)%${t2.p},0) FROM ` +
    `(SELECT ${lookup(t1.U, '_c')}*${pieces(t1)}%${t1.p} AS _f1,${lookup(t2.U, '_c')}*${pieces(t2)}%${t2.p} AS _f2 FROM ` +
    `(SELECT column1 AS _c,${pick} AS _v FROM (VALUES ${cols.map((_, i) => `(${i})`).join(',')}) LIMIT ${cols.length}) ` +
    `WHERE typeof(_v) IN ('text','blob') AND length(CAST(_v AS BLOB))>${prm.L}))`
  );
}

const anyLong = (cols, L) =>
  `max(${[...cols, "''"].map((c) => `ifnull(length(CAST(${c} AS BLOB)),0)`).join(',')})>${L}`;
const digitsOf = (cols, prm) =>
  `CAST(printf('${'%s'.repeat(cols.length)}',${cols.map((c) => valueEnc(c, prm)).join(',')}) AS BLOB)`;

// The per-row pipeline, as a subquery with columns _k (key or 62-bit key hash), _e1, _e2
// (E mod p1, E mod p2). Three levels of FROM-subqueries, each with LIMIT so SQLite does not
// flatten them (flattening would copy _d's expression into each of its 2K uses).
//   A: the table scan: key, digit string _d, the long-value part _l = L1<<31|L2 (only when a
//      value is over L bytes)
//   B: folds of _d (and of the key's digit string for non-integer keys)
export function rowPipeline(table, keyCols, columns, prm, { where = [], integerKey = false } = {}) {
  const a = '_t';
  const cols = columns.map((c) => `${a}.${qid(c.name ?? c)}`);
  const keys = keyCols.map((k) => `${a}.${qid(k)}`);
  const [t1, t2] = prm.tables;
  // A non-integer key is hashed whole up to the digit capacity (about 18 KB for one column).
  const keyPrm = { ...prm, L: Math.floor((CAP_DIGITS(prm.K) / keys.length - 12) / 4) };
  const levelA =
    `SELECT ${integerKey ? keys[0] : digitsOf(keys, keyPrm)} AS _k0,${digitsOf(cols, prm)} AS _d,` +
    `iif(${anyLong(cols, prm.L)},${longPart(cols, prm)},0) AS _l ` +
    `FROM ${qid(table)} AS ${a}${where.length ? ' WHERE ' + where.join(' AND ') : ''} LIMIT -1`;
  const [k1, k2] = prm.keyTables;
  const key = integerKey
    ? '_k0'
    : `((${foldAll('_k0', k1, prm.K)})%${k1.p})<<31|((${foldAll('_k0', k2, prm.K)})%${k2.p})`;
  return (
    `SELECT ${key} AS _k,(${foldAll('_d', t1, prm.K)}+(_l>>31))%${t1.p} AS _e1,(${foldAll('_d', t2, prm.K)}+(_l&2147483647))%${t2.p} AS _e2 ` +
    `FROM (${levelA}) LIMIT -1`
  );
}

// Per-row fingerprint E = E1<<31 | E2 of the row `alias` as one (correlated) SQL expression;
// the statement must start with WITH (the loop indexes). The range queries use rowPipeline
// instead, which is the same computation laid out as FROM-subqueries.
export function rowFingerprintExpr(columns, prm, alias = '_t') {
  const cols = columns.map((c) => `${alias}.${qid(c.name ?? c)}`);
  const [t1, t2] = prm.tables;
  return (
    `(SELECT (${foldAll('_d', t1, prm.K)}+(_l>>31))%${t1.p}<<31|(${foldAll('_d', t2, prm.K)}+(_l&2147483647))%${t2.p} ` +
    `FROM (SELECT ${digitsOf(cols, prm)} AS _d,iif(${anyLong(cols, prm.L)},${longPart(cols, prm)},0) AS _l LIMIT 1))`
  );
}

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
  const a = BigInt.asUintN(64, BigInt(lo)),
    b = BigInt.asUintN(64, BigInt(hi) - 1n);
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
export function rangeQuery(
  table,
  keyCols,
  lo,
  hi,
  columns,
  prm,
  { integerKey = false, keyWeight = true } = {},
) {
  // keyWeight: false drops Z (for NOTES.md: then a swap of values between two rows cancels).
  const digits = !keyWeight
    ? []
    : integerKey
      ? varyingDigits(lo, hi)
      : [...Array(KEY_DIGITS).keys()];
  const [t1, t2] = prm.tables;
  return (
    `${WITH}SELECT count(*) AS n,ifnull(sum(${zExpr('_k', t1, digits)}*_e1%${t1.p})%${t1.p},0) AS f1,` +
    `ifnull(sum(${zExpr('_k', t2, digits)}*_e2%${t2.p})%${t2.p},0) AS f2 ` +
    `FROM (${rowPipeline(table, keyCols, columns, prm, { where: rangeWhere(keyCols, lo, hi), integerKey })})`
  );
}

// Per-row listing for a small range (the last step of a narrowing): key and E as text.
export function rowsQuery(table, keyCols, lo, hi, columns, prm, { integerKey = false } = {}) {
  return `${WITH}SELECT _k AS k,CAST(_e1<<31|_e2 AS TEXT) AS e FROM (${rowPipeline(table, keyCols, columns, prm, { where: rangeWhere(keyCols, lo, hi), integerKey })})`;
}

// ---------- runnable check: node bench/fingerprint/fingerprint.mjs ----------
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  // Not awaited: check.mjs imports this module, which must finish evaluating first.
  import('./check.mjs')
    .then((m) => m.main())
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
