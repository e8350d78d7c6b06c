// Local databases the engine reads from. A source is { kind, exec(sql), transaction(fn) }:
// exec runs SQL synchronously and returns { ok, error, columns, cells } (cells.js format);
// transaction(fn) runs fn atomically and returns its result.
import { D1SyncError, messageOf } from './errors.js';
import { encodeRows } from './cells.js';

function failure(error) {
  return { ok: false, error: messageOf(error), columns: 0, cells: '' };
}

// A SQLite-backed Durable Object's storage (ctx.storage). Everything is synchronous: the
// engine's reads and writes inside one transactionSync form one snapshot.
export function durableObjectSource(storage) {
  if (
    !storage ||
    !storage.sql ||
    typeof storage.sql.exec !== 'function' ||
    typeof storage.transactionSync !== 'function'
  ) {
    throw new D1SyncError(
      'CONFIG',
      'durableObjectSource() needs ctx.storage of a SQLite-backed Durable Object ' +
        '(new_sqlite_classes migration): storage.sql.exec and storage.transactionSync are missing',
    );
  }
  return {
    kind: 'durable-object',
    exec(sql) {
      try {
        const cursor = storage.sql.exec(sql);
        const cells = encodeRows(cursor.raw());
        return { ok: true, error: '', columns: cursor.columnNames.length, cells };
      } catch (e) {
        return failure(e);
      }
    },
    transaction(fn) {
      return storage.transactionSync(fn);
    },
  };
}

// An @sqlite.org/sqlite-wasm oo1.DB (browser or Node).
export function sqliteWasmSource(db) {
  if (!db || typeof db.exec !== 'function' || typeof db.savepoint !== 'function') {
    throw new D1SyncError('CONFIG', 'sqliteWasmSource() needs an @sqlite.org/sqlite-wasm oo1.DB');
  }
  return {
    kind: 'sqlite-wasm',
    exec(sql) {
      try {
        const rows = [];
        const columnNames = [];
        db.exec({ sql, rowMode: 'array', resultRows: rows, columnNames });
        return { ok: true, error: '', columns: columnNames.length, cells: encodeRows(rows) };
      } catch (e) {
        return failure(e);
      }
    },
    transaction(fn) {
      // A savepoint works whether or not the application holds a transaction open.
      return db.savepoint(() => fn());
    },
  };
}
