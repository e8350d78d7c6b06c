// Many sources fanning into shared D1 tables, scoped by a tenant column: mirrors
// tests/native/test_tenant.cpp against real local D1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1,
  openLocal,
  run,
  d1Value,
  d1Rows,
  expectSame,
  replicator,
  sync,
  seq,
  D1SyncError,
} from './helpers.mjs';

const ROOM = `
  CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0);
  CREATE INDEX tasks_done ON tasks(done);
  CREATE TABLE notes(body TEXT);
`;

const tenantOf = (room) => ({ column: 'room_id', value: room });
const isCode = (code) => (e) => e instanceof D1SyncError && e.code === code;

async function twoRooms(d1) {
  const a = await openLocal();
  const b = await openLocal();
  for (const [db, room] of [
    [a, 'a'],
    [b, 'b'],
  ]) {
    run(db, ROOM);
    run(
      db,
      `${seq(1, 40)} INSERT INTO tasks(id, title) SELECT i, '${room}-' || i FROM n;
      ${seq(1, 40)} INSERT INTO notes SELECT 'note ${room}' || i FROM n;`,
    );
  }
  const ra = await replicator(a, d1, { sourceId: 'room-a', tenant: tenantOf('a') });
  const rb = await replicator(b, d1, { sourceId: 'room-b', tenant: tenantOf('b') });
  return { a, b, ra, rb };
}

async function expectBoth(d1, { a, b }) {
  await expectSame(assert, a, d1, 'tasks', { tenant: tenantOf('a') });
  await expectSame(assert, b, d1, 'tasks', { tenant: tenantOf('b') });
  await expectSame(assert, a, d1, 'notes', { tenant: tenantOf('a'), rowid: true });
  await expectSame(assert, b, d1, 'notes', { tenant: tenantOf('b'), rowid: true });
}

let env;
before(async () => {
  env = await startD1();
});
after(async () => {
  await env?.dispose();
});

test('two sources with overlapping keys share one table', async () => {
  const d1 = await env.fresh();
  const s = await twoRooms(d1);
  await sync(s.ra);
  await sync(s.rb);
  await expectBoth(d1, s);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM tasks'), 80);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM notes'), 80);
  run(
    s.a,
    'UPDATE tasks SET done = 1 WHERE id < 10; DELETE FROM tasks WHERE id > 35; DELETE FROM notes WHERE rowid % 4 = 0;',
  );
  run(
    s.b,
    "DELETE FROM tasks WHERE id < 5; INSERT INTO tasks(id, title) VALUES (100, 'b-new'); INSERT INTO notes VALUES ('late b');",
  );
  await s.ra.flush();
  await s.rb.flush();
  await expectBoth(d1, s);
  assert.equal(await d1Value(d1, "SELECT title FROM tasks WHERE room_id = 'a' AND id = 3"), 'a-3');
  assert.equal(await d1Value(d1, "SELECT title FROM tasks WHERE room_id = 'b' AND id = 5"), 'b-5');
  // The tenant leads the primary key and every index.
  const pk = await d1Rows(
    d1,
    "SELECT name FROM pragma_table_info('tasks') WHERE pk > 0 ORDER BY pk",
  );
  assert.deepEqual(
    pk.map((r) => r[0]),
    ['room_id', 'id'],
  );
  const ix = await d1Rows(d1, "SELECT name FROM pragma_index_info('tasks_done') ORDER BY seqno");
  assert.deepEqual(
    ix.map((r) => r[0]),
    ['room_id', 'done'],
  );
  assert.equal(s.ra.health().syncErrors, 0);
  assert.equal(s.rb.health().syncErrors, 0);
  s.ra.close();
  s.rb.close();
});

