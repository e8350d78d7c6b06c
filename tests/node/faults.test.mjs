// Faults between the engine and real local D1: lost answers, every transient message SPEC
// lists, limit errors, rows D1 refuses, restarts, and writers fencing each other. Mirrors
// tests/native/test_faults.cpp. Backoff waits are real time here: fault counts stay small.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1,
  openLocal,
  run,
  localValue,
  d1Value,
  expectSame,
  replicator,
  sync,
  seq,
  recordingTarget,
  D1SyncError,
  PENDING_OUTBOX,
  createReplicator,
  sqliteWasmSource,
  d1BindingTarget,
} from './helpers.mjs';

const SCHEMA = `
  CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB);
  CREATE TABLE pairs(a TEXT NOT NULL, b INTEGER NOT NULL, v TEXT, PRIMARY KEY(a, b));
  CREATE TABLE loose(x, y);
`;

function fill(db, from, to) {
  run(
    db,
    `BEGIN;
    ${seq(from, to - 1)} INSERT OR REPLACE INTO items SELECT i, 'item ' || i, i + 0.5, randomblob(16) FROM n;
    ${seq(from, to - 1)} INSERT OR REPLACE INTO pairs SELECT 'k' || (i % 7), i, 'v' || i FROM n;
    ${seq(from, to - 1)} INSERT INTO loose SELECT i, 'y' || i FROM n;
    COMMIT;`,
  );
}

function mutate(db, round) {
  run(
    db,
    `UPDATE items SET name = 'changed ${round}' WHERE id % 5 = ${round % 5};
    DELETE FROM pairs WHERE b % 11 = ${round % 11};
    INSERT INTO loose VALUES (${round}, 'again');
    DELETE FROM loose WHERE rowid % 13 = ${round % 13};`,
  );
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
before(async () => {
  env = await startD1();
});
after(async () => {
  await env?.dispose();
});

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
    const again = target.batches
      .slice(sentBefore)
      .filter((b) => b !== lost && b.some((s) => data.includes(s)));
    assert.equal(again.length, 0, `the lost batch was re-sent:\n${again.flat().join('\n')}`);
  }
  assert.equal(target.lost.length, 4);
  assert.equal(r.health().retries, 4);
  assert.equal(
    await d1Value(d1, 'SELECT count(*) FROM loose'),
    localValue(db, 'SELECT count(*) FROM loose'),
  );
  r.close();
});

test('lost answers to the claim and to initial copy batches', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 120);
  const target = recordingTarget(d1);
  target.failNext('Network connection lost.', { afterCommit: true }); // the claim
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
  await assert.rejects(
    r.flush(),
    (e) => isCode('D1_TRANSIENT')(e) && /overloaded/.test(e.d1Message),
  );
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
  await d1
    .prepare(
      `CREATE TABLE items(id INTEGER, name TEXT CHECK (name <> 'poison'), price REAL,
    data BLOB, PRIMARY KEY (id))`,
    )
    .run();
  run(db, "UPDATE items SET name = 'poison' WHERE id = 17");
  const r = await replicator(db, d1);
  const h = await sync(r); // resolves: the refusal is reported, not thrown
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
  run(
    db,
    `CREATE TABLE parent(id INTEGER PRIMARY KEY);
    CREATE TABLE child(id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id));
    INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1), (2, 1);`,
  );
  const target = recordingTarget(d1);
  const r = await replicator(db, target, { schema: 'strict' });
  await sync(r);
  await expectSame(assert, db, d1, 'parent');
  await expectSame(assert, db, d1, 'child');
  const sentBefore = target.batches.length + target.failed.length;
  run(
    db,
    'UPDATE child SET p = 99 WHERE id = 2; INSERT INTO parent VALUES (5); INSERT INTO child VALUES (3, 5);',
  );
  await r.flush();
  const q = r.quarantined();
  assert.equal(q.length, 1, JSON.stringify(q));
  assert.equal(q[0].table, 'child');
  assert.equal(q[0].key, '2');
  assert.equal(q[0].code, 'D1_CONSTRAINT');
  assert.match(q[0].error, /FOREIGN KEY constraint failed/);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM parent WHERE id = 5'), 1);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM child WHERE id = 3'), 1);
  assert.equal(
    await d1Value(d1, 'SELECT p FROM child WHERE id = 2'),
    1,
    'D1 keeps the last good row',
  );
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
  await sync(second); // claims a new epoch
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
  await assert.rejects(
    intruder.start(),
    (e) => isCode('FENCED')(e) && /takeover/.test(e.message) && /shared/.test(e.message),
  );
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
  await d1.batch(
    ['DROP TABLE items', 'DROP TABLE pairs', 'DROP TABLE loose', 'DROP TABLE _d1sync_sources'].map(
      (s) => d1.prepare(s),
    ),
  );
  mutate(db, 1);
  await r.flush();
  await expectAll(db, d1);
  r.close();
});

