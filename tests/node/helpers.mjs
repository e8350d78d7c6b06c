// Shared setup for the node:test suite: one Miniflare (real local D1) per test file with a pool
// of fresh D1 databases, sqlite-wasm local databases, and a row-for-row comparison of a local
// table with its D1 replica.
import { Miniflare } from 'miniflare';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import {
  createReplicator,
  sqliteWasmSource,
  d1BindingTarget,
  httpTarget,
} from '../../js/entry-node.js';

export { createReplicator, sqliteWasmSource, d1BindingTarget, httpTarget };
export { D1SyncError } from '../../js/entry-node.js';

let sqlite3Promise = null;
export function sqlite3() {
  sqlite3Promise ??= sqlite3InitModule();
  return sqlite3Promise;
}

// A fresh in-memory sqlite-wasm database.
export async function openLocal() {
  const s = await sqlite3();
  return new s.oo1.DB(':memory:', 'c');
}

// One Miniflare per file; `fresh()` hands out a D1 database no test used before.
export async function startD1(count = 40) {
  const names = Array.from({ length: count }, (_, i) => `DB${i}`);
  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response("x") } }',
    d1Databases: names,
    compatibilityDate: '2026-04-26',
  });
  await mf.ready;
  let next = 0;
  return {
    mf,
    async fresh() {
      if (next >= names.length) throw new Error('helpers: out of fresh D1 databases; raise count');
      return mf.getD1Database(names[next++]);
    },
    async dispose() {
      await mf.dispose();
    },
  };
}

// A target that records every batch it forwards (arrays of SQL strings), and can be told to
// fail: `failNext(message, {afterCommit, when})` makes the next batch (the next one `when`
// accepts) throw `message`, before or after D1 applied it (a lost answer).
export function recordingTarget(d1) {
  const real = d1BindingTarget(d1);
  const faults = [];
  const t = {
    batches: [],
    lost: [], // batches D1 applied whose answer was lost
    failed: [], // batches refused before reaching D1
    failNext(message, { afterCommit = false, when = () => true } = {}) {
      faults.push({ message, afterCommit, when });
    },
    pendingFaults: () => faults.length,
    async batch(statements) {
      const i = faults.findIndex((f) => f.when(statements));
      const fault = i >= 0 ? faults.splice(i, 1)[0] : undefined;
      if (fault && !fault.afterCommit) {
        t.failed.push(statements);
        throw new Error(fault.message);
      }
      const result = await real.batch(statements);
      t.batches.push(statements);
      if (fault) {
        t.lost.push(statements);
        throw new Error(fault.message);
      }
      return result;
    },
  };
  return t;
}

// Runs SQL on the local database (several statements allowed).
export function run(db, sql, bind) {
  db.exec(bind === undefined ? sql : { sql, bind });
}

export function localRows(db, sql, bind) {
  const rows = [];
  db.exec({ sql, bind, rowMode: 'array', resultRows: rows });
  return rows;
}

// Outbox rows waiting for D1: the newest applied row stays behind as the high-water mark.
export const PENDING_OUTBOX =
  'SELECT count(*) FROM _d1sync_log WHERE seq > ' +
  "coalesce((SELECT json_extract(doc, '$.appliedSeq') FROM _d1sync_state WHERE id = 1), 0)";

export function localValue(db, sql, bind) {
  const r = localRows(db, sql, bind);
  return r.length ? r[0][0] : undefined;
}

export async function d1Rows(d1, sql) {
  return d1.prepare(sql).raw();
}

export async function d1Value(d1, sql) {
  const r = await d1Rows(d1, sql);
  return r.length ? r[0][0] : undefined;
}

export async function d1HasTable(d1, name) {
  const n = await d1Value(
    d1,
    `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ${quoteText(name)}`,
  );
  return n > 0;
}

export function quoteIdent(name) {
  return `"${String(name).replaceAll('"', '""')}"`;
}

export function quoteText(s) {
  return `'${String(s).replaceAll("'", "''")}'`;
}

// `WITH RECURSIVE n(i) ...` over from..to, for bulk inserts.
export function seq(from, to) {
  return `WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i+1 FROM n WHERE i<${to}) `;
}

// How one value is compared: storage class, then exact bytes (hex) for INTEGER, TEXT and BLOB,
// the double itself for REAL (the text forms of REALs differ between SQLite versions). Infinity
// is named, since D1's answers travel as JSON. D1 refuses strings over ~2 MB ("string or blob
// too big"), so the hex of values near 2 MB comes in three pieces of up to 700,000 bytes.
const PIECE = 700000;
function cellExprs(col) {
  const q = quoteIdent(col);
  const piece = (k) =>
    `CASE WHEN typeof(${q}) IN ('text', 'blob') AND ` +
    `length(CAST(${q} AS BLOB)) > ${k * PIECE} THEN hex(substr(CAST(${q} AS BLOB), ` +
    `${k * PIECE + 1}, ${PIECE})) END`;
  return [
    `typeof(${q})`,
    `CASE typeof(${q}) WHEN 'real' THEN (CASE WHEN ${q} = 9e999 THEN 'inf' ` +
      `WHEN ${q} = -9e999 THEN '-inf' ELSE ${q} END) WHEN 'integer' THEN hex(${q}) ` +
      `ELSE hex(substr(CAST(${q} AS BLOB), 1, ${PIECE})) END`,
    piece(1),
    piece(2),
  ];
}
const PER_COLUMN = 4;

