// Where the engine writes. A target is { kind, batch(statements) -> Promise<results> }, results
// being one { columns, cells, rowsRead, rowsWritten } per statement (the row counts are what the
// database reports reading and writing for the statement; a target that does not know them
// leaves them out); it rejects with the database's error.
import { D1SyncError } from './errors.js';
import { encodeRows } from './cells.js';

// A D1 binding: env.DB in a Worker, or Miniflare's getD1Database(). Every statement is SQL
// text without bound values (values travel as exact literals), applied in one atomic batch().
// A plain binding reads from the primary, which the fencing protocol requires. The row counts
// are D1's own, from each result's meta (rows_read, rows_written).
export function d1BindingTarget(db) {
  if (!db || typeof db.prepare !== 'function' || typeof db.batch !== 'function') {
    throw new D1SyncError(
      'CONFIG',
      'd1BindingTarget() needs a D1 binding (env.DB): an object with prepare() and batch()',
    );
  }
  return {
    kind: 'd1-binding',
    async batch(statements) {
      const results = await db.batch(statements.map((sql) => db.prepare(sql)));
      return results.map((r) => {
        const rows = Array.isArray(r?.results) ? r.results : [];
        const columns = rows.length ? Object.keys(rows[0]).length : 0;
        return {
          columns,
          cells: encodeRows(rows.map((row) => Object.values(row))),
          rowsRead: rowCount(r?.meta?.rows_read),
          rowsWritten: rowCount(r?.meta?.rows_written),
        };
      });
    },
  };
}

// A count from D1's meta, or 0 when D1 did not report one.
function rowCount(n) {
  return Number.isFinite(n) && n >= 0 ? n : 0;
}
