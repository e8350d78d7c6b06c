// What the benchmark's contenders share, inside workerd (bench/worker.js) and in Node
// (bench/run.mjs, the sqlite-wasm runs): the table, the upsert form, the pre-built "limit"
// batches, and a source/target wrapper that splits the time between engine, local SQL and D1.
export const COLUMNS = ['id', 'name', 'price', 'data', 'note'];
export const TABLE_DDL = (t) =>
  `CREATE TABLE ${t}(id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB, note TEXT)`;
// name ~100 bytes, price REAL, data 64-byte BLOB, note NULL in 10% of rows.
export const SEED_SQL = (t, rows) =>
  `WITH RECURSIVE s(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM s WHERE i < ${rows})
   INSERT INTO ${t} SELECT i, 'item ' || printf('%08d', i) || ' ' || lower(hex(randomblob(43))),
     i * 0.25 + 0.01, randomblob(64),
     CASE WHEN i % 10 = 0 THEN NULL ELSE 'note ' || i END FROM s`;
// The scale section's narrow table (bench/scale.mjs): an integer key and one integer, ids
// from..to inserted by one statement (a recursive CTE, streamed: SQLite keeps one row of it).
export const NARROW_DDL =
  'CREATE TABLE IF NOT EXISTS narrow(id INTEGER PRIMARY KEY, v INTEGER NOT NULL)';
export const NARROW_SEED_SQL =
  'WITH RECURSIVE s(i) AS (VALUES(?1) UNION ALL SELECT i+1 FROM s WHERE i < ?2) ' +
  'INSERT INTO narrow(id, v) SELECT i, (i * 7919) % 1000003 FROM s';
export const UPSERT_TAIL =
  ' ON CONFLICT(id) DO UPDATE SET name=excluded.name, price=excluded.price, ' +
  'data=excluded.data, note=excluded.note';
const LITERAL_MAX_ROWS = 700; // (c1) rows per literal VALUES statement ...
const LITERAL_MAX_BYTES = 100000; // ... within D1's 100 KB SQL limit
const LITERAL_STATEMENTS_PER_BATCH = 50; // (c1) statements per batch() call
const JSON_ROWS = 5000; // (c2) rows per json_each statement
const JSON_STATEMENTS_PER_BATCH = 10; // (c2) statements per batch() call

export function hexOf(value) {
  const bytes =
    value instanceof ArrayBuffer
      ? new Uint8Array(value)
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  let hex = '';
  for (let i = 0; i < bytes.length; ++i) hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return hex;
}

function sqlText(s) {
  return `'${s.replaceAll("'", "''")}'`;
}

function literalRow(r) {
  const [id, name, price, data, note] = r;
  return (
    `(${id},${sqlText(name)},${Number.isInteger(price) ? price.toFixed(1) : String(price)},` +
    `X'${hexOf(data)}',${note === null ? 'NULL' : sqlText(note)})`
  );
}

function inBatches(statements, per) {
  const batches = [];
  for (let i = 0; i < statements.length; i += per) batches.push(statements.slice(i, i + per));
  return batches;
}

// (c1) multi-row literal VALUES upserts: up to LITERAL_MAX_ROWS rows and LITERAL_MAX_BYTES of
// SQL per statement, LITERAL_STATEMENTS_PER_BATCH statements per batch() call.
export function literalBatches(table, rows) {
  const head = `INSERT INTO ${table}(${COLUMNS.join(',')}) VALUES `;
  const statements = [];
  let parts = [];
  let bytes = head.length + UPSERT_TAIL.length;
  const close = () => {
    if (parts.length) statements.push(head + parts.join(',') + UPSERT_TAIL);
    parts = [];
    bytes = head.length + UPSERT_TAIL.length;
  };
  for (const r of rows) {
    const lit = literalRow(r);
    if (parts.length >= LITERAL_MAX_ROWS || bytes + lit.length + 1 > LITERAL_MAX_BYTES) close();
    parts.push(lit);
    bytes += lit.length + 1;
  }
  close();
  return inBatches(statements, LITERAL_STATEMENTS_PER_BATCH);
}

// (c2) one JSON-array string parameter per statement into INSERT ... SELECT ... FROM json_each.
export function jsonBatches(table, rows) {
  const sql =
    `INSERT INTO ${table}(${COLUMNS.join(',')}) ` +
    'SELECT value->>0, value->>1, value->>2, unhex(value->>3), value->>4 FROM json_each(?1) WHERE true' +
    UPSERT_TAIL;
  const statements = [];
  for (let i = 0; i < rows.length; i += JSON_ROWS) {
    const chunk = rows
      .slice(i, i + JSON_ROWS)
      .map(([id, name, price, data, note]) => [id, name, price, hexOf(data), note]);
    statements.push({ sql, param: JSON.stringify(chunk) });
  }
  return inBatches(statements, JSON_STATEMENTS_PER_BATCH);
}

// Applies pre-built batches; returns { ms, batchCalls, statements }.
export async function applyBatches(db, batches) {
  let statements = 0;
  const t = performance.now();
  for (const b of batches) {
    await db.batch(
      b.map((s) => (typeof s === 'string' ? db.prepare(s) : db.prepare(s.sql).bind(s.param))),
    );
    statements += b.length;
  }
  return { ms: performance.now() - t, batchCalls: batches.length, statements };
}

// Source and target wrapped to split the time: engine calls run inside source.transaction()
// (engine.next / engine.complete), whose local SQL goes through source.exec(); D1 round trips
// go through target.batch(). With `meter`, each answered batch's D1 row counts are kept in
// meter.batches: { statements, rowsRead, rowsWritten, fenceRead, fenceWritten }, the fence's
// being those of the statements on d1sync's own tables (`_d1sync_…` in the first 300 bytes: the
// guard, the watermark, the schema bookkeeping).
export function timed(source, target, { meter = false } = {}) {
  const stats = { txnMs: 0, execMs: 0, batchMs: 0, txns: 0, execs: 0, batches: 0 };
  const metered = meter ? { batches: [] } : null;
  const wsource = {
    kind: source.kind,
    exec(sql) {
      const t = performance.now();
      try {
        return source.exec(sql);
      } finally {
        stats.execMs += performance.now() - t;
        ++stats.execs;
      }
    },
    transaction(fn) {
      const t = performance.now();
      try {
        return source.transaction(fn);
      } finally {
        stats.txnMs += performance.now() - t;
        ++stats.txns;
      }
    },
  };
  const wtarget = {
    kind: target.kind,
    async batch(statements) {
      const t = performance.now();
      try {
        const results = await target.batch(statements);
        if (metered) metered.batches.push(meterBatch(statements, results));
        return results;
      } finally {
        stats.batchMs += performance.now() - t;
        ++stats.batches;
      }
    },
  };
  return { stats, meter: metered, source: wsource, target: wtarget };
}

function meterBatch(statements, results) {
  const m = {
    statements: statements.length,
    rowsRead: 0,
    rowsWritten: 0,
    fenceRead: 0,
    fenceWritten: 0,
  };
  results.forEach((r, i) => {
    m.rowsRead += r.rowsRead ?? 0;
    m.rowsWritten += r.rowsWritten ?? 0;
    if (statements[i].slice(0, 300).includes('_d1sync_')) {
      m.fenceRead += r.rowsRead ?? 0;
      m.fenceWritten += r.rowsWritten ?? 0;
    }
  });
  return m;
}

// An error as a bench Worker answers it (JSON: name, code, message, stack).
export function errorJson(e) {
  return { name: e?.name, code: e?.code, message: String(e?.message ?? e), stack: e?.stack };
}
