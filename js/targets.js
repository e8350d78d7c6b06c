// Where the engine writes. A target is { kind, batch(statements) -> Promise<results> }, results
// being one { columns, cells, rowsRead, rowsWritten } per statement (the row counts are what the
// database reports reading and writing for the statement; a target that does not know them
// leaves them out); it rejects with the database's error.
import { D1SyncError, messageOf } from './errors.js';
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

// A sync endpoint (createSyncEndpoint in a Worker) reached over fetch(): for a source with no D1
// binding, such as a browser tab. What crosses is data (sync_protocol.hpp): the engine's claim,
// takeover and probe as JSON, its batches as changesets; the endpoint applies them to D1 with
// its own schema and tenant. `getToken({ refresh })` supplies the bearer token; after a 401 it
// is asked once for a fresh one (refresh: true) and the request is sent again.
export function httpTarget(url, { getToken, fetch: fetchFn, headers } = {}) {
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw new D1SyncError('CONFIG', 'httpTarget() needs the sync endpoint URL (a string or URL)');
  }
  if (getToken !== undefined && typeof getToken !== 'function') {
    throw new D1SyncError('CONFIG', 'httpTarget(): getToken must be a function returning a token');
  }
  const send = fetchFn ?? globalThis.fetch?.bind(globalThis);
  if (typeof send !== 'function') {
    throw new D1SyncError('CONFIG', 'httpTarget(): no fetch() here; pass one as { fetch }');
  }
  const base = String(url).replace(/\/+$/, '');
  let token;
  const post = async (op, body, refresh) => {
    if (getToken && (token === undefined || refresh)) token = await getToken({ refresh });
    const h = new Headers(headers ?? {});
    h.set('content-type', op === 'apply' ? CHANGESET_TYPE : 'application/json');
    if (token) h.set('authorization', `Bearer ${token}`);
    return send(`${base}/${op}`, { method: 'POST', headers: h, body });
  };
  return {
    kind: 'http',
    url: base,
    // -> { status, body, retryAfterMs }; status 0 when no answer came (the body says why).
    async send(op, body) {
      try {
        let res = await post(op, body, false);
        if (res.status === 401 && getToken) {
          await res.body?.cancel();
          res = await post(op, body, true);
        }
        const text = await res.text();
        return { status: res.status, body: text, retryAfterMs: retryAfterMs(res.headers) };
      } catch (e) {
        const message = `the sync endpoint ${base} could not be reached: ${messageOf(e)}`;
        return { status: 0, body: JSON.stringify({ error: { code: 'TRANSIENT', message } }) };
      }
    },
  };
}

const CHANGESET_TYPE = 'application/vnd.d1sync.changeset';

// Retry-After in seconds or as an HTTP date, in ms from now; 0 when absent.
function retryAfterMs(headers) {
  const value = headers.get('retry-after');
  if (!value) return 0;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : 0;
}