test('interleaved flushes of two tenants never touch each other', async () => {
  const d1 = await env.fresh();
  const s = await twoRooms(d1);
  await s.ra.start();
  await s.rb.start();
  for (let round = 0; round < 6; ++round) {
    run(
      s.a,
      `UPDATE tasks SET title = 'a round ${round}' WHERE id % 6 = ${round};
      INSERT INTO notes VALUES ('a ${round}')`,
    );
    run(
      s.b,
      `DELETE FROM tasks WHERE id = ${round * 3 + 1}; INSERT OR REPLACE INTO tasks(id, title) VALUES (${round + 1}, 'b again')`,
    );
    await Promise.all([s.ra.flush(), s.rb.flush()]);
  }
  await expectBoth(d1, s);
  s.ra.close();
  s.rb.close();
});

test("a dropped local table deletes only that tenant's rows", async () => {
  const d1 = await env.fresh();
  const s = await twoRooms(d1);
  await sync(s.ra);
  await sync(s.rb);
  run(s.a, 'DROP TABLE notes');
  await s.ra.flush();
  await s.rb.flush();
  assert.equal(await d1Value(d1, "SELECT count(*) FROM notes WHERE room_id = 'a'"), 0);
  assert.equal(await d1Value(d1, "SELECT count(*) FROM notes WHERE room_id = 'b'"), 40);
  await expectSame(assert, s.b, d1, 'notes', { tenant: tenantOf('b'), rowid: true });
  await expectSame(assert, s.a, d1, 'tasks', { tenant: tenantOf('a') });
  s.ra.close();
  s.rb.close();
});

test('a resync recopies one tenant and leaves the other alone', async () => {
  const d1 = await env.fresh();
  const s = await twoRooms(d1);
  await sync(s.ra);
  await sync(s.rb);
  await d1.batch([
    d1.prepare("UPDATE tasks SET title = 'damaged'"),
    d1.prepare('DELETE FROM notes WHERE rowid % 2 = 0'),
  ]);
  await s.ra.resync();
  await expectSame(assert, s.a, d1, 'tasks', { tenant: tenantOf('a') });
  await expectSame(assert, s.a, d1, 'notes', { tenant: tenantOf('a'), rowid: true });
  assert.equal(
    await d1Value(d1, "SELECT count(*) FROM tasks WHERE room_id = 'b' AND title = 'damaged'"),
    40,
  );
  s.ra.close();
  s.rb.close();
});

test('a tenant value owned by another sourceId is a CONFIG error', async () => {
  const d1 = await env.fresh();
  const s = await twoRooms(d1);
  await sync(s.ra);
  await sync(s.rb);
  const c = await openLocal();
  run(c, ROOM);
  run(c, "INSERT INTO tasks(id, title) VALUES (1, 'intruder')");
  const rc = await replicator(c, d1, { sourceId: 'someone-else', tenant: tenantOf('a') });
  await assert.rejects(rc.start(), (e) => isCode('CONFIG')(e) && /room-a/.test(e.message));
  await expectBoth(d1, s);
  rc.close();
  s.ra.close();
  s.rb.close();
});

test('a local column named like the tenant column is a CONFIG error', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, 'CREATE TABLE t(id INTEGER PRIMARY KEY, room_id TEXT)');
  const r = await replicator(db, d1, { sourceId: 'c', tenant: tenantOf('c') });
  await assert.rejects(r.start(), (e) => isCode('CONFIG')(e) && /room_id/.test(e.message));
  r.close();
});

test('a 100-column table with a tenant is a CONFIG error (the tenant would be the 101st)', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  const cols = Array.from({ length: 99 }, (_, k) => `c${k + 1}`).join(', ');
  run(
    db,
    `CREATE TABLE wide(id INTEGER PRIMARY KEY, ${cols}); INSERT INTO wide(id, c1) VALUES (1, 1)`,
  );
  const r = await replicator(db, d1, { sourceId: 'w', tenant: tenantOf('w') });
  await assert.rejects(
    r.start(),
    (e) => isCode('CONFIG')(e) && /wide/.test(e.message) && /101/.test(e.message),
  );
  assert.equal(await d1Value(d1, "SELECT count(*) FROM sqlite_master WHERE name = 'wide'"), 0);
  r.close();
});

