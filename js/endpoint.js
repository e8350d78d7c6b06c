// createSyncEndpoint(): the Worker side of httpTarget(). The engine's D1 half (C++, the same
// module the replicator runs) checks each request against the allow-list, D1's schema and the
// caller authenticate() names, and plans the D1 batch; this file is its I/O: authentication,
// the request limits, reading the body, running the batches on the D1 binding.
import { D1SyncError, messageOf } from './errors.js';
import { d1BindingTarget } from './targets.js';

const OPTION_KEYS = ['db', 'tables', 'tenantColumn', 'authenticate', 'limits'];
const LIMIT_KEYS = ['requestBytes', 'rowsPerRequest', 'requestsPerMinute'];
const DEFAULT_LIMITS = { requestBytes: 1 << 20, rowsPerRequest: 10000, requestsPerMinute: 600 };
const OPS = new Set(['claim', 'takeover', 'probe', 'apply', 'read']);
const MAX_ID_BYTES = 512;

const utf8 = new TextDecoder();

function answer(status, body, retryAfter = 0) {
  const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (retryAfter > 0) headers['retry-after'] = String(retryAfter);
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers });
}

function refuse(status, code, message, retryAfter = 0) {
  return answer(status, { error: { code, message } }, retryAfter);
}

function checkOptions(options) {
  if (!options || typeof options !== 'object') {
    throw new D1SyncError('CONFIG', 'createSyncEndpoint() needs an options object');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) throw new D1SyncError('CONFIG', `unknown option '${key}'`);
  }
  const { tables, tenantColumn, authenticate, limits = {} } = options;
  if (
    !Array.isArray(tables) ||
    !tables.length ||
    !tables.every((t) => typeof t === 'string' && t)
  ) {
    throw new D1SyncError('CONFIG', 'tables must list the table names the endpoint accepts');
  }
  if (tenantColumn !== undefined && (typeof tenantColumn !== 'string' || !tenantColumn)) {
    throw new D1SyncError('CONFIG', 'tenantColumn must be a column name');
  }
  if (typeof authenticate !== 'function') {
    throw new D1SyncError(
      'CONFIG',
      'authenticate(request, env) must be a function returning { tenant, clientId } or null',
    );
  }
  if (typeof limits !== 'object' || limits === null) {
    throw new D1SyncError('CONFIG', 'limits must be an object');
  }
  for (const [name, value] of Object.entries(limits)) {
    if (!LIMIT_KEYS.includes(name)) throw new D1SyncError('CONFIG', `unknown limit '${name}'`);
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new D1SyncError('CONFIG', `limits.${name} must be a positive integer`);
    }
  }
  return { ...DEFAULT_LIMITS, ...limits };
}

// What authenticate() gave, checked: a client id, and the tenant when there is a tenant column.
function callerProblem(caller, tenantColumn) {
  if (typeof caller.clientId !== 'string' || !caller.clientId) return 'no clientId';
  if (new TextEncoder().encode(caller.clientId).length > MAX_ID_BYTES) return 'clientId too long';
  if (!tenantColumn) return '';
  const { tenant } = caller;
  if (typeof tenant === 'string' && tenant && tenant.length <= 256 && !tenant.includes('\0')) {
    return '';
  }
  return Number.isSafeInteger(tenant) ? '' : 'no tenant (a short string or a safe integer)';
}

// Requests per client in the last minute, per isolate: a bound on one client's load on this
// Worker instance, not a global quota (Cloudflare's rate limiting rules give one).
class RateWindow {
  #limit;
  #hits = new Map();
  constructor(limit) {
    this.#limit = limit;
  }
  // Seconds to wait, or 0 when the request may go ahead (and is counted).
  take(key, now) {
    const recent = (this.#hits.get(key) ?? []).filter((t) => t > now - 60000);
    if (recent.length >= this.#limit) {
      this.#hits.set(key, recent);
      return Math.max(1, Math.ceil((recent[0] + 60000 - now) / 1000));
    }
    recent.push(now);
    this.#hits.set(key, recent);
    if (this.#hits.size > 10000) this.#hits.delete(this.#hits.keys().next().value);
    return 0;
  }
}

// The body, refused past `max` bytes without reading further.
async function readBody(request, max) {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) return null;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export function createSyncEndpointWith(loadModule, options) {
  const limits = checkOptions(options);
  const { db, tables, tenantColumn, authenticate } = options;
  const target = d1BindingTarget(db);
  const rate = new RateWindow(limits.requestsPerMinute);
  const config = JSON.stringify({
    tables,
    tenantColumn: tenantColumn ?? null,
    limits: { requestBytes: limits.requestBytes, rowsPerRequest: limits.rowsPerRequest },
  });
  let endpoint = null;

  const core = async () => {
    if (!endpoint) {
      const module = await loadModule();
      const made = new module.SyncEndpoint(config);
      const problem = made.configError();
      if (problem) throw new D1SyncError('CONFIG', problem);
      endpoint ??= made;
    }
    if (!endpoint.schemaKnown()) {
      const [rows] = await target.batch([endpoint.schemaQuery()]);
      endpoint.setSchema(rows.columns || 2, rows.cells);
    }
    return endpoint;
  };

  // Runs the endpoint's steps: each a D1 batch, until it has an answer.
  const serve = async (ep, op, body, caller) => {
    const view = ep.bodyBuffer(body.byteLength);
    view.set(body);
    const tenant = tenantColumn ? JSON.stringify(caller.tenant) : 'null';
    let step = ep.begin(op, caller.clientId, tenant, Date.now());
    while (step.kind === 'run') {
      const statements = utf8.decode(step.statements).split('\u0000');
      statements.pop();
      const context = step.context;
      let results = [];
      let error = '';
      try {
        results = await target.batch(statements);
      } catch (e) {
        error = messageOf(e) || 'D1 failed';
      }
      step = ep.resume(context, !error, error, results, Date.now());
    }
    return answer(step.status, step.body, step.retryAfter);
  };

  return {
    // Serves POST <anything>/<op>: route the prefix the client's httpTarget() names here.
    async handle(request, env, ctx) {
      try {
        const op = new URL(request.url).pathname.split('/').pop();
        if (request.method !== 'POST') return refuse(405, 'BAD_REQUEST', 'use POST');
        if (!OPS.has(op)) return refuse(404, 'BAD_REQUEST', `no such operation: '${op}'`);
        let caller;
        try {
          caller = await authenticate(request, env, ctx);
        } catch (e) {
          // authenticate() answers null for bad credentials: a throw is the server's problem.
          return refuse(500, 'INTERNAL', `authenticate() failed: ${messageOf(e)}`);
        }
        if (!caller) return refuse(401, 'UNAUTHORIZED', 'no valid credentials');
        const problem = callerProblem(caller, tenantColumn);
        if (problem) return refuse(500, 'INTERNAL', `authenticate() returned ${problem}`);
        const wait = rate.take(caller.clientId, Date.now());
        if (wait) return refuse(429, 'RATE_LIMITED', 'too many requests from this client', wait);
        const body = await readBody(request, limits.requestBytes);
        if (!body) {
          return refuse(
            413,
            'LIMIT',
            `the request is larger than this endpoint's ${limits.requestBytes} bytes`,
          );
        }
        return await serve(await core(), op, body, caller);
      } catch (e) {
        const code = e instanceof D1SyncError ? e.code : 'INTERNAL';
        return refuse(code === 'CONFIG' ? 500 : 503, code, messageOf(e), code === 'CONFIG' ? 0 : 1);
      }
    },
  };
}
