// Setup for the sync endpoint tests: tests/endpoint/worker.js served by workerd (Miniflare) on a
// real localhost port with a local D1, clients that replicate sqlite-wasm databases into it
// through httpTarget(), and raw requests for the endpoint's refusals.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import {
  createReplicator,
  httpTarget,
  sqliteWasmSource,
  openLocal,
  run,
} from '../node/helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

// The D1 schema an application's migrations would create: the tenant column leads each key.
export const D1_SCHEMA = [
  `CREATE TABLE tasks(user_id TEXT NOT NULL, id INTEGER NOT NULL, title TEXT, done INTEGER,
     score REAL, data BLOB, PRIMARY KEY(user_id, id))`,
  `CREATE TABLE notes(user_id TEXT NOT NULL, k TEXT NOT NULL, body TEXT, PRIMARY KEY(user_id, k))`,
  `CREATE TABLE secrets(user_id TEXT NOT NULL, id INTEGER NOT NULL, v TEXT,
     PRIMARY KEY(user_id, id))`,
  `CREATE TABLE checked(user_id TEXT NOT NULL, id INTEGER NOT NULL, v INTEGER CHECK (v >= 0),
     PRIMARY KEY(user_id, id))`,
];
export const LOCAL_SCHEMA = [
  'CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT, done INTEGER, score REAL, data BLOB)',
  'CREATE TABLE notes(k TEXT PRIMARY KEY NOT NULL, body TEXT)',
];

export async function startEndpoint() {
  if (!existsSync(path.join(repoRoot, 'dist/d1sync_engine.wasm'))) {
    throw new Error('dist/d1sync_engine.wasm is missing: run `npm run build` first');
  }
  const mf = new Miniflare({
    modules: true,
    modulesRoot: repoRoot,
    scriptPath: path.join(here, 'worker.js'),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2026-04-26',
    d1Databases: ['DB'],
  });
  const url = await mf.ready;
  const d1 = await mf.getD1Database('DB');
  await d1.batch(D1_SCHEMA.map((s) => d1.prepare(s)));
  return {
    mf,
    d1,
    // The base URL of an endpoint with these options (see worker.js).
    base: (setup = {}) => new URL(`/${encodeURIComponent(JSON.stringify(setup))}/d1sync`, url).href,
    dispose: () => mf.dispose(),
  };
}

// A fetch() that sends the caller header the test worker authenticates by, and can be cut off
// (down: every request fails as a network error) or recorded.
export function callerFetch(caller) {
  const f = async (input, init = {}) => {
    if (f.down) throw new TypeError('fetch failed (the endpoint is down)');
    const headers = new Headers(init.headers);
    if (caller) headers.set('x-test-caller', JSON.stringify(caller));
    const body = init.body;
    f.sent.push({ url: String(input), body: body instanceof Uint8Array ? body.slice() : body });
    const res = await fetch(input, { ...init, headers });
    f.statuses.push(res.status);
    if (res.status !== 200) f.refusals.push(await res.clone().json());
    return res;
  };
  f.down = false;
  f.sent = [];
  f.statuses = [];
  f.refusals = []; // the JSON of every answer but 200
  return f;
}

// A browser-style client: a sqlite-wasm database with the local schema, replicating through
// httpTarget() as `caller`.
// `wrapFetch(fetch)` -> fetch puts something between the client and the endpoint.
export async function client(
  ep,
  caller,
  { setup = {}, sourceId = caller.clientId, wrapFetch = (f) => f, ...rest } = {},
) {
  const db = await openLocal();
  for (const s of LOCAL_SCHEMA) run(db, s);
  const fetchFn = callerFetch(caller);
  const sync = await createReplicator({
    source: sqliteWasmSource(db),
    target: httpTarget(ep.base(setup), { fetch: wrapFetch(fetchFn) }),
    sourceId,
    ...rest,
  });
  return { db, sync, fetch: fetchFn };
}

// One raw request to the endpoint: { status, body } with body parsed.
export async function post(ep, op, body, { caller, setup = {}, type } = {}) {
  const headers = {
    'content-type':
      type ?? (op === 'apply' ? 'application/vnd.d1sync.changeset' : 'application/json'),
  };
  if (caller) headers['x-test-caller'] = JSON.stringify(caller);
  const res = await fetch(`${ep.base(setup)}/${op}`, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}
