// d1sync push / status end to end: the native binary against the D1 REST API stand-in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import {
  startApi,
  runCli,
  generate,
  sqlite,
  tempDir,
  expectFileEqualsD1,
  at,
  waitFor,
} from './harness.mjs';

let api;
let dir;
before(async () => {
  api = await startApi(12);
  dir = tempDir();
});
after(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('push copies 200,000 rows in six tables exactly; a second push ships exactly what changed', async () => {
  const file = path.join(dir, 'app.sqlite');
  generate(file);
  const db = await api.fresh();

  const never = await runCli(['status', file, ...at(db)], { api });
  assert.equal(never.code, 1, 'a file never pushed is behind');
  assert.match(never.stdout, /not replicated yet/);

  api.resetStats();
  const first = await runCli(['push', file, ...at(db), '--json'], { api });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.json.rows, 200000);
  assert.equal(first.json.requests, api.stats().requests, 'every request is counted');
  assert.equal(await expectFileEqualsD1(assert, file, db.d1), 200000);
  const synced = await runCli(['status', file, ...at(db), '--json'], { api });
  assert.equal(synced.code, 0, synced.stdout);
  assert.equal(synced.json.inSync, true);

  // 1,000 changes: 400 updates, 300 REAL updates, 200 deletes from the table without a key,
  // 100 inserts into the WITHOUT ROWID table.
  sqlite(
    file,
    `UPDATE notes SET txt = 'changed-' || id WHERE id IN (SELECT id FROM notes ORDER BY random() LIMIT 400);
     UPDATE users SET score = -score WHERE id IN (SELECT id FROM users WHERE score IS NOT NULL ORDER BY random() LIMIT 300);
     DELETE FROM events WHERE rowid IN (SELECT rowid FROM events ORDER BY random() LIMIT 200);
     WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<100)
       INSERT INTO tags SELECT printf('new-%03d', i), -i FROM c;`,
  );
  const behind = await runCli(['status', file, ...at(db), '--json'], { api });
  assert.equal(behind.code, 1);
  assert.equal(behind.json.health.pendingChanges, 1000);
  assert.match(behind.json.summary, /behind by 1000 changes/);

  api.resetStats();
  const second = await runCli(['push', file, ...at(db), '--json'], { api });
  assert.equal(second.code, 0, second.stderr);
  const stats = api.stats();
  // D1's own count of rows written: the 1,000 changed rows and the fence's row per request.
  assert.ok(
    stats.rowsWritten <= 1000 + 4 * stats.requests,
    `${stats.rowsWritten} rows written in ${stats.requests} requests for 1,000 changes`,
  );
  assert.ok(stats.rowsWritten >= 1000, `${stats.rowsWritten} rows written`);
  assert.ok(stats.requests <= 4, `${stats.requests} requests for 1,000 small changes`);
  await expectFileEqualsD1(assert, file, db.d1);
  const after2 = await runCli(['status', file, ...at(db)], { api });
  assert.equal(after2.code, 0, after2.stdout);

  // Nothing changed: a push sends nothing but its claim.
  api.resetStats();
  const idle = await runCli(['push', file, ...at(db), '--json'], { api });
  assert.equal(idle.code, 0);
  assert.equal(idle.json.rows, 0);
  assert.ok(api.stats().requests <= 2, `${api.stats().requests} requests with nothing to send`);
});

test('--dry-run plans exactly the requests the push then sends, and leaves the file untouched', async () => {
  const file = path.join(dir, 'plan.sqlite');
  generate(file, 0.1);
  const db = await api.fresh();
  const schemaBefore = sqlite(file, 'SELECT count(*) FROM sqlite_master;');
  const plan = await runCli(['push', file, ...at(db), '--dry-run', '--json'], { api });
  assert.equal(plan.code, 0, plan.stderr);
  assert.equal(sqlite(file, 'SELECT count(*) FROM sqlite_master;'), schemaBefore);
  assert.equal(plan.json.plan.rows, 20000);
  assert.equal(plan.json.plan.tables.notes, 2000);
  api.resetStats();
  const push = await runCli(['push', file, ...at(db), '--json'], { api });
  assert.equal(push.code, 0, push.stderr);
  assert.equal(plan.json.plan.requests, push.json.requests);
  // Byte for byte but for the claim's random mark and the timestamps, whose digits vary.
  assert.ok(
    Math.abs(plan.json.plan.bytes - push.json.bytesSent) <= 40 * push.json.requests,
    `planned ${plan.json.plan.bytes} bytes, sent ${push.json.bytesSent}`,
  );
  assert.equal(plan.json.plan.statements, api.stats().statements);
  // A plan after the push sees D1's claim and plans the changes only.
  sqlite(file, `UPDATE notes SET txt = 'x' WHERE id <= 10;`);
  const next = await runCli(['push', file, ...at(db), '--dry-run', '--json'], { api });
  assert.equal(next.code, 0, next.stderr);
  api.resetStats();
  const push2 = await runCli(['push', file, ...at(db), '--json'], { api });
  assert.equal(next.json.plan.requests, push2.json.requests);
  await expectFileEqualsD1(assert, file, db.d1);
});

test('kill -9 in the middle of a push, run it again: D1 equals the file', async () => {
  const file = path.join(dir, 'killed.sqlite');
  generate(file);
  const db = await api.fresh();
  api.setDelayMs(40);
  api.resetStats();
  let child;
  const run = runCli(['push', file, ...at(db), '-q'], { api, onSpawn: (c) => (child = c) });
  await waitFor(() => api.stats().requests >= 6, 'six requests of the push');
  child.kill('SIGKILL');
  const killed = await run;
  assert.equal(killed.signal, 'SIGKILL');
  api.setDelayMs(0);
  const rows = await db.d1
    .prepare('SELECT count(*) AS n FROM notes')
    .first()
    .catch(() => null);
  const again = await runCli(['push', file, ...at(db), '--json'], { api });
  assert.equal(again.code, 0, again.stderr);
  assert.ok(again.json.rows < 200000, `the rerun resumed (${again.json.rows} rows), ${rows?.n}`);
  await expectFileEqualsD1(assert, file, db.d1);
});

test('Ctrl-C stops a push between requests with exit 130; the next push finishes it', async () => {
  const file = path.join(dir, 'interrupted.sqlite');
  generate(file, 0.5);
  const db = await api.fresh();
  api.setDelayMs(40);
  api.resetStats();
  let child;
  const run = runCli(['push', file, ...at(db)], { api, onSpawn: (c) => (child = c) });
  await waitFor(() => api.stats().requests >= 4, 'four requests of the push');
  child.kill('SIGINT');
  const stopped = await run;
  api.setDelayMs(0);
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.match(stopped.stderr, /run the same push again to resume/);
  const again = await runCli(['push', file, ...at(db)], { api });
  assert.equal(again.code, 0, again.stderr);
  await expectFileEqualsD1(assert, file, db.d1);
});

test('--rate keeps the push inside the request budget by waiting, never by failing', async () => {
  const file = path.join(dir, 'rate.sqlite');
  generate(file, 0.1);
  const db = await api.fresh();
  api.resetStats();
  const r = await runCli(['push', file, ...at(db), '--rate', '2/1', '--json'], { api });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.json.requests > 2, `${r.json.requests} requests`);
  // Two requests per second: every request after the second waited for its slot.
  assert.ok(r.json.waitedForRateBudgetMs > 0, 'the budget made the push wait');
  assert.equal(api.stats().requests, r.json.requests);
  await expectFileEqualsD1(assert, file, db.d1);
});
