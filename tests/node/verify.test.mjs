// verify() / repair() from sqlite-wasm (SQLite 3.54) against Miniflare's real local D1 (3.47):
// equal tables compare equal at the stated cost (D1's own meta.rows_read), REALs fingerprint
// alike across the two versions, corruptions are found under their keys and repaired, and a
// tenant's verify never looks at another tenant's rows. tests/native/test_verify.cpp has the
// 1,000 seeded corruptions and the fault cases.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1,
  openLocal,
  run,
  localRows,
  replicator,
  recordingTarget,
  sync,
  seq,
  D1SyncError,
  expectSame,
} from './helpers.mjs';
import { SCHEMA, edgeDoubles, randomDoubles } from './reals-data.mjs';

let env;
before(async () => {
  env = await startD1(8);
});
after(async () => {
  await env?.dispose();
});

const isCode = (code) => (e) => e instanceof D1SyncError && e.code === code;
const keysOf = (report, table) =>
  report.tables
    .find((t) => t.table === table)
    .differences.map((d) => d.key)
    .sort();

test('an equal 100,000-row table: equal, about its rows read in D1, in at most 12 requests', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, 'CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, r REAL, n INTEGER, b BLOB)');
  run(
    db,
    `${seq(1, 100000)} INSERT INTO t SELECT i, 'row ' || i, i / 7.0, i * 1000003, randomblob(16) FROM n`,
  );
  const target = recordingTarget(d1);
  const r = await replicator(db, target);
  await sync(r);
  const before = r.health().d1RowsRead;
  const sent = target.batches.length;
  const report = await r.verify();
  assert.equal(report.equal, true, JSON.stringify(report).slice(0, 500));
  assert.equal(report.tables[0].rowsLocal, 100000);
  assert.equal(report.tables[0].rowsD1, 100000);
  assert.equal(target.batches.length - sent, report.batches);
  assert.ok(report.batches <= 12, `${report.batches} requests`);
  // D1's own figure: every range reads its rows plus the one that ends its scan, and the
  // guard reads the fence row.
  assert.ok(report.rowsReadD1 >= 100000, `${report.rowsReadD1} rows read`);
  assert.ok(report.rowsReadD1 <= 110000, `${report.rowsReadD1} rows read`);
  assert.equal(r.health().d1RowsRead - before, report.rowsReadD1);
  assert.ok(report.rowsReadLocal <= 110000);
  const h = r.health();
  assert.equal(h.lastVerifyEqual, true);
  assert.ok(h.lastVerifiedAt > 0);
  assert.match(r.metrics(), /d1sync_verify_differences\{source="src-1"\} 0/);

  // One REAL one ULP off in D1: one listing of its range and one read of the row.
  await d1.prepare('UPDATE t SET r = r + r * pow(2, -52) WHERE id = 54321').run();
  const one = await r.verify();
  assert.equal(one.equal, false);
  assert.deepEqual(keysOf(one, 't'), ['54321']);
  assert.ok(one.statements - report.statements <= 40, `${one.statements} statements`);
  const [d] = one.tables[0].differences;
  assert.notEqual(d.local, d.d1);
  assert.ok(d.local.startsWith('(54321,'));
  await r.repair(one);
  assert.equal((await r.verify()).equal, true);
  assert.equal(r.health().lastVerifyEqual, true);
  r.close();
});

test('20,000 random doubles written by sqlite-wasm 3.54 verify equal against D1 3.47', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  for (const s of SCHEMA) run(db, s);
  const values = [...edgeDoubles(), ...randomDoubles(20000, 99)];
  run(db, 'BEGIN');
  for (let i = 0; i < values.length; ++i) {
    const at = (k) => values[(i + k) % values.length];
    run(db, 'INSERT INTO v(id, r, n, i, b, x) VALUES (?, ?, ?, ?, ?, ?)', [
      i,
      at(0),
      at(1),
      at(2),
      at(3),
      at(4),
    ]);
    // REAL keys: the range bounds and the listed keys are REAL literals on both sides.
    run(db, 'INSERT OR IGNORE INTO kr(k, v) VALUES (?, ?)', [at(0), at(7)]);
    run(db, 'INSERT OR IGNORE INTO kw(k, j, v) VALUES (?, ?, ?)', [at(0), i % 3, at(11)]);
  }
  run(db, 'COMMIT');
  const r = await replicator(db, d1, { sourceId: 'reals' });
  await sync(r);
  const report = await r.verify({ maxDifferences: 100 });
  assert.equal(report.equal, true, JSON.stringify(report).slice(0, 800));
  for (const t of report.tables) assert.ok(t.rowsD1 > 10000, `${t.table}: ${t.rowsD1}`);

  // One ULP, a -0.0 for a 0.0 in an untyped column, a REAL key nudged: each found.
  const normal = localRows(
    db,
    'SELECT id FROM v WHERE abs(r) BETWEEN 1e-300 AND 1e300 AND id > 5000 ORDER BY id LIMIT 1',
  )[0][0];
  await d1.prepare(`UPDATE v SET r = r + r * pow(2, -52) WHERE id = ${normal}`).run();
  const zero = values.findIndex((x) => Object.is(x, 0));
  await d1
    .prepare(`UPDATE v SET x = -0.0 WHERE id = ${(zero + values.length - 4) % values.length}`)
    .run();
  await d1.prepare('UPDATE kr SET v = 1 WHERE k = 0.5').run();
  const bad = await r.verify();
  assert.equal(bad.equal, false);
  assert.deepEqual(
    keysOf(bad, 'v'),
    [String((zero + values.length - 4) % values.length), String(normal)].sort(),
  );
  // REAL keys in the engine's exact literal form (render.hpp).
  assert.deepEqual(keysOf(bad, 'kr'), ['500e-3']);
  await r.repair(bad);
  assert.equal((await r.verify()).equal, true);
  r.close();
});

