// The main job, self-driving: worker-template/ (rooms as SQLite-backed Durable Objects, each
// replicating into one shared D1 table) served by workerd through Miniflare with a local D1
// persisted under .wrangler/demo. Real HTTP requests write tasks into several rooms; the demo
// then shows a room's health() and a query that reads every room's tasks from D1.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { bundle, serve, repoRoot } from './template.mjs';

const persistDir = path.join(repoRoot, '.wrangler/demo');
rmSync(persistDir, { recursive: true, force: true });
const { script } = bundle();
const mf = await serve(script, { persistDir });
const call = async (method, url, body) => {
  const res = await mf.dispatchFetch(`http://rooms.local${url}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
  };
};

const rooms = ['kitchen', 'garden', 'garage'];
const perRoom = Number(process.argv[2] ?? 20);
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

// Each write started a flush without waiting for it; wait until D1 has caught up.
for (;;) {
  const states = await Promise.all(rooms.map((r) => call('GET', `/rooms/${r}/health`)));
  if (states.every((s) => s.body.state === 'idle' && s.body.pendingChanges === 0)) break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const health = await call('GET', '/rooms/kitchen/health');
console.log('\nGET /rooms/kitchen/health ->', JSON.stringify(health.body, null, 2));
const tasks = await call('GET', '/tasks?done=1');
console.log('\nGET /tasks?done=1 (read from D1, across rooms) ->', JSON.stringify(tasks.body));
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
await mf.dispose();
if (all.body.length !== rooms.length * (perRoom - 1)) {
  console.error(`expected ${rooms.length * (perRoom - 1)} tasks in D1, found ${all.body.length}`);
  process.exit(1);
}
console.log(`\nD1 holds all ${all.body.length} tasks; the local D1 is kept under .wrangler/demo`);