// Issue 10: no quiet failures, and the drive policy in the engine.

// A source whose exec() fails while `failing(sql)` says so, as a storage error would.
function flakySource(db, failing) {
  const inner = sqliteWasmSource(db);
  return {
    kind: 'flaky',
    exec(sql) {
      return failing(sql)
        ? { ok: false, error: 'disk I/O error (injected)', columns: 0, cells: '' }
        : inner.exec(sql);
    },
    transaction: (fn) => inner.transaction(fn),
  };
}

test('issue 10: a local read failing in the change pages rejects flush() and shows backoff', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 10);
  let broken = false;
  const source = flakySource(db, (sql) => broken && sql.includes('FROM _d1sync_log WHERE seq>'));
  const r = await createReplicator({
    source,
    target: d1BindingTarget(d1),
    sourceId: 'src-1',
    flushRetryMs: 0,
  });
  await sync(r);
  mutate(db, 1);
  broken = true;
  await assert.rejects(
    r.flush(),
    (e) => isCode('INTERNAL')(e) && /disk I\/O error/.test(e.message),
  );
  const h = r.health();
  assert.equal(h.state, 'backoff');
  assert.equal(h.healthy, false);
  assert.match(h.lastError, /disk I\/O error/);
  // health() reads the outbox through the same broken source: an error, not zeros.
  assert.equal(h.pendingChanges, null);
  assert.match(h.error, /disk I\/O error/);
  await r.onAlarm(); // swallowed: not terminal
  broken = false;
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, r.nextRetryAt() - Date.now()) + 5),
  );
  await r.onAlarm();
  await expectAll(db, d1);
  assert.equal(r.health().healthy, true);
  assert.equal(r.health().pendingChanges, 0);
  r.close();
});

test('issue 10: health().nextRetryAt and nextRetryAt() agree', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 10);
  const target = recordingTarget(d1);
  const r = await replicator(db, target, { flushRetryMs: 0 });
  const realNow = Date.now;
  const same = () => {
    const at = r.nextRetryAt();
    Date.now = () => realNow() + 3; // the two calls a few ms apart
    try {
      assert.equal(r.health().nextRetryAt, at);
    } finally {
      Date.now = realNow;
    }
    return at;
  };
  assert.equal(typeof same(), 'number', 'before the start: due');
  await sync(r);
  assert.equal(same(), null, 'idle');
  mutate(db, 1);
  assert.ok(same() <= Date.now(), 'pending: due now');
  target.failNext('Network connection lost.');
  await assert.rejects(r.flush(), isCode('D1_TRANSIENT'));
  assert.ok(same() > Date.now() - 1000, 'backoff: the retry time');
  r.close();
});

test('issue 10: close() during a running flush() rejects it cleanly and frees the engine after', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 50);
  const real = d1BindingTarget(d1);
  let release;
  const gate = new Promise((resolve) => {
    release = resolve;
  });
  let hold = false;
  let held = false;
  const target = {
    kind: 'slow',
    async batch(statements) {
      if (hold && !held) {
        held = true; // the flush's first batch stays in flight
        await gate;
      }
      return real.batch(statements);
    },
  };
  const r = await replicator(db, target);
  const flushing = r.start().then(() => {
    hold = true;
    return r.flush();
  });
  while (!held) await new Promise((resolve) => setTimeout(resolve, 5));
  r.close();
  assert.throws(() => r.health(), isCode('CONFIG'));
  release();
  await assert.rejects(flushing, (e) => isCode('CONFIG')(e) && /closed/.test(e.message));
  // A new replicator over the same database carries on where it stopped.
  const again = await replicator(db, d1);
  await sync(again);
  await expectAll(db, d1);
  again.close();

  // close() while flush() sleeps through a backoff wakes it up.
  const target2 = recordingTarget(d1);
  const r2 = await replicator(db, target2, { flushRetryMs: 60000 });
  await sync(r2);
  mutate(db, 2);
  for (let i = 0; i < 8; ++i)
    target2.failNext('D1 DB is overloaded. Requests queued for too long.');
  const started = Date.now();
  const sleeping = r2.flush();
  await new Promise((resolve) => setTimeout(resolve, 50));
  r2.close();
  await assert.rejects(sleeping, isCode('CONFIG'));
  assert.ok(Date.now() - started < 5000, 'the backoff sleep ended at close()');
});