test('99 columns leave room for the tenant', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  const cols = Array.from({ length: 98 }, (_, k) => `c${k + 1}`).join(', ');
  run(
    db,
    `CREATE TABLE w99(id INTEGER PRIMARY KEY, ${cols});
    ${seq(1, 300)} INSERT INTO w99(id, c1, c50, c98) SELECT i, i, 'x' || i, randomblob(2) FROM n;`,
  );
  const r = await replicator(db, d1, { sourceId: 'w', tenant: { column: 'tenant', value: 't1' } });
  const h = await sync(r);
  assert.equal(h.syncErrors, 0);
  await expectSame(assert, db, d1, 'w99', { tenant: { column: 'tenant', value: 't1' } });
  assert.equal(await d1Value(d1, "SELECT count(*) FROM pragma_table_info('w99')"), 100);
  run(db, "UPDATE w99 SET c2 = 'y' WHERE id % 2 = 0; DELETE FROM w99 WHERE id % 3 = 0;");
  await r.flush();
  await expectSame(assert, db, d1, 'w99', { tenant: { column: 'tenant', value: 't1' } });
  r.close();
});

test('integer tenant values stay integers in D1', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, ROOM);
  run(db, "INSERT INTO tasks(id, title) VALUES (1, 'x')");
  const r = await replicator(db, d1, { sourceId: 'num', tenant: { column: 'shard', value: 7 } });
  await sync(r);
  assert.equal(
    await d1Value(d1, "SELECT count(*) FROM tasks WHERE shard = 7 AND typeof(shard) = 'integer'"),
    1,
  );
  await expectSame(assert, db, d1, 'tasks', { tenant: { column: 'shard', value: 7 } });
  r.close();
});

test("schema changes in one tenant: ADD COLUMN and a rebuild keep the other tenant's rows", async () => {
  const d1 = await env.fresh();
  const s = await twoRooms(d1);
  await sync(s.ra);
  await sync(s.rb);
  run(
    s.a,
    "ALTER TABLE tasks ADD COLUMN extra TEXT DEFAULT 'd'; UPDATE tasks SET extra = 'a-extra' WHERE id < 5;",
  );
  run(s.b, "UPDATE tasks SET title = 'b changed' WHERE id = 7;");
  await s.ra.flush();
  await s.rb.flush();
  await expectSame(assert, s.a, d1, 'tasks', { tenant: tenantOf('a') });
  await expectSame(assert, s.b, d1, 'tasks', { tenant: tenantOf('b') });
  assert.equal(await d1Value(d1, "SELECT count(*) FROM tasks WHERE room_id = 'b'"), 40);
  // A rebuild (a type change) in tenant a recopies a's rows only.
  run(
    s.a,
    `CREATE TABLE notes_new(body BLOB); INSERT INTO notes_new SELECT CAST(body AS BLOB) FROM notes;
    DROP TABLE notes; ALTER TABLE notes_new RENAME TO notes;`,
  );
  await s.ra.flush();
  run(s.b, "INSERT INTO notes VALUES ('b after a rebuilt')");
  await s.rb.flush();
  await expectSame(assert, s.b, d1, 'notes', { tenant: tenantOf('b'), rowid: true });
  await expectSame(assert, s.a, d1, 'notes', { tenant: tenantOf('a'), rowid: true });
  assert.equal(
    await d1Value(d1, "SELECT typeof(body) FROM notes WHERE room_id = 'a' LIMIT 1"),
    'blob',
  );
  assert.equal(await d1Value(d1, "SELECT count(*) FROM notes WHERE room_id = 'b'"), 41);
  assert.equal(await d1Value(d1, "SELECT count(*) FROM notes WHERE room_id = 'a'"), 40);
  assert.equal(s.ra.health().state, 'idle');
  assert.equal(s.rb.health().state, 'idle');
  s.ra.close();
  s.rb.close();
});
