// The worker-template inside workerd: many rooms (SQLite-backed Durable Objects) written at
// once, each replicating into the one shared D1 `tasks` table; and a forced resync of one room
// after D1 was damaged behind d1sync's back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertD1MatchesRoom, d1Tasks, startTemplate, waitIdle } from './helpers.mjs';

// Deterministic pseudo-random choices, so a failure replays the same history.
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Titles that need exact transport: quotes, Unicode, a NUL byte, SQL-looking text.
function titleFor(room, i) {
  switch (i % 6) {
    case 1:
      return `${room} #${i}: it's "quoted"`;
    case 2:
      return `${room} #${i}: Ünïcødé ✓ 🚀`;
    case 3:
      return `${room} #${i}: nul\u0000inside`;
    case 4:
      return `${room} #${i}'); DROP TABLE tasks; --`;
    default:
      return `${room} task ${i}`;
  }
}

function pick(random, ids, exclude = new Set()) {
  const choices = ids.filter((id) => !exclude.has(id));
  return choices.length ? choices[Math.floor(random() * choices.length)] : undefined;
}

// 30 inserts per room in bursts of 5 concurrent POSTs, each burst followed by concurrent
// PATCHes and a DELETE on distinct live tasks. Returns the model: id -> { title, done }.
async function writeRoom(api, room, seed) {
  const random = prng(seed);
  const live = new Map();
  let n = 0;
  for (let burst = 0; burst < 6; ++burst) {
    const added = await Promise.all(
      Array.from({ length: 5 }, () => {
        const title = titleFor(room, ++n);
        return api.addTask(room, title).then((task) => ({ task, title }));
      }),
    );
    for (const { task, title } of added) {
      assert.equal(task.title, title);
      assert.equal(task.done, 0);
      assert.ok(!live.has(task.id), `room ${room}: id ${task.id} handed out twice`);
      live.set(task.id, { title, done: 0 });
    }
    const ids = [...live.keys()];
    const touched = new Set();
    const ops = [];
    for (let k = 0; k < 2; ++k) {
      const id = pick(random, ids, touched);
      touched.add(id);
      const patch =
        random() < 0.5
          ? { done: random() < 0.7 }
          : { title: `${room} renamed ${id} in burst ${burst}`, done: random() < 0.5 };
      ops.push(
        api.patchTask(room, id, patch).then((task) => {
          assert.equal(task.id, id);
          const want = { title: patch.title ?? live.get(id).title, done: Number(patch.done) };
          assert.deepEqual({ title: task.title, done: task.done }, want);
          live.set(id, want);
        }),
      );
    }
    const victim = pick(random, ids, touched);
    ops.push(api.deleteTask(room, victim).then(() => live.delete(victim)));
    await Promise.all(ops);
  }
  return live;
}

