// d1sync push --snapshot end to end: a read-only file pushed without ever being written; a
// second run sends exactly the rows that changed, found by range fingerprints.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { startApi, runCli, generate, sqlite, tempDir, expectFileEqualsD1, at } from './harness.mjs';

let api;
let dir;
before(async () => {
  api = await startApi(4);
  dir = tempDir();
});
after(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

const hash = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('push --snapshot never writes to the file and later sends only what changed', async () => {
  const file = path.join(dir, 'export.sqlite');
  generate(file, 0.25);
  chmodSync(file, 0o444);
  const db = await api.fresh();
  const before = hash(file);

  const first = await runCli(['push', file, ...at(db), '--snapshot', '--json'], { api });
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.equal(first.json.equal, true);
  const rows = await expectFileEqualsD1(assert, file, db.d1);
  assert.equal(rows, 50000);
  assert.equal(hash(file), before, 'the file is byte for byte what it was');

  // Nothing changed: one comparison, nothing written but the fence row.
  api.resetStats();
  const idle = await runCli(['push', file, ...at(db), '--snapshot', '--json'], { api });
  assert.equal(idle.code, 0, idle.stderr);
  assert.equal(idle.json.rounds.length, 1);
  assert.equal(idle.json.rounds[0].differences, 0);
  assert.ok(api.stats().rowsWritten <= 4, `${api.stats().rowsWritten} rows written`);

  // 300 changes made by another tool: updates, deletes from the table without a key, inserts.
  chmodSync(file, 0o644);
  sqlite(
    file,
    `UPDATE users SET name = name || '!' WHERE id % 100 = 7;
     DELETE FROM events WHERE rowid % 100 = 3;
     WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<75)
       INSERT INTO tags SELECT printf('snap-%03d', i), i FROM c;`,
  );
  chmodSync(file, 0o444);
  const edited = hash(file);
  api.resetStats();
  const second = await runCli(['push', file, ...at(db), '--snapshot', '--json'], { api });
  assert.equal(second.code, 0, second.stderr + second.stdout);
  assert.equal(second.json.rounds[0].differences, 100 + 75 + 75);
  assert.equal(second.json.rounds.at(-1).differences, 0);
  const written = api.stats().rowsWritten;
  assert.ok(written >= 250 && written <= 250 + 20, `${written} rows written for 250 changes`);
  await expectFileEqualsD1(assert, file, db.d1);
  assert.equal(hash(file), edited, 'still not written');

  // A file that replicates through capture is not pushed as a snapshot.
  const captured = path.join(dir, 'captured.sqlite');
  generate(captured, 0.01);
  const other = await api.fresh();
  assert.equal((await runCli(['push', captured, ...at(other), '-q'], { api })).code, 0);
  const refused = await runCli(['push', captured, ...at(other), '--snapshot'], { api });
  assert.equal(refused.code, 4);
  assert.match(refused.stderr, /replicates through change capture/);
  const usage = await runCli(['push', file, ...at(db), '--snapshot', '--dry-run'], { api });
  assert.equal(usage.code, 2);
});