test('deleted, added and changed rows are named and repair() sends exactly them', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, 'CREATE TABLE notes(body TEXT, n)');
  run(db, 'CREATE TABLE tags(name TEXT, v INTEGER, PRIMARY KEY(name, v)) WITHOUT ROWID');
  run(db, `${seq(1, 5000)} INSERT INTO notes SELECT 'note ' || i, i FROM n`);
  run(db, `${seq(1, 3000)} INSERT INTO tags SELECT 'tag ' || (i / 3), i % 3 FROM n`);
  const target = recordingTarget(d1);
  const r = await replicator(db, target);
  await sync(r);
  await d1.batch([
    d1.prepare('DELETE FROM notes WHERE rowid = 77'),
    d1.prepare("UPDATE notes SET n = '4000' WHERE rowid = 4000"),
    d1.prepare("INSERT INTO tags VALUES ('tag 999', 9)"),
    d1.prepare("UPDATE tags SET name = 'TAG 5' WHERE name = 'tag 5' AND v = 0"),
  ]);
  const report = await r.verify();
  assert.equal(report.equal, false);
  assert.deepEqual(keysOf(report, 'notes'), ['4000', '77']);
  assert.deepEqual(keysOf(report, 'tags'), ["'TAG 5',0", "'tag 5',0", "'tag 999',9"]);
  const notes = report.tables.find((t) => t.table === 'notes');
  const gone = notes.differences.find((d) => d.key === '77');
  assert.equal(gone.d1, null);
  assert.equal(gone.local, "(77,'note 77',77)");
  const typed = notes.differences.find((d) => d.key === '4000');
  assert.equal(typed.d1, "(4000,'note 4000','4000')");
  assert.equal(typed.local, "(4000,'note 4000',4000)");

  const sent = target.batches.length;
  await r.repair(report);
  const repairs = target.batches.slice(sent).flat().join('\n');
  for (const expected of ["'note 77'", "'note 4000'", "'tag 999'", "'TAG 5'", "'tag 5'"])
    assert.ok(repairs.includes(expected), `repair sent ${expected}`);
  assert.ok(!repairs.includes("'note 78'"), 'repair sent nothing else');
  assert.equal((await r.verify()).equal, true);
  await expectSame(assert, db, d1, 'tags');
  await expectSame(assert, db, d1, 'notes', { rowid: true });

  await assert.rejects(r.verify({ tabel: 'x' }), isCode('CONFIG'));
  await assert.rejects(r.verify({ table: 'nope' }), isCode('CONFIG'));
  await assert.rejects(r.repair({}), isCode('CONFIG'));
  r.close();
});

test("a tenant's verify reads only its rows and refuses another tenant", async () => {
  const d1 = await env.fresh();
  const rooms = {};
  for (const room of ['a', 'b']) {
    const db = await openLocal();
    run(db, 'CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT)');
    run(db, `${seq(1, 3000)} INSERT INTO tasks SELECT i, '${room}-' || i FROM n`);
    rooms[room] = await replicator(db, d1, {
      sourceId: `room-${room}`,
      tenant: { column: 'room_id', value: room },
    });
    await sync(rooms[room]);
  }
  await d1.prepare("UPDATE tasks SET title = 'x' WHERE room_id = 'b' AND id = 10").run();
  const a = await rooms.a.verify();
  assert.equal(a.equal, true);
  assert.equal(a.tables[0].rowsD1, 3000);
  // The other tenant's 3,000 rows are not read (the index on the tenant leads every scan).
  assert.ok(a.rowsReadD1 < 4500, `${a.rowsReadD1} rows read`);
  const b = await rooms.b.verify({ tenant: 'b' });
  assert.deepEqual(keysOf(b, 'tasks'), ['10']);
  await assert.rejects(rooms.a.verify({ tenant: 'b' }), isCode('CONFIG'));
  for (const r of Object.values(rooms)) r.close();
});
