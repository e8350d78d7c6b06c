// Faults between the engine and real local D1: lost answers, every transient message SPEC
// lists, limit errors, rows D1 refuses, restarts, and writers fencing each other. Mirrors
// tests/native/test_faults.cpp. Backoff waits are real time here: fault counts stay small.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1, openLocal, run, localValue, d1Value, expectSame, replicator, sync, seq,
  recordingTarget, D1SyncError, PENDING_OUTBOX } from './helpers.mjs';

const SCHEMA = `
  CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB);
  CREATE TABLE pairs(a TEXT NOT NULL, b INTEGER NOT NULL, v TEXT, PRIMARY KEY(a, b));
  CREATE TABLE loose(x, y);
`;

function fill(db, from, to) {
  run(db, `BEGIN;
    ${seq(from, to - 1)} INSERT OR REPLACE INTO items SELECT i, 'item ' || i, i + 0.5, randomblob(16) FROM n;
    ${seq(from, to - 1)} INSERT OR REPLACE INTO pairs SELECT 'k' || (i % 7), i, 'v' || i FROM n;
    ${seq(from, to - 1)} INSERT INTO loose SELECT i, 'y' || i FROM n;
    COMMIT;`);
}

function mutate(db, round) {
  run(db, `UPDATE items SET name = 'changed ${round}' WHERE id % 5 = ${round % 5};
    DELETE FROM pairs WHERE b % 11 = ${round % 11};
    INSERT INTO loose VALUES (${round}, 'again');
    DELETE FROM loose WHERE rowid % 13 = ${round % 13};`);
}

async function expectAll(db, d1) {
  await expectSame(assert, db, d1, 'items');
  await expectSame(assert, db, d1, 'pairs');
  await expectSame(assert, db, d1, 'loose', { rowid: true });
}

const TRANSIENT = [
  'Network connection lost.',
  'D1 DB is overloaded. Requests queued for too long.',
  'D1 DB reset because its code was updated.',
  'Internal error in D1 DB storage caused object to be reset.',
  'Cannot resolve D1 DB due to transient issue on remote node.',
  'D1 DB storage operation exceeded timeout which caused object to be reset.',
];

const isCode = (code) => (e) => e instanceof D1SyncError && e.code === code;

let env;
before(async () => { env = await startD1(); });
after(async () => { await env?.dispose(); });

test('a lost answer after commit leaves no duplicate and loses nothing', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 100);
  const target = recordingTarget(d1);
  const r = await replicator(db, target, { flushRetryMs: 60000 });
  await sync(r);
  for (let i = 0; i < 4; ++i) {
    mutate(db, i);
    target.failNext('Network connection lost.', { afterCommit: true });
    const sentBefore = target.batches.length;
    await r.flush();
    await expectAll(db, d1);
    const h = r.health();
    assert.equal(h.appliedSeq, h.capturedSeq);
    assert.equal(await d1Value(d1, 'SELECT applied_seq FROM _d1sync_sources'), h.capturedSeq);
    assert.equal(h.pendingChanges, 0);
    // The lost batch was recognised as committed, not sent again.
    const lost = target.lost.at(-1);
    const data = lost.slice(1, -1);
    assert.ok(data.length > 0);
    const again = target.batches.slice(sentBefore)
      .filter((b) => b !== lost && b.some((s) => data.includes(s)));
    assert.equal(again.length, 0, `the lost batch was re-sent:\n${again.flat().join('\n')}`);
  }
  assert.equal(target.lost.length, 4);
  assert.equal(r.health().retries, 4);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM loose'), localValue(db, 'SELECT count(*) FROM loose'));
  r.close();
});

test('lost answers to the claim and to initial copy batches', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 120);
  const target = recordingTarget(d1);
  target.failNext('Network connection lost.', { afterCommit: true });  // the claim
  const copy = (b) => b.some((s) => s.startsWith('INSERT INTO "items"'));
  target.failNext('Network connection lost.', { afterCommit: true, when: copy });
  const r = await replicator(db, target, { limits: { copyPageRows: 30 }, flushRetryMs: 60000 });
  await r.start();
  await r.flush({ maxBatches: 3 });
  assert.equal(target.lost.length, 2);
  target.failNext('Network connection lost.', { afterCommit: true });
  mutate(db, 1);
  await r.flush();
  assert.equal(target.pendingFaults(), 0);
  await expectAll(db, d1);
  const h = r.health();
  assert.equal(h.initialSync.done, true);
  assert.equal(h.appliedSeq, h.capturedSeq);
  assert.equal(h.quarantined, 0);
  r.close();
});

