// A browser-style SQLite (@sqlite.org/sqlite-wasm, here in Node)
// replicated by d1sync into a real local D1 (Miniflare's, persisted under .wrangler/demo-sqlite-wasm),
// then live changes streamed, with health() and a query against D1.
import { Miniflare } from 'miniflare';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { createReplicator, sqliteWasmSource, d1BindingTarget } from '../js/entry-node.js';

const persist = new URL('../.wrangler/demo-sqlite-wasm', import.meta.url).pathname;
const mf = new Miniflare({
  modules: true,
  script: 'export default { fetch() { return new Response("d1sync demo") } }',
  d1Databases: { DB: 'd1sync-demo' },
  d1Persist: persist,
  compatibilityDate: '2026-04-26',
});
const d1 = await mf.getD1Database('DB');
const sqlite3 = await sqlite3InitModule();
const db = new sqlite3.oo1.DB(':memory:', 'c');

const rows = Number(process.argv[2] ?? 100000);
db.exec(`
  CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0,
                     estimate REAL, attachment BLOB);
  CREATE INDEX tasks_done ON tasks(done);
  CREATE TABLE comments(task_id INTEGER NOT NULL, n INTEGER NOT NULL, body TEXT,
                        PRIMARY KEY(task_id, n)) WITHOUT ROWID;
  BEGIN;
  WITH RECURSIVE r(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM r WHERE i < ${rows})
    INSERT INTO tasks(id, title, estimate, attachment)
    SELECT i, 'task ' || i, i / 7.0, randomblob(16) FROM r;
  WITH RECURSIVE r(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM r WHERE i < ${rows / 10})
    INSERT INTO comments SELECT i, 1, 'it''s comment ' || i FROM r;
  COMMIT;`);

const sync = await createReplicator({
  source: sqliteWasmSource(db),
  target: d1BindingTarget(d1),
  sourceId: `demo-${Date.now()}`,
});
let t0 = performance.now();
await sync.start();
await sync.flush();
const initial = sync.health();
console.log(
  `initial sync: ${rows + rows / 10} rows in ${((performance.now() - t0) / 1000).toFixed(2)} s, ` +
    `${initial.batchesSent} D1 batches, ${initial.statementsSent} statements`,
);

db.exec(`UPDATE tasks SET done = 1 WHERE id % 3 = 0;
         DELETE FROM tasks WHERE id > ${rows - 100};
         INSERT INTO tasks(id, title, estimate) VALUES (${rows * 2}, 'added live', 1e308);
         UPDATE comments SET body = 'edited' WHERE task_id <= 10;`);
t0 = performance.now();
await sync.flush();
console.log(
  `streamed ${sync.health().capturedSeq} changes in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`,
);
console.log('health():', JSON.stringify(sync.health(), null, 2));
const q = await d1
  .prepare('SELECT count(*) AS tasks, sum(done) AS done, max(estimate) AS max_estimate FROM tasks')
  .first();
console.log('\nD1: SELECT count(*), sum(done), max(estimate) FROM tasks ->', JSON.stringify(q));
const local = db.selectArray('SELECT count(*), sum(done), max(estimate) FROM tasks');
console.log('local:                                                ->', JSON.stringify(local));
sync.close();
await mf.dispose();
if (q.tasks !== local[0] || q.done !== local[1]) {
  console.error('D1 and the local database differ');
  process.exit(1);
}
