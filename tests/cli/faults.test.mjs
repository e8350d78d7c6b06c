// d1sync push through an unreliable API: every fault the stand-in injects, one at a time and
// at random, and the push still leaves D1 equal to the file, nothing lost or doubled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { startApi, runCli, generate, sqlite, tempDir, expectFileEqualsD1, at } from './harness.mjs';

let api;
let dir;
before(async () => {
  api = await startApi(16);
  dir = tempDir();
});
after(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

const FAULTS = [
  { kind: 'status', status: 429, retryAfter: 1 },
  { kind: 'status', status: 500 },
  { kind: 'status', status: 502 },
  { kind: 'status', status: 503, retryAfter: 1 },
  { kind: 'timeout' },
  { kind: 'drop-after-commit' },
  { kind: 'drop-before' },
  { kind: 'slow', ms: 300 },
];

test('each fault, injected at the claim of a first push and at the data request of a later one', async () => {
  for (const fault of FAULTS) {
    const file = path.join(dir, `one-${fault.kind}-${fault.status ?? ''}.sqlite`);
    generate(file, 0.05);
    const db = await api.fresh();
    api.faults.clear();
    api.faults.next(fault);
    const started = Date.now();
    const first = await runCli(['push', file, ...at(db), '--timeout', '1500', '--json'], { api });
    assert.equal(first.code, 0, `${JSON.stringify(fault)}: ${first.stderr}${first.stdout}`);
    if (fault.retryAfter) {
      // Retry-After is honoured: the retry came no sooner than the API asked.
      assert.ok(Date.now() - started >= fault.retryAfter * 1000, 'Retry-After was honoured');
    }
    await expectFileEqualsD1(assert, file, db.d1);
    sqlite(file, `UPDATE notes SET txt = 'after ${fault.kind}' WHERE id % 3 = 0;`);
    api.faults.next({ kind: 'slow', ms: 0 }, fault);
    const second = await runCli(['push', file, ...at(db), '--timeout', '1500', '--json'], { api });
    assert.equal(second.code, 0, `${JSON.stringify(fault)}: ${second.stderr}`);
    if (fault.kind !== 'slow') assert.ok(second.json.health.retries >= 1, 'the fault cost a retry');
    await expectFileEqualsD1(assert, file, db.d1);
  }
});

test('a fault on a quarter of all requests, seeded: the push converges', async () => {
  for (const [seed, fault] of [
    [1, { kind: 'drop-after-commit' }],
    [2, { kind: 'status', status: 503 }],
    [3, { kind: 'drop-before' }],
  ]) {
    const file = path.join(dir, `random-${seed}.sqlite`);
    generate(file, 0.2);
    const db = await api.fresh();
    api.faults.clear();
    api.faults.every({ ...fault, rate: 0.25, seed });
    const r = await runCli(['push', file, ...at(db), '--timeout', '1500', '--json'], { api });
    api.faults.every(null);
    assert.equal(r.code, 0, `${JSON.stringify(fault)}: ${r.stderr}`);
    assert.ok(api.stats().faultsInjected > 0);
    await expectFileEqualsD1(assert, file, db.d1);
  }
});

test('D1 down for longer than --retry-for: exit 6, and the next push resumes', async () => {
  const file = path.join(dir, 'down.sqlite');
  generate(file, 0.05);
  const db = await api.fresh();
  api.faults.clear();
  api.faults.every({ kind: 'status', status: 503, rate: 1, seed: 9 });
  const down = await runCli(['push', file, ...at(db), '--retry-for', '1500', '--json'], { api });
  api.faults.every(null);
  assert.equal(down.code, 6, down.stdout);
  assert.match(down.json.error.message, /retry|unavailable|gave up|budget/i);
  const up = await runCli(['push', file, ...at(db)], { api });
  assert.equal(up.code, 0, up.stderr);
  await expectFileEqualsD1(assert, file, db.d1);
});

test('--log info: the engine events on stderr as JSON lines, a retry among them, no row values', async () => {
  const file = path.join(dir, 'logged.sqlite');
  sqlite(
    file,
    `CREATE TABLE patients(email TEXT PRIMARY KEY, name TEXT, born INTEGER);
     WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<3000)
       INSERT INTO patients SELECT 'patient' || i || '@clinic.example', 'Name ' || i, 1900000 + i FROM c;`,
  );
  const db = await api.fresh();
  api.faults.clear();
  api.faults.next({ kind: 'slow', ms: 0 }, { kind: 'status', status: 503, retryAfter: 1 });
  const run = await runCli(['push', file, ...at(db), '--json', '--log', 'info'], { api });
  assert.equal(run.code, 0, run.stderr);
  const events = run.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  const names = new Set(events.map((e) => e.event));
  for (const name of ['claimed', 'schema', 'batch', 'progress', 'retry']) {
    assert.ok(names.has(name), `${name} missing from ${[...names]}`);
  }
  assert.equal(
    events.filter((e) => e.event === 'batch').reduce((n, e) => n + e.rows, 0),
    run.json.health.rowsReplicated,
  );
  assert.equal(events.find((e) => e.event === 'retry').code, 'D1_TRANSIENT');
  assert.doesNotMatch(run.stderr, /clinic\.example|Name \d|1900\d{3}/);
  assert.equal(await expectFileEqualsD1(assert, file, db.d1, ['patients']), 3000);

  // Off by default, and a level it does not know is a usage error.
  sqlite(file, `UPDATE patients SET name = 'changed' WHERE rowid % 7 = 0;`);
  const quiet = await runCli(['push', file, ...at(db), '--json'], { api });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /"level"/);
  const bad = await runCli(['push', file, ...at(db), '--log', 'loud'], { api });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--log/);
});