test('issue 10: every numeric option is validated', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  const bad = [
    [{ flushRetryMs: NaN }, /flushRetryMs/],
    [{ flushRetryMs: -1 }, /flushRetryMs/],
    [{ flushRetryMs: 1.5 }, /flushRetryMs/],
    [{ flushRetryMs: Infinity }, /flushRetryMs/],
    [{ flushRetryMs: 1e12 }, /flushRetryMs/],
    [{ flushRetryMs: '10' }, /flushRetryMs/],
    [{ limits: { pageChanges: NaN } }, /limits\.pageChanges/],
    [{ limits: { copyPageRows: -5 } }, /limits\.copyPageRows/],
    [{ limits: { statementBytes: 1000.5 } }, /limits\.statementBytes/],
    [{ limits: { batchBytes: 1e300 } }, /limits\.batchBytes/],
    [{ limits: { pageBytes: Infinity } }, /limits\.pageBytes/],
    [{ limits: { vdbeOps: 0 } }, /limits\.vdbeOps/],
  ];
  for (const [options, name] of bad) {
    await assert.rejects(
      replicator(db, d1, options),
      (e) => isCode('CONFIG')(e) && name.test(e.message),
      JSON.stringify(options),
    );
  }
  const r = await replicator(db, d1);
  await assert.rejects(
    r.flush({ maxBatches: NaN }),
    (e) => isCode('CONFIG')(e) && /maxBatches/.test(e.message),
  );
  await assert.rejects(r.flush({ maxBatches: -1 }), isCode('CONFIG'));
  assert.throws(() => r.quarantined({ limit: 1.5 }), isCode('CONFIG'));
  r.close();
});

test('issue 10: the quarantine list is paged', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  run(
    db,
    "INSERT INTO items VALUES (1, 'poison', 1, NULL), (2, 'poison', 2, NULL), (3, 'poison', 3, NULL)",
  );
  await d1
    .prepare(
      `CREATE TABLE items(id INTEGER, name TEXT CHECK (name <> 'poison'), price REAL,
    data BLOB, PRIMARY KEY (id))`,
    )
    .run();
  const r = await replicator(db, d1);
  await sync(r);
  const all = r.quarantined();
  assert.equal(all.length, 3);
  const first = r.quarantined({ limit: 2 });
  assert.deepEqual(first, all.slice(0, 2));
  assert.deepEqual(r.quarantined({ after: first[1].id }), all.slice(2));
  r.close();
});

// lookAhead 2: the engine saved the id of the batch it sends ahead, but the local transaction
// around that call failed. The batch must not leave (a commit D1 then held would not be
// recognised after a restart): it is answered as not sent, and the engine asks D1.
test('a batch sent ahead whose local transaction failed is not sent, and nothing is lost', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, SCHEMA);
  fill(db, 0, 400);
  const inner = sqliteWasmSource(db);
  let failIn = 0; // the transaction, counted from the next one, that fails after its work
  const source = {
    kind: inner.kind,
    exec: (sql) => inner.exec(sql),
    transaction(fn) {
      const result = inner.transaction(fn);
      if (failIn > 0 && --failIn === 0) throw new Error('disk I/O error (test)');
      return result;
    },
  };
  const real = d1BindingTarget(d1);
  let armed = false;
  const target = {
    batch(statements) {
      // The first copy batch: while it is out come the look-ahead's transaction, then
      // sendAhead's, which fails.
      if (armed) {
        armed = false;
        failIn = 2;
      }
      return real.batch(statements);
    },
  };
  const r = await createReplicator({
    source,
    target,
    sourceId: 'src-1',
    lookAhead: 2,
    limits: { copyPageRows: 200 },
  });
  await r.start();
  armed = true;
  await r.flush();
  const h = r.health();
  assert.equal(failIn, 0, 'the failing transaction happened');
  assert.match(h.lastError, /not sent: disk I\/O error \(test\)/);
  assert.equal(h.state, 'idle');
  assert.equal(h.initialSync.done, true);
  await expectSame(assert, db, d1, 'items');
  r.close();
});
