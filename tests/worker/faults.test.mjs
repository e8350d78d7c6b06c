// D1 errors seen from inside the Durable Object: the fixture wraps the D1 binding so the next N
// batch() calls throw D1's overload message. Local writes keep succeeding, health() reports
// backoff, and once the fault clears a flush catches D1 up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertReplicated, dumpD1, room, startMiniflare } from './harness.mjs';

const OVERLOADED = 'D1 DB is overloaded. Too many requests queued.';
const ITEMS = { table: 'items', columns: ['id', 'n', 'r', 't', 'b'] };
const SCHEMA = ['CREATE TABLE items(id INTEGER PRIMARY KEY, n INTEGER, r REAL, t TEXT, b BLOB)'];

describe('D1 failures inside the Durable Object', () => {
  let mf;
  before(async () => {
    mf = await startMiniflare();
  });
  after(async () => {
    await mf?.dispose();
  });

  test('overload: writes succeed locally, health is backoff, D1 catches up after', async () => {
    const r = room(mf, 'faulty');
    // flushRetryMs 0: flush() rejects on the first transient failure instead of retrying
    // inside the call, so the backoff state is observable; the retry is driven as an alarm
    // would (wait until nextRetryAt(), flush again).
    await r.configure({ sourceId: 'faulty', schema: SCHEMA, flushRetryMs: 0 });
    await r.exec(`INSERT INTO items VALUES (1, 1, 1.0, 'before the fault', NULL)`);
    assert.equal((await r.flush()).flushed, true);

    await r.fault(3, OVERLOADED);
    const writes = await r.exec(
      `INSERT INTO items VALUES (2, 9223372036854775807, 0.5, 'during' || char(0) || 'fault', X'00FF')`,
      `UPDATE items SET t = 'updated during the fault' WHERE id = 1`,
      `INSERT INTO items VALUES (3, -3, -0.5, 'x', X'')`,
      `SELECT count(*) FROM items`,
    );
    assert.equal(writes[3][0][0], 3, 'the writes landed in the DO');

    const failed = await r.flush();
    assert.equal(failed.flushed, false);
    assert.equal(failed.error.name, 'D1SyncError');
    assert.equal(failed.error.code, 'D1_TRANSIENT');
    assert.match(failed.error.d1Message ?? failed.error.message, /D1 DB is overloaded/);
    assert.equal(failed.health.state, 'backoff');
    assert.equal(failed.health.healthy, false);
    assert.equal(failed.health.pendingChanges, 3);
    assert.ok(failed.health.syncErrors >= 1);
    assert.match(failed.health.lastError, /D1 DB is overloaded/);
    // D1 still has the state from before the fault.
    const stale = await dumpD1(mf, ITEMS);
    assert.equal(stale.length, 1);
    assert.equal(Buffer.from(stale[0].t.hex, 'hex').toString(), 'before the fault');
    // More local writes while D1 is failing.
    await r.exec(
      `DELETE FROM items WHERE id = 3`,
      `INSERT INTO items VALUES (4, 4, 4.0, 'more', NULL)`,
    );
    assert.equal((await r.health()).state, 'backoff');

    // Retries as the alarm would drive them: the remaining faults are consumed, then D1
    // catches up.
    const drained = await r.drain({ maxAttempts: 10 });
    assert.equal(drained.flushed, true, JSON.stringify(drained.errors));
    const { faults } = await r.faults();
    assert.equal(faults.remaining, 0);
    assert.equal(faults.thrown, 3);
    assert.ok(
      drained.errors.every((e) => e.code === 'D1_TRANSIENT'),
      JSON.stringify(drained.errors),
    );
    assert.equal(drained.health.pendingChanges, 0);
    assert.equal(drained.health.state, 'idle');
    assert.equal(drained.health.healthy, true);
    assert.ok(drained.health.retries >= 1);
    const rows = await assertReplicated(mf, r, ITEMS);
    assert.deepEqual(
      rows.map((row) => Buffer.from(row.id.hex, 'hex').toString()),
      ['1', '2', '4'],
    );
  });

  test('a fault during the initial copy delays it, never loses or doubles rows', async () => {
    const r = room(mf, 'faulty-copy');
    await r.exec(
      ...SCHEMA,
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000)
       INSERT INTO items SELECT i, i, i / 3.0, 'copy ' || i, NULL FROM s`,
    );
    await r.configure({ sourceId: 'faulty-copy', limits: { copyPageRows: 100 }, flushRetryMs: 0 });
    const some = await r.flush({ maxBatches: 3 });
    assert.equal(some.flushed, true, JSON.stringify(some.error));
    assert.equal(some.health.initialSync.done, false);
    await r.fault(2, OVERLOADED);
    const failed = await r.flush();
    assert.equal(failed.flushed, false);
    assert.equal(failed.error.code, 'D1_TRANSIENT');
    assert.equal(failed.health.state, 'backoff');
    await r.exec(`UPDATE items SET t = 'changed while failing' WHERE id = 999`);
    const drained = await r.drain({ maxAttempts: 10 });
    assert.equal(drained.flushed, true, JSON.stringify(drained.errors));
    assert.equal(drained.health.initialSync.done, true);
    const rows = await assertReplicated(mf, r, ITEMS);
    assert.equal(rows.length, 1000);
  });

  test('with the default flushRetryMs a short outage is absorbed inside flush()', async () => {
    const r = room(mf, 'absorbing');
    await r.configure({ sourceId: 'absorbing', schema: SCHEMA });
    await r.fault(2, 'Network connection lost.');
    await r.exec(`INSERT INTO items VALUES (1, 1, 1.5, 'through a flaky network', X'AA')`);
    const f = await r.flush();
    assert.equal(f.flushed, true, JSON.stringify(f.error));
    assert.equal((await r.faults()).faults.thrown, 2);
    // Both failed requests are counted; with two batches in flight (lookAhead 2) they can fail
    // together and be retried as one.
    assert.ok(f.health.syncErrors >= 2, JSON.stringify(f.health));
    assert.ok(f.health.retries >= 1, JSON.stringify(f.health));
    assert.equal(f.health.state, 'idle');
    await assertReplicated(mf, r, ITEMS);
  });

  test('"no such table" is a schema problem: re-read and migrated, not retried as transient', async () => {
    const r = room(mf, 'broken');
    await r.configure({ sourceId: 'broken', schema: SCHEMA, flushRetryMs: 0 });
    await r.exec(`INSERT INTO items VALUES (1, 1, 1.5, 'x', NULL)`);
    await r.fault(1, 'D1_ERROR: no such table: items: SQLITE_ERROR');
    const f = await r.flush();
    assert.equal(f.flushed, true, JSON.stringify(f.error));
    assert.equal((await r.faults()).faults.thrown, 1);
    assert.equal(f.health.retries, 0, 'not counted as a transient retry');
    assert.ok(f.health.syncErrors >= 1);
    assert.match(f.health.lastError, /no such table/);
    assert.equal(f.health.pendingChanges, 0);
    await assertReplicated(mf, r, ITEMS);
  });

  test('a constraint failure on one row quarantines it; retryQuarantined() re-sends it', async () => {
    const r = room(mf, 'constraint');
    await r.configure({ sourceId: 'constraint', schema: SCHEMA, flushRetryMs: 0 });
    await r.exec(`INSERT INTO items VALUES (1, 1, 1.5, 'fine', NULL)`);
    assert.equal((await r.flush()).flushed, true);
    await r.exec(`INSERT INTO items VALUES (2, 2, 2.5, 'refused once', X'02')`);
    // A lone row refused once is sent once more; refused again, it is quarantined.
    await r.fault(2, 'D1_ERROR: UNIQUE constraint failed: items.id: SQLITE_CONSTRAINT');
    const f = await r.flush();
    assert.equal(f.flushed, true, JSON.stringify(f.error));
    assert.equal(f.health.quarantined, 1);
    const q = (await r.ok('quarantined')).quarantined;
    assert.equal(q.length, 1);
    assert.equal(q[0].code, 'D1_CONSTRAINT');
    assert.equal(q[0].key, '2');
    assert.match(q[0].error, /UNIQUE constraint failed/);
    assert.equal((await dumpD1(mf, ITEMS)).length, 1, 'the refused row is not in D1');
    const retried = await r.ok('retryQuarantined');
    assert.equal(retried.quarantined.length, 0);
    assert.equal(retried.health.quarantined, 0);
    const rows = await assertReplicated(mf, r, ITEMS);
    assert.equal(rows.length, 2);
  });

  test('the DO alarm drives the retries: onAlarm() + nextRetryAt() catch D1 up', async () => {
    const r = room(mf, 'alarmed');
    await r.configure({ sourceId: 'alarmed', schema: SCHEMA, flushRetryMs: 0 });
    await r.fault(2, OVERLOADED);
    await r.exec(`INSERT INTO items VALUES (1, 1, 0.25, 'via the alarm', X'A1')`);
    const failed = await r.flush();
    assert.equal(failed.flushed, false);
    assert.equal(failed.health.state, 'backoff');
    const scheduled = await r.ok('scheduleAlarm');
    assert.equal(typeof scheduled.at, 'number', 'a retry is due after a transient failure');
    // Wait for the alarm chain to finish the work (polling, no timing assertion).
    let info;
    for (let i = 0; i < 200; ++i) {
      info = await r.ok('alarmInfo');
      if (info.health.state === 'idle' && info.health.pendingChanges === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(info.health.state, 'idle', JSON.stringify(info));
    assert.ok(info.alarmRuns >= 1);
    assert.deepEqual(info.alarmErrors, [], 'transient failures are swallowed by onAlarm()');
    assert.equal(info.alarm, null, 'no alarm left once nothing is due');
    assert.equal((await r.faults()).faults.thrown, 2);
    await assertReplicated(mf, r, ITEMS);
  });
});
