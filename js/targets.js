// Where the engine writes. A target is { kind, batch(statements) -> Promise<results> }, results
// being one { columns, cells } per statement; it rejects with the database's error.
import { D1SyncError } from './errors.js';
import { encodeRows } from './cells.js';

// A D1 binding: env.DB in a Worker, or Miniflare's getD1Database(). Every statement is SQL
// text without bound values (values travel as exact literals), applied in one atomic batch().
// A plain binding reads from the primary, which the fencing protocol requires.
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
        return { columns, cells: encodeRows(rows.map((row) => Object.values(row))) };
      });
    },
  };
}