describe('worker-template: rooms replicating into one D1 table', () => {
  let t;
  before(async () => {
    t = await startTemplate();
  });
  after(async () => {
    await t?.dispose();
  });

  test('5 rooms x 30 tasks written concurrently all reach D1, row for row', async () => {
    const { mf, api } = t;
    const rooms = ['alpha', 'bravo', 'charlie', 'delta', 'echo-5'];
    const models = await Promise.all(rooms.map((room, k) => writeRoom(api, room, 1000 + k)));

    const healths = await waitIdle(api, rooms);
    for (const [k, h] of healths.entries()) {
      assert.equal(h.sourceId, `room:${api.roomId(rooms[k])}`);
      assert.equal(h.healthy, true, JSON.stringify(h));
      assert.equal(h.capturedSeq, h.appliedSeq);
      assert.equal(h.lastError, null);
    }

    let total = 0;
    let done = 0;
    for (const [k, room] of rooms.entries()) {
      // The room's own state is what the requests did ...
      const local = await assertD1MatchesRoom(mf, api, room); // ... and D1 holds exactly it.
      const model = models[k];
      assert.deepEqual(
        local.map((r) => [r.id, r.title, r.done]),
        [...model.entries()].sort((a, b) => a[0] - b[0]).map(([id, m]) => [id, m.title, m.done]),
        `room ${room}: its tasks are what the requests left`,
      );
      assert.equal(local.length, 24, `room ${room}: 30 inserts, 6 deletes`);
      // The Worker's cross-room read path (GET /tasks, from D1) agrees.
      const viaWorker = await api.expect(200, 'GET', `/tasks?room=${room}&limit=1000`);
      assert.deepEqual(
        viaWorker,
        local.map((r) => ({ room_id: api.roomId(room), ...r })),
      );
      total += local.length;
      done += local.filter((r) => r.done === 1).length;
    }

    const db = await mf.getD1Database('DB');
    const { results } = await db.prepare('SELECT DISTINCT room_id FROM tasks ORDER BY 1').all();
    assert.deepEqual(
      results.map((r) => r.room_id),
      rooms.map(api.roomId).sort(),
      'no rows under other room ids',
    );
    assert.equal((await api.expect(200, 'GET', '/tasks?limit=1000')).length, total);
    const doneRows = await api.expect(200, 'GET', '/tasks?done=1&limit=1000');
    assert.equal(doneRows.length, done);
    assert.ok(doneRows.every((r) => r.done === 1));
    assert.ok(done > 0 && done < total, 'the history left both done and open tasks');
  });

  test('a forced resync restores one room in D1 and leaves the other room alone', async () => {
    const { mf, api } = t;
    const [a, b] = ['resync-a', 'resync-b'];
    for (const room of [a, b]) {
      for (let i = 1; i <= 6; ++i) await api.addTask(room, `${room} task ${i}`);
      await api.patchTask(room, 2, { done: true });
    }
    await waitIdle(api, [a, b]);
    const before = await assertD1MatchesRoom(mf, api, a);
    await assertD1MatchesRoom(mf, api, b);

    // Damage both rooms' rows in D1 behind d1sync's back: every title, a lost row, a phantom.
    const db = await mf.getD1Database('DB');
    for (const room of [a, b]) {
      await db.batch([
        db
          .prepare("UPDATE tasks SET title = 'damaged', done = 1 WHERE room_id = ?")
          .bind(api.roomId(room)),
        db.prepare('DELETE FROM tasks WHERE room_id = ? AND id = 3').bind(api.roomId(room)),
        db
          .prepare(
            "INSERT INTO tasks(room_id, id, title, done, updated_at) VALUES (?, 999, 'phantom', 0, 1)",
          )
          .bind(api.roomId(room)),
      ]);
    }
    const damagedB = await d1Tasks(mf, api.roomId(b));
    assert.ok(damagedB.every((r) => r.title === 'damaged' || r.title === 'phantom'));
    await assert.rejects(
      assertD1MatchesRoom(mf, api, a),
      'the damage is visible before the resync',
    );

    const res = await api.call('POST', `/rooms/${a}/resync`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.sourceId, `room:${api.roomId(a)}`);
    assert.notEqual(res.body.state, 'error', JSON.stringify(res.body));
    await waitIdle(api, [a]);

    const restored = await assertD1MatchesRoom(mf, api, a);
    assert.deepEqual(restored, before, 'the resync did not change the room itself');
    assert.ok(!restored.some((r) => r.id === 999), 'the phantom row is gone from D1');
    assert.deepEqual(
      await d1Tasks(mf, api.roomId(b)),
      damagedB,
      "room b's rows in D1 were not touched",
    );
    // A room of the other test (when it ran) still equals its Durable Object.
    if ((await d1Tasks(mf, api.roomId('alpha'))).length)
      await assertD1MatchesRoom(mf, api, 'alpha');
  });
  test('POST /rooms/:room/verify names what D1 lost, repair=1 restores it, health says when', async () => {
    const { mf, api } = t;
    const r = 'verify-a';
    for (let i = 1; i <= 8; ++i) await api.addTask(r, `${r} task ${i}`);
    await waitIdle(api, [r]);
    const clean = await api.call('POST', `/rooms/${r}/verify`);
    assert.equal(clean.status, 200, clean.text);
    assert.equal(clean.body.report.equal, true, clean.text);
    assert.equal(clean.body.report.tables.find((x) => x.table === 'tasks').rowsD1, 8);
    const verifiedAt = (await api.health(r)).lastVerifiedAt;
    assert.ok(verifiedAt > 0);

    const db = await mf.getD1Database('DB');
    await db.batch([
      db
        .prepare("UPDATE tasks SET title = 'damaged' WHERE room_id = ? AND id = 2")
        .bind(api.roomId(r)),
      db.prepare('DELETE FROM tasks WHERE room_id = ? AND id = 5').bind(api.roomId(r)),
    ]);
    const found = await api.call('POST', `/rooms/${r}/verify`);
    assert.equal(found.status, 200, found.text);
    const tasks = found.body.report.tables.find((x) => x.table === 'tasks');
    assert.deepEqual(tasks.differences.map((d) => d.key).sort(), ['2', '5']);
    assert.equal((await api.health(r)).lastVerifyEqual, false);

    const fixed = await api.call('POST', `/rooms/${r}/verify?repair=1`);
    assert.equal(fixed.status, 200, fixed.text);
    assert.equal(fixed.body.repaired.equal, false);
    assert.equal(fixed.body.report.equal, true, fixed.text);
    await assertD1MatchesRoom(mf, api, r);
    const h = await api.health(r);
    assert.equal(h.lastVerifyEqual, true);
    assert.ok(h.lastVerifiedAt >= verifiedAt);
    assert.equal((await api.call('POST', `/rooms/${r}/verify?repair=yes`)).status, 400);
    assert.equal((await api.call('GET', `/rooms/${r}/verify`)).status, 405);
  });
});
