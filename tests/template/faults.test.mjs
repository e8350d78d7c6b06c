// The worker-template when D1 fails: tests/template/fixture.js hands the template's Durable
// Object a D1 binding whose batch() throws D1's overload error while a per-room flag is on.
// Writes keep succeeding locally, health() says 'backoff', and once D1 recovers the Durable
// Object's own alarm (run for real by Miniflare) catches D1 up, with no further write. The
// fixture switches the fault off as the room's next alarm() begins, so the catch-up is the
// alarm's doing and the test waits for one alarm only (the backoff after a failed alarm grows
// to 16-60 s, too slow for this suite).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertD1MatchesRoom, d1Tasks, startTemplate, waitFor, waitIdle } from './helpers.mjs';

// Real alarms: the backoff starts at 250 ms and doubles (with jitter); the template's flush
// retries inside the request's flush for up to 10 s before leaving it to the alarm. These
// caps only guard against a hang.
const SLOW = { every: 200, maxIterations: 450 };

// The two tests use different rooms and wait on real alarms: they run side by side.
describe('worker-template: D1 overloaded', { concurrency: 2 }, () => {
  let t;
  before(async () => {
    t = await startTemplate('tests/template/fixture.js');
  });
  after(async () => {
    await t?.dispose();
  });

  // The fixture names the room's Durable Object by its room_id, `tenant/room`.
  const controls = (room) => ({
    fault: (on, untilAlarm) =>
      t.api.expect(200, 'POST', `/__fault/${t.api.roomId(room)}`, { on, untilAlarm }),
    info: () => t.api.expect(200, 'GET', `/__fault/${t.api.roomId(room)}`),
  });

  test('writes succeed during the fault; the alarm alone catches D1 up after it', async (ctx) => {
    const { mf, api } = t;
    const ROOM = 'overloaded';
    const { fault, info } = controls(ROOM);

    for (let i = 1; i <= 4; ++i) await api.addTask(ROOM, `before ${i}`);
    await api.patchTask(ROOM, 1, { done: true });
    await waitIdle(api, [ROOM]);
    const before = await assertD1MatchesRoom(mf, api, ROOM);
    const d1Before = await d1Tasks(mf, api.roomId(ROOM));

    // D1 starts failing. The writes still land in the room.
    assert.equal((await fault(true)).on, true);
    const added = [];
    for (let i = 1; i <= 4; ++i) added.push(await api.addTask(ROOM, `during ${i}`));
    const renamed = await api.patchTask(ROOM, 2, { title: 'renamed during the fault' });
    await api.deleteTask(ROOM, 3);
    await api.patchTask(ROOM, added[0].id, { done: true });
    const listing = await api.listTasks(ROOM);
    assert.deepEqual(
      listing.map((r) => r.id),
      [1, 2, 4, ...added.map((r) => r.id)],
    );
    assert.equal(listing.find((r) => r.id === 2).title, renamed.title);
    assert.equal(listing.find((r) => r.id === added[0].id).done, 1);
    for (const [i, task] of added.entries())
      assert.equal(listing.find((r) => r.id === task.id).title, `during ${i + 1}`);

    const h = await waitFor('health to report backoff', async () => {
      const health = await api.health(ROOM);
      return health.state === 'backoff' ? health : null;
    });
    assert.equal(h.healthy, false);
    assert.match(h.lastError ?? '', /overloaded/);
    assert.equal(typeof h.nextRetryAt, 'number', `nextRetryAt ${h.nextRetryAt}`);
    assert.ok(h.nextRetryAt > 0);
    assert.ok(h.pendingChanges > 0, `pendingChanges ${h.pendingChanges}`);
    assert.ok(h.appliedSeq < h.capturedSeq);
    assert.ok(h.syncErrors >= 1);
    // Readers of D1 still see the state from before the fault, whole.
    assert.deepEqual(await d1Tasks(mf, api.roomId(ROOM)), d1Before);
    assert.deepEqual(
      await api.expect(200, 'GET', `/tasks?room=${ROOM}&limit=1000`),
      before.map((r) => ({ room_id: api.roomId(ROOM), ...r })),
    );
    const metrics = await api.call('GET', '/metrics');
    const errors = metrics.text
      .split('\n')
      .find((l) =>
        l.startsWith(`d1sync_syncs_total{source="room:${api.roomId(ROOM)}",status="error"}`),
      );
    assert.ok(errors && Number(errors.split(' ').pop()) >= 1, `metrics: ${errors}`);

    // D1 recovers as the room's next alarm begins (the fixture clears the fault at the start
    // of alarm(), before the template's code runs). No more writes: the flushes the requests
    // started give up after their in-call retries (10 s), and the alarm they scheduled at
    // nextRetryAt() must bring D1 up to date.
    const armed = await fault(true, true);
    assert.equal(armed.untilAlarm, true);
    assert.equal(armed.alarmBatchesOk, 0);
    const started = Date.now();
    const [recovered] = await waitIdle(api, [ROOM], SLOW);
    const end = await info();
    ctx.diagnostic(
      `D1 caught up ${Date.now() - started} ms after the fault was armed to clear at the next alarm`,
    );
    ctx.diagnostic(
      `fault stats when cleared ${JSON.stringify(end.cleared)}, at the end ${JSON.stringify(end)}`,
    );
    assert.equal(end.on, false);
    assert.ok(end.cleared, 'an alarm ran and cleared the fault');
    assert.equal(end.cleared.ok, armed.ok, 'nothing reached D1 before the alarm');
    assert.ok(end.cleared.thrown >= 1);
    assert.equal(end.thrown, end.cleared.thrown, 'no failure after the fault was cleared');
    assert.ok(end.alarmBatchesOk > 0, 'the alarm sent the catch-up batches');
    assert.equal(
      end.ok - end.cleared.ok,
      end.alarmBatchesOk - end.cleared.alarmBatchesOk,
      'every batch D1 accepted after the fault was sent while alarm() ran',
    );
    // After catching up, the one alarm is set for the room's own daily work, not left behind.
    assert.ok(end.alarmAt > Date.now() + 60 * 60 * 1000, `alarm at ${end.alarmAt}`);

    // Nothing lost: D1 equals the room, which is what the requests left.
    const rows = await assertD1MatchesRoom(mf, api, ROOM);
    assert.deepEqual(rows, listing);
    assert.equal(recovered.healthy, true);
    assert.equal(recovered.nextRetryAt, null, 'no retry left pending');
    assert.equal(recovered.capturedSeq, h.capturedSeq, 'no write happened after the fault');
    assert.equal(recovered.appliedSeq, recovered.capturedSeq);
    assert.ok(recovered.retries >= 1 && recovered.syncErrors >= 1);
    assert.ok(recovered.lastSuccessAt > h.lastSuccessAt, 'D1 accepted a batch after the fault');
  });

  test("D1 down at a room's first start: writes succeed, the alarm finishes the start and the copy", async (ctx) => {
    const { mf, api } = t;
    const ROOM = 'down-at-start';
    const { fault, info } = controls(ROOM);
    assert.equal((await fault(true)).on, true); // before the room's replicator ever ran

    const added = [];
    for (let i = 1; i <= 3; ++i) added.push(await api.addTask(ROOM, `offline ${i}`));
    await api.patchTask(ROOM, added[0].id, { done: true });
    await api.deleteTask(ROOM, added[1].id);
    const listing = await api.listTasks(ROOM);
    assert.deepEqual(
      listing.map((r) => r.id),
      [added[0].id, added[2].id],
    );
    assert.equal(listing[0].done, 1);

    const h = await waitFor('health to report backoff', async () => {
      const health = await api.health(ROOM);
      return health.state === 'backoff' ? health : null;
    });
    assert.equal(h.healthy, false);
    assert.match(h.lastError ?? '', /overloaded/);
    assert.equal(typeof h.nextRetryAt, 'number');
    assert.equal(h.initialSync.done, false, 'the initial copy cannot have happened');
    assert.equal(h.rowsReplicated, 0);
    assert.deepEqual(await d1Tasks(mf, api.roomId(ROOM)), []);

    const armed = await fault(true, true);
    assert.equal(armed.ok, 0, 'D1 has accepted nothing from this room');
    const started = Date.now();
    const [recovered] = await waitIdle(api, [ROOM], SLOW);
    const end = await info();
    ctx.diagnostic(
      `D1 caught up ${Date.now() - started} ms after the fault was armed to clear at the next alarm`,
    );
    assert.ok(end.cleared, 'an alarm ran and cleared the fault');
    assert.equal(end.cleared.ok, 0);
    assert.equal(end.thrown, end.cleared.thrown, 'no failure after the fault was cleared');
    assert.ok(end.alarmBatchesOk > 0);
    assert.equal(end.ok, end.alarmBatchesOk, 'every batch D1 accepted was sent while alarm() ran');

    assert.equal(recovered.initialSync.done, true);
    assert.equal(recovered.healthy, true);
    assert.equal(recovered.sourceId, `room:${api.roomId(ROOM)}`);
    assert.deepEqual(await assertD1MatchesRoom(mf, api, ROOM), listing);
  });
});
