// The main job, self-driving: worker-template/ (rooms as SQLite-backed Durable Objects, each
// replicating into one shared D1 table) served by workerd through Miniflare with a local D1
// persisted under .wrangler/demo. The demo gives the Worker its AUTH_SECRET and mints its own
// tokens with it (tools/mint-token.mjs), as a sign-in would. Real HTTP requests write tasks into
// several rooms of tenant "demo" and one room of tenant "neighbour"; the demo then shows a
// room's health() and a query that reads the tenant's tasks across its rooms from D1. A
// browser-style client (sqlite-wasm in Node) replicates its own tasks through the template's
// /d1sync endpoint, as the offline-first page does. `--serve` keeps the Worker and the page up
// on 127.0.0.1:8787 afterwards and prints the page's address with a token.
//
//   node tools/demo.mjs [tasks per room] [--serve]
import { rmSync } from 'node:fs';
import path from 'node:path';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { bundle, serve, repoRoot } from './template.mjs';
import { buildAssets } from './build_assets.mjs';
import { DEV_SECRET, mintToken } from './mint-token.mjs';
import { createReplicator, sqliteWasmSource, httpTarget } from '../js/entry-node.js';

const keepServing = process.argv.includes('--serve');
const SERVE_URL = 'http://127.0.0.1:8787/';
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const persistDir = path.join(repoRoot, '.wrangler/demo');
rmSync(persistDir, { recursive: true, force: true });
const { script } = bundle();
const mf = await serve(script, {
  persistDir,
  bindings: { AUTH_SECRET: DEV_SECRET },
  assets: buildAssets(),
  port: keepServing ? Number(new URL(SERVE_URL).port) : 0,
});
const url = await mf.ready;
const tokens = {
  demo: await mintToken({ tenant: 'demo', sub: 'demo-script', secret: DEV_SECRET }),
  neighbour: await mintToken({ tenant: 'neighbour', sub: 'demo-script', secret: DEV_SECRET }),
};
// call(method, url, body, tenant): as the tenant's token allows; tenant null sends no token.
const call = async (method, url, body, tenant = 'demo') => {
  const headers = { 'content-type': 'application/json' };
  if (tenant !== null) headers.authorization = `Bearer ${tokens[tenant]}`;
  const res = await mf.dispatchFetch(`http://rooms.local${url}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
  };
};

const anonymous = await call('GET', '/tasks', undefined, null);
console.log(`GET /tasks without a token -> ${anonymous.status} ${JSON.stringify(anonymous.body)}`);
if (anonymous.status !== 401) throw new Error('the Worker answered a request without a token');

const rooms = ['kitchen', 'garden', 'garage'];
const perRoom = Number(args[0] ?? 20);
const t0 = performance.now();
await Promise.all(
  rooms.map(async (room) => {
    for (let i = 1; i <= perRoom; ++i) {
      const r = await call('POST', `/rooms/${room}/tasks`, { title: `${room} task ${i}` });
      if (r.status !== 201) throw new Error(`POST failed: ${r.status} ${JSON.stringify(r.body)}`);
    }
    await call('PATCH', `/rooms/${room}/tasks/1`, { done: true });
    await call('DELETE', `/rooms/${room}/tasks/2`);
  }),
);
console.log(
  `wrote ${rooms.length * (perRoom + 2)} changes into ${rooms.length} rooms in ${Math.round(performance.now() - t0)} ms`,
);
// Another tenant's room of the same name: its own Durable Object, its own rows in D1.
const other = await call('POST', '/rooms/kitchen/tasks', { title: 'not yours' }, 'neighbour');
if (other.status !== 201)
  throw new Error(`POST failed: ${other.status} ${JSON.stringify(other.body)}`);

// Each write started a flush without waiting for it; wait until D1 has caught up.
for (;;) {
  const states = await Promise.all([
    ...rooms.map((r) => call('GET', `/rooms/${r}/health`)),
    call('GET', '/rooms/kitchen/health', undefined, 'neighbour'),
  ]);
  if (states.every((s) => s.body.state === 'idle' && s.body.pendingChanges === 0)) break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
// The browser-style client: its own SQLite, replicated through /d1sync as device "demo-device".
const sqlite3 = await sqlite3InitModule();
const local = new sqlite3.oo1.DB(':memory:', 'c');
local.exec(`CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL)`);
const page = await createReplicator({
  source: sqliteWasmSource(local),
  target: httpTarget(new URL('/d1sync', url), {
    getToken: () => mintToken({ tenant: 'demo', sub: 'demo-device', secret: DEV_SECRET }),
  }),
  sourceId: 'demo-device',
});
for (let i = 1; i <= 5; ++i) {
  local.exec({
    sql: 'INSERT INTO tasks(title, updated_at) VALUES (?, ?)',
    bind: [`offline task ${i}`, Date.now()],
  });
}
await page.flush();
const pageHealth = page.health();
page.close();
console.log(
  `\na browser-style client replicated 5 tasks through /d1sync: state ${pageHealth.state}, ` +
    `${pageHealth.pendingChanges} pending, ${pageHealth.rowsReplicated} rows sent`,
);

const health = await call('GET', '/rooms/kitchen/health');
console.log('\nGET /rooms/kitchen/health ->', JSON.stringify(health.body, null, 2));
const tasks = await call('GET', '/tasks?done=1');
console.log(
  "\nGET /tasks?done=1 (read from D1, across the tenant's rooms) ->",
  JSON.stringify(tasks.body),
);
const all = await call('GET', '/tasks?limit=1000');
const d1 = await mf.getD1Database('DB');
const byRoom = await d1
  .prepare('SELECT room_id, count(*) AS tasks FROM tasks GROUP BY room_id')
  .all();
console.log(
  '\nD1: SELECT room_id, count(*) FROM tasks GROUP BY room_id ->',
  JSON.stringify(byRoom.results),
);
const metrics = await call('GET', '/metrics');
console.log(
  '\nGET /metrics (excerpt) ->\n' +
    metrics.body
      .split('\n')
      .filter((l) => l.startsWith('d1sync_rows_total'))
      .join('\n'),
);
// What the dashboard draws: one page of the tenant's sources, each room with its health.
const sources = await call('GET', '/sources?limit=100');
const states = {};
for (const s of sources.body.sources ?? []) {
  const state = s.health?.state ?? 'browser';
  states[state] = (states[state] ?? 0) + 1;
}
console.log(
  `\nGET /sources (the dashboard's data) -> ${sources.body.total} sources: ` +
    `${sources.body.rooms} rooms, ${sources.body.clients} browser page(s); states ${JSON.stringify(states)}`,
);
if (!keepServing) await mf.dispose();
if (!all.body.every((t) => t.room_id === 'demo' || t.room_id.startsWith('demo/'))) {
  console.error("GET /tasks as tenant demo answered another tenant's rows");
  process.exit(1);
}
if (all.body.length !== rooms.length * (perRoom - 1) + 5) {
  console.error(
    `expected ${rooms.length * (perRoom - 1) + 5} of tenant demo's tasks in D1, found ${all.body.length}`,
  );
  process.exit(1);
}
console.log(
  `\nD1 holds all ${all.body.length} of tenant demo's tasks, and GET /tasks shows it no other tenant's;` +
    ' the local D1 is kept under .wrangler/demo',
);
// The dashboard's address with a day's token of tenant demo; --serve listens on 8787.
const dashboardToken = await mintToken({
  tenant: 'demo',
  sub: 'dashboard',
  ttl: 24 * 60 * 60,
  secret: DEV_SECRET,
});
const dashboard = new URL(`/dashboard#token=${dashboardToken}`, keepServing ? url : SERVE_URL);
if (keepServing) {
  const token = await mintToken({ tenant: 'demo', sub: 'my-browser', secret: DEV_SECRET });
  console.log(
    `\nServing on ${url}; open the offline-first page as device my-browser of tenant demo:\n` +
      `${new URL(`/#token=${token}`, url)}\nthe replication dashboard:\n${dashboard}\n(Ctrl-C stops it)`,
  );
} else {
  console.log(
    `\nThe replication dashboard (\`./tools/demo.sh --serve\` keeps it up):\n${dashboard}`,
  );
}