function clip(v) {
  const s = typeof v === 'string' ? v : String(v);
  return s.length > 120 ? `${s.slice(0, 120)}...(${s.length} chars)` : s;
}

// Compares a local table with its D1 replica row for row. Options:
//   rowid: the table is keyed by rowid (default: when it has no declared primary key); D1 holds
//          the rowid in a column named `rowid` (or `rowidColumn`)
//   tenant: { column, value } restricts D1 to that tenant's rows
//   columns: the columns to compare (default: the local table's, generated ones excluded)
// Returns { diff, rows }: diff is '' when equal, else a description of the first difference.
// D1 allows 100 result columns, so wide tables are compared in groups of columns.
// Values over 2,100,000 bytes are compared on their first 2,100,000 bytes only.
export async function compareTable(db, d1, table, opts = {}) {
  const info = localRows(db, `SELECT name, pk FROM pragma_table_info(${quoteText(table)})`);
  if (!info.length) return { diff: `no local table ${table}`, rows: 0 };
  const columns = opts.columns ?? info.map((r) => r[0]);
  const pk = info
    .filter((r) => r[1] > 0)
    .sort((a, b) => a[1] - b[1])
    .map((r) => r[0]);
  const byRowid = opts.rowid ?? pk.length === 0;
  const rowidColumn = opts.rowidColumn ?? 'rowid';
  const order = byRowid ? null : pk.map(quoteIdent).join(', ');
  const where = opts.tenant
    ? ` WHERE ${quoteIdent(opts.tenant.column)} = ${
        typeof opts.tenant.value === 'number' ? opts.tenant.value : quoteText(opts.tenant.value)
      }`
    : '';
  let rows = 0;
  const width = Math.floor(96 / PER_COLUMN);
  for (let from = 0; from < columns.length; from += width) {
    const group = columns.slice(from, from + width);
    const exprs = group.flatMap(cellExprs);
    const localSql =
      `SELECT ${byRowid ? 'hex(_rowid_), ' : ''}${exprs.join(', ')} FROM ` +
      `${quoteIdent(table)} ORDER BY ${byRowid ? '_rowid_' : order}`;
    const d1Sql =
      `SELECT ${byRowid ? `hex(${quoteIdent(rowidColumn)}), ` : ''}` +
      `${exprs.join(', ')} FROM ${quoteIdent(table)}${where} ORDER BY ` +
      `${byRowid ? quoteIdent(rowidColumn) : order}`;
    const a = localRows(db, localSql);
    rows = a.length;
    let b;
    try {
      b = await d1Rows(d1, d1Sql);
    } catch (e) {
      return { diff: `${table}: D1 refused the comparison query: ${clip(e.message)}`, rows };
    }
    const names = [
      ...(byRowid ? ['rowid'] : []),
      ...group.flatMap((c) => [
        `typeof(${c})`,
        c,
        `${c} (bytes 700,001..)`,
        `${c} (bytes 1,400,001..)`,
      ]),
    ];
    const n = Math.min(a.length, b.length);
    for (let r = 0; r < n; ++r) {
      for (let c = 0; c < a[r].length; ++c) {
        let x = a[r][c];
        const y = b[r][c];
        if (typeof x === 'bigint') x = Number(x);
        if (x === y) continue;
        return {
          diff:
            `${table}: row ${r} (${byRowid ? `rowid hex ${a[r][0]}` : 'in key order'}), ` +
            `${names[c]}: local ${clip(x)}, D1 ${clip(y)}`,
          rows,
        };
      }
    }
    if (a.length !== b.length) {
      return { diff: `${table}: local has ${a.length} rows, D1 has ${b.length}`, rows };
    }
  }
  return { diff: '', rows };
}

// Asserts equality of a table; returns its row count.
export async function expectSame(assert, db, d1, table, opts) {
  const { diff, rows } = await compareTable(db, d1, table, opts);
  assert.equal(diff, '', diff);
  return rows;
}

// A replicator over a sqlite-wasm database and a D1 (or a target), with options merged in.
export async function replicator(db, target, options = {}) {
  const t = typeof target?.prepare === 'function' ? d1BindingTarget(target) : target;
  return createReplicator({
    source: sqliteWasmSource(db),
    target: t,
    sourceId: 'src-1',
    ...options,
  });
}

// start() + flush(), and the health afterwards.
export async function sync(r) {
  await r.start();
  await r.flush();
  return r.health();
}