test('every transient D1 message is retried with backoff', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 20);
  const target = recordingTarget(d1);
  const r = await replicator(db, target, { flushRetryMs: 60000 });
  await sync(r);
  let retries = r.health().retries;
  let round = 0;
  for (const message of TRANSIENT) {
    for (const text of [message, `D1_ERROR: ${message}`]) {
      mutate(db, ++round);
      target.failNext(text);
      const started = Date.now();
      await r.flush();
      await expectAll(db, d1);
      const h = r.health();
      retries += 1;
      assert.equal(h.retries, retries, text);
      assert.equal(h.lastErrorCode, 'D1_TRANSIENT', text);
      assert.equal(h.lastError, text);
      assert.equal(h.pendingChanges, 0, text);
      assert.ok(Date.now() - started >= 100, `backoff waited before retrying: ${text}`);
    }
  }
  assert.equal(target.failed.length, TRANSIENT.length * 2);
  r.close();
});

test('a flush that runs out of retry time rejects D1_TRANSIENT; onAlarm() finishes the work', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 20);
  const target = recordingTarget(d1);
  const r = await replicator(db, target, { flushRetryMs: 1 });
  await sync(r);
  mutate(db, 1);
  target.failNext('D1 DB is overloaded. Requests queued for too long.');
  await assert.rejects(r.flush(), (e) => isCode('D1_TRANSIENT')(e) && /overloaded/.test(e.d1Message));
  const h = r.health();
  assert.equal(h.state, 'backoff');
  assert.equal(h.healthy, false);
  assert.ok(h.pendingChanges > 0);
  const at = r.nextRetryAt();
  assert.ok(typeof at === 'number' && at > 0, `nextRetryAt() ${at}`);
  assert.match(r.metrics(), /d1sync_pending_changes\{source="src-1"\} [1-9]/);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now()) + 5));
  await r.onAlarm();
  await expectAll(db, d1);
  assert.equal(r.health().state, 'idle');
  assert.equal(r.nextRetryAt(), null);
  r.close();
});

test('limit errors split the batch and lose nothing', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 300);
  const target = recordingTarget(d1);
  const copy = (b) => b.some((s) => s.startsWith('INSERT INTO "items"'));
  target.failNext('D1_ERROR: statement too long: SQLITE_TOOBIG', { when: copy });
  target.failNext('D1_ERROR: too many SQL variables at offset 7: SQLITE_ERROR', { when: copy });
  target.failNext('D1_ERROR: out of memory: SQLITE_NOMEM', { when: copy });
  const r = await replicator(db, target);
  await sync(r);
  assert.equal(target.pendingFaults(), 0);
  await expectAll(db, d1);
  assert.equal(r.quarantined().length, 0);
  assert.equal(localValue(db, 'SELECT count(*) FROM _d1sync_quarantine'), 0);
  // The statement after a refusal carries fewer rows than the refused one.
  const refused = target.failed[0].reduce((n, s) => n + s.length, 0);
  const next = target.failed[1].reduce((n, s) => n + s.length, 0);
  assert.ok(next < refused, `split: ${refused} bytes refused, then ${next}`);
  r.close();
});

test('a row D1 refuses is quarantined and the rest arrives', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 50);
  // D1 already holds the table with a CHECK the local one lacks: one row can never enter.
  await d1.prepare(`CREATE TABLE items(id INTEGER, name TEXT CHECK (name <> 'poison'), price REAL,
    data BLOB, PRIMARY KEY (id))`).run();
  run(db, "UPDATE items SET name = 'poison' WHERE id = 17");
  const r = await replicator(db, d1);
  const h = await sync(r);  // resolves: the refusal is reported, not thrown
  const q = r.quarantined();
  assert.equal(q.length, 1, JSON.stringify(q));
  assert.equal(q[0].table, 'items');
  assert.equal(q[0].key, '17');
  assert.equal(q[0].code, 'D1_CONSTRAINT');
  assert.match(q[0].error, /CHECK constraint failed/);
  assert.equal(h.quarantined, 1);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM items'), 49);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM items WHERE id = 17'), 0);
  await expectSame(assert, db, d1, 'pairs');
  // Streaming: a later change to the bad row is refused again, others flow.
  run(db, 'UPDATE items SET price = 1 WHERE id IN (17, 18)');
  await r.flush();
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM items WHERE id = 18 AND price = 1'), 1);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM items WHERE id = 17'), 0);
  // Fixed locally and re-sent: it arrives.
  run(db, "UPDATE items SET name = 'fine' WHERE id = 17");
  await r.retryQuarantined();
  await expectSame(assert, db, d1, 'items');
  assert.equal(r.quarantined().length, 0);
  assert.equal(r.health().quarantined, 0);
  r.close();
});

