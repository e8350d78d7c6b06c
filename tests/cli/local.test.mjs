// d1sync push --local: into wrangler's own local D1 for a project's binding, proven by asking
// wrangler itself (`wrangler d1 execute DB --local`) what the database holds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { runCli, generate, sqlite, tempDir, repoRoot } from './harness.mjs';

let project;
before(() => {
  project = tempDir('d1sync-local-');
  writeFileSync(
    path.join(project, 'wrangler.toml'),
    `name = "local-push"\ncompatibility_date = "2026-04-26"\n\n[[d1_databases]]\nbinding = "DB"\n` +
      `database_name = "app-db"\ndatabase_id = "${randomUUID()}"\n`,
  );
});
after(() => rmSync(project, { recursive: true, force: true }));

function wrangler(sql) {
  const out = execFileSync(
    path.join(repoRoot, 'node_modules/.bin/wrangler'),
    ['d1', 'execute', 'DB', '--local', '--json', '--command', sql],
    {
      cwd: project,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
    },
  );
  return JSON.parse(out)[0].results;
}

test('push --local lands in the D1 that wrangler d1 execute --local reads', async () => {
  const file = path.join(project, 'app.sqlite');
  generate(file, 0.05);
  const first = await runCli(['push', file, '--local', '--json'], { cwd: project });
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.match(first.json.target, /wrangler's local D1/);
  assert.deepEqual(wrangler('SELECT count(*) AS n, sum(length(txt)) AS len FROM notes'), [
    { n: 1000, len: 60000 },
  ]);
  assert.deepEqual(wrangler('SELECT count(*) AS n FROM posts'), [{ n: 3000 }]);

  sqlite(file, "UPDATE notes SET txt = 'seen by wrangler' WHERE id <= 25;");
  const second = await runCli(['push', file, '--local', '--binding', 'DB', '-q'], { cwd: project });
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(wrangler("SELECT count(*) AS n FROM notes WHERE txt = 'seen by wrangler'"), [
    { n: 25 },
  ]);
  const status = await runCli(['status', file, '--local'], { cwd: project });
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, /in sync/);
});

test('push --local without a binding to use says so', async () => {
  const file = path.join(project, 'other.sqlite');
  generate(file, 0.01);
  const r = await runCli(['push', file, '--local', '--binding', 'NOPE'], { cwd: project });
  assert.equal(r.code, 4);
  assert.match(r.stderr, /no D1 binding named 'NOPE'/);
});
