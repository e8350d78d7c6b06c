// Shared setup for tests/template/*.test.mjs: the worker-template (or tests/template/fixture.js,
// which wraps it) bundled the way `wrangler deploy` bundles it and served by workerd through
// Miniflare (tools/template.mjs) with AUTH_SECRET set, an HTTP client for the Worker that sends
// a tenant's token, polling helpers and D1 reads.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { bundle, serve, repoRoot } from '../../tools/template.mjs';
import { DEV_SECRET, mintToken } from '../../tools/mint-token.mjs';

export { repoRoot, DEV_SECRET, mintToken };

// The tenant whose token `api` carries.
export const TENANT = 'acme';

// Bundles `entry` and serves it with an in-memory D1 and Durable Object storage. `secret` is
// the Worker's AUTH_SECRET (null: none), `vars` its other variables (as [vars] in
// wrangler.toml), `stdio` receives its console output (serve()). `api` calls as TENANT;
// `as(tenant)` makes a client for another tenant.
export async function startTemplate(
  entry = 'worker-template/src/index.ts',
  { secret = DEV_SECRET, vars = {}, stdio } = {},
) {
  if (!existsSync(path.join(repoRoot, 'dist/d1sync_engine.wasm'))) {
    throw new Error('dist/d1sync_engine.wasm is missing: run `npm run build` first');
  }
  const { dir, script } = bundle(entry);
  const bindings = { ...vars, ...(secret === null ? {} : { AUTH_SECRET: secret }) };
  const mf = await serve(script, { bindings, stdio });
  const as = async (tenant, sub = 'tests') =>
    client(mf, { tenant, token: await mintToken({ tenant, sub, secret: secret ?? DEV_SECRET }) });
  return {
    mf,
    api: await as(TENANT),
    as,
    async dispose() {
      await mf.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// A module of worker-template/ (`file` relative to it, e.g. 'src/auth.ts'), imported into Node:
// Node cannot load TypeScript, so esbuild (the one wrangler bundles with) bundles it, with its
// imports, into one ES module first.
export async function importTemplateModule(file) {
  const dir = mkdtempSync(path.join(tmpdir(), 'd1sync-template-module-'));
  const outfile = path.join(dir, `${path.basename(file).replace(/\.ts$/, '')}.mjs`);
  try {
    await build({
      entryPoints: [path.join(repoRoot, 'worker-template', file)],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outfile,
      logLevel: 'silent',
    });
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// call(method, url, body, { raw, token }) -> { status, headers, text, body }; body is parsed
// when the answer says it is JSON. `raw` sends a string body as is (for malformed JSON);
// `token` replaces the client's token for this call (null: send no Authorization header).
export function client(mf, { tenant, token } = {}) {
  const call = async (method, url, body, { raw, token: override } = {}) => {
    const bearer = override === undefined ? token : override;
    const headers = { 'content-type': 'application/json' };
    if (bearer !== null && bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
    const res = await mf.dispatchFetch(`http://rooms.test${url}`, {
      method,
      headers,
      body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const isJson = (res.headers.get('content-type') ?? '').includes('json');
    return {
      status: res.status,
      headers: res.headers,
      text,
      body: isJson && text ? JSON.parse(text) : text,
    };
  };
  // Like call(), but asserts the status.
  const expect = async (status, method, url, body) => {
    const r = await call(method, url, body);
    assert.equal(r.status, status, `${method} ${url}: HTTP ${r.status} ${r.text}`);
    return r.body;
  };
  return {
    tenant,
    token,
    // The room's room_id in D1 (and its Durable Object's name).
    roomId: (room) => `${tenant}/${room}`,
    call,
    expect,
    addTask: (room, title) => expect(201, 'POST', `/rooms/${room}/tasks`, { title }),
    patchTask: (room, id, patch) => expect(200, 'PATCH', `/rooms/${room}/tasks/${id}`, patch),
    deleteTask: (room, id) => expect(204, 'DELETE', `/rooms/${room}/tasks/${id}`),
    listTasks: (room) => expect(200, 'GET', `/rooms/${room}/tasks`),
    health: (room) => expect(200, 'GET', `/rooms/${room}/health`),
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls `probe` until it returns a truthy value, and returns that value. The iteration cap is
// only a hang guard; nothing here asserts how long it took.
export async function waitFor(label, probe, { every = 50, maxIterations = 2400, describe } = {}) {
  let last;
  for (let i = 0; i < maxIterations; ++i) {
    last = await probe();
    if (last) return last;
    await sleep(every);
  }
  assert.fail(`gave up waiting for ${label}${describe ? `: ${await describe()}` : ''}`);
}

const settled = (h) => h.state === 'idle' && h.pendingChanges === 0;

// Waits until every room reports state 'idle' with nothing pending; returns their health.
export async function waitIdle(api, rooms, options) {
  let last = [];
  return waitFor(
    `rooms ${rooms.join(', ')} to be idle`,
    async () => {
      last = await Promise.all(rooms.map((r) => api.health(r)));
      return last.every(settled) ? last : null;
    },
    {
      ...options,
      describe: () =>
        JSON.stringify(last.map((h) => [h.sourceId, h.state, h.pendingChanges, h.lastError])),
    },
  );
}

// The rows D1 holds under one room_id (`tenant/room`, see api.roomId), shaped like
// GET /rooms/:room/tasks, plus each cell's storage class.
export async function d1Tasks(mf, roomId) {
  const db = await mf.getD1Database('DB');
  try {
    const { results } = await db
      .prepare(
        `SELECT room_id, id, title, done, updated_at,
              typeof(id) || ',' || typeof(title) || ',' || typeof(done) || ',' || typeof(updated_at) AS types
         FROM tasks WHERE room_id = ? ORDER BY id`,
      )
      .bind(roomId)
      .all();
    return results;
  } catch (e) {
    if (/no such table: tasks/.test(String(e?.message))) return []; // nothing replicated yet
    throw e;
  }
}

// D1 equals the room's own listing, row for row: same ids, titles, done flags and timestamps,
// stored as INTEGER/TEXT/INTEGER/INTEGER (never REAL), under the room's room_id, which is
// `tenant/room` for api's tenant.
export async function assertD1MatchesRoom(mf, api, room) {
  const local = await api.listTasks(room);
  const remote = await d1Tasks(mf, api.roomId(room));
  assert.equal(
    remote.length,
    local.length,
    `room ${room}: D1 has ${remote.length} rows, the room ${local.length}`,
  );
  for (let i = 0; i < local.length; ++i) {
    const want = local[i];
    const got = remote[i];
    const where = `room ${room}, row ${i} (id ${want.id})`;
    assert.equal(got.room_id, api.roomId(room), `${where}: room_id`);
    assert.deepEqual(
      { id: got.id, title: got.title, done: got.done, updated_at: got.updated_at },
      { id: want.id, title: want.title, done: want.done, updated_at: want.updated_at },
      where,
    );
    assert.equal(got.types, 'integer,text,integer,integer', `${where}: storage classes in D1`);
  }
  return local;
}