test('strict mode: a deferred foreign key failing at commit quarantines the row, not retried forever', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  // The local database does not enforce foreign keys (SQLite's default): an orphan exists.
  run(db, `CREATE TABLE parent(id INTEGER PRIMARY KEY);
    CREATE TABLE child(id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id));
    INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1), (2, 1);`);
  const target = recordingTarget(d1);
  const r = await replicator(db, target, { schema: 'strict' });
  await sync(r);
  await expectSame(assert, db, d1, 'parent');
  await expectSame(assert, db, d1, 'child');
  const sentBefore = target.batches.length + target.failed.length;
  run(db, 'UPDATE child SET p = 99 WHERE id = 2; INSERT INTO parent VALUES (5); INSERT INTO child VALUES (3, 5);');
  await r.flush();
  const q = r.quarantined();
  assert.equal(q.length, 1, JSON.stringify(q));
  assert.equal(q[0].table, 'child');
  assert.equal(q[0].key, '2');
  assert.equal(q[0].code, 'D1_CONSTRAINT');
  assert.match(q[0].error, /FOREIGN KEY constraint failed/);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM parent WHERE id = 5'), 1);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM child WHERE id = 3'), 1);
  assert.equal(await d1Value(d1, 'SELECT p FROM child WHERE id = 2'), 1, 'D1 keeps the last good row');
  assert.ok(target.batches.length + target.failed.length - sentBefore < 20, 'bounded work');
  // D1 works normally after the reset that message announces.
  run(db, 'INSERT INTO parent VALUES (6)');
  await r.flush();
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM parent WHERE id = 6'), 1);
  r.close();
});

test('a stale replicator of the same database is fenced', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 10);
  const first = await replicator(db, d1);
  await sync(first);
  const second = await replicator(db, d1);
  await sync(second);  // claims a new epoch
  mutate(db, 1);
  await assert.rejects(first.flush(), isCode('FENCED'));
  assert.equal(first.health().state, 'error');
  assert.equal(first.health().healthy, false);
  assert.equal(first.nextRetryAt(), null);
  assert.ok(localValue(db, PENDING_OUTBOX) > 0, 'the changes wait in the outbox');
  await second.flush();
  await expectAll(db, d1);
  first.close();
  second.close();
});

test('a second database with the same sourceId is FENCED; with takeover it wins', async () => {
  const d1 = await env.fresh();
  const a = await openLocal();
  run(a, SCHEMA);
  fill(a, 0, 30);
  const first = await replicator(a, d1, { sourceId: 'shared' });
  await sync(first);

  const b = await openLocal();
  run(b, SCHEMA);
  fill(b, 500, 520);
  const intruder = await replicator(b, d1, { sourceId: 'shared' });
  await assert.rejects(intruder.start(), (e) => isCode('FENCED')(e) && /takeover/.test(e.message) && /shared/.test(e.message));
  await expectSame(assert, a, d1, 'items');
  // Writes go on locally and stay in the outbox while the database is fenced.
  mutate(b, 7);
  const pending = localValue(b, PENDING_OUTBOX);
  assert.ok(pending > 0);
  await assert.rejects(intruder.flush(), isCode('FENCED'));
  assert.equal(localValue(b, PENDING_OUTBOX), pending);
  intruder.close();
  // The first keeps replicating.
  mutate(a, 3);
  await first.flush();
  await expectAll(a, d1);

  const winner = await replicator(b, d1, { sourceId: 'shared', takeover: true });
  const h = await sync(winner);
  assert.equal(h.syncErrors, 0);
  await expectAll(b, d1);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM items WHERE id < 500'), 0);
  assert.equal(localValue(b, PENDING_OUTBOX), 0);
  // The previous owner is now the fenced one, and D1 stays the winner's.
  mutate(a, 4);
  await assert.rejects(first.flush(), isCode('FENCED'));
  await expectAll(b, d1);
  mutate(b, 5);
  await winner.flush();
  await expectAll(b, d1);
  first.close();
  winner.close();
});

test('a watermark that moved in D1 without this engine stops with FENCED, never skips', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 10);
  const r = await replicator(db, d1);
  await sync(r);
  await d1.prepare('UPDATE _d1sync_sources SET applied_seq = applied_seq + 5').run();
  mutate(db, 1);
  await assert.rejects(r.flush(), isCode('FENCED'));
  assert.ok(localValue(db, PENDING_OUTBOX) > 0, 'nothing dropped from the outbox');
  r.close();
});

test('a D1 that lost everything is refilled', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 40);
  const r = await replicator(db, d1);
  await sync(r);
  await d1.batch(['DROP TABLE items', 'DROP TABLE pairs', 'DROP TABLE loose', 'DROP TABLE _d1sync_sources']
    .map((s) => d1.prepare(s)));
  mutate(db, 1);
  await r.flush();
  await expectAll(db, d1);
  r.close();
});
