// Local schema changes followed mid-stream into real local D1: new tables, dropped tables and
// ADD COLUMN live, anything else rebuilt through a shadow table. Mirrors
// tests/native/test_schema_change.cpp.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1,
  openLocal,
  run,
  localValue,
  d1Value,
  d1HasTable,
  expectSame,
  replicator,
  sync,
  seq,
} from './helpers.mjs';

let env;
before(async () => {
  env = await startD1();
});
after(async () => {
  await env?.dispose();
});

async function streaming(options = {}) {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT);
    CREATE TABLE b(k TEXT PRIMARY KEY NOT NULL, n INTEGER);
    ${seq(0, 29)} INSERT INTO a SELECT i, 'v' || i FROM n;
    ${seq(0, 29)} INSERT INTO b SELECT 'k' || i, i FROM n;`,
  );
  const r = await replicator(db, d1, options);
  await sync(r);
  return { d1, db, r };
}

test('ADD COLUMN is followed live', async () => {
  const { d1, db, r } = await streaming();
  run(db, "INSERT INTO a VALUES (50, 'before the change')");
  run(db, 'ALTER TABLE a ADD COLUMN extra INTEGER NOT NULL DEFAULT 5');
  run(db, 'ALTER TABLE a ADD COLUMN note TEXT COLLATE NOCASE');
  run(
    db,
    "UPDATE a SET extra = 9, note = 'n' WHERE id < 3; INSERT INTO a VALUES (100, 'x', 1, 'y')",
  );
  await r.flush();
  await expectSame(assert, db, d1, 'a');
  assert.equal(
    await d1Value(d1, "SELECT count(*) FROM pragma_table_info('a') WHERE name = 'extra'"),
    1,
  );
  assert.equal(
    await d1Value(d1, "SELECT dflt_value FROM pragma_table_info('a') WHERE name = 'extra'"),
    '5',
  );
  assert.equal(
    await d1Value(d1, 'SELECT extra FROM a WHERE id = 10'),
    5,
    'untouched rows get the default',
  );
  // And it keeps streaming afterwards.
  run(db, 'UPDATE a SET extra = extra + 1 WHERE id % 2 = 0; DELETE FROM a WHERE id = 7;');
  await r.flush();
  await expectSame(assert, db, d1, 'a');
  assert.equal(r.health().syncErrors, 0);
  r.close();
});

test('a new table is created and copied, then streamed', async () => {
  const { d1, db, r } = await streaming();
  run(
    db,
    "CREATE TABLE c(x INTEGER PRIMARY KEY, y BLOB); INSERT INTO c VALUES (1, X'01'), (2, NULL)",
  );
  await r.flush();
  await expectSame(assert, db, d1, 'c');
  assert.ok(r.health().initialSync.tables.c, 'health lists the new table');
  run(db, "INSERT INTO c VALUES (3, X''); UPDATE c SET y = X'ff' WHERE x = 2;");
  await r.flush();
  await expectSame(assert, db, d1, 'c');
  r.close();
});

test('a dropped table is dropped in D1, others go on', async () => {
  const { d1, db, r } = await streaming();
  run(db, "UPDATE b SET n = -1 WHERE k = 'k1'"); // pending when the table goes
  run(db, 'DROP TABLE b');
  run(db, "UPDATE a SET v = 'after drop' WHERE id = 1");
  await r.flush();
  assert.equal(await d1HasTable(d1, 'b'), false);
  await expectSame(assert, db, d1, 'a');
  assert.equal(r.health().pendingChanges, 0);
  assert.equal(r.health().initialSync.tables.b, undefined);
  r.close();
});

test('a table dropped and recreated with another shape is rebuilt', async () => {
  const { d1, db, r } = await streaming();
  run(
    db,
    `DROP TABLE b; CREATE TABLE b(k TEXT PRIMARY KEY NOT NULL, n INTEGER, m REAL);
    INSERT INTO b VALUES ('z', 1, 2.5)`,
  );
  await r.flush();
  await expectSame(assert, db, d1, 'b');
  assert.equal(
    await d1Value(d1, "SELECT count(*) FROM pragma_table_info('b') WHERE name = 'm'"),
    1,
  );
  r.close();
});

test('a twelve-step ALTER rebuilds through a shadow table', async () => {
  const { d1, db, r } = await streaming();
  // Build, copy, drop, rename: the capture triggers go with the old table, so writes in
  // between are only caught by the recopy.
  run(
    db,
    `CREATE TABLE a_new(id INTEGER PRIMARY KEY, v BLOB, w INTEGER);
    INSERT INTO a_new SELECT id, CAST(v AS BLOB), id * 2 FROM a;
    DROP TABLE a; ALTER TABLE a_new RENAME TO a;
    UPDATE a SET w = -1 WHERE id = 4; DELETE FROM a WHERE id = 5;`,
  );
  await r.flush();
  await expectSame(assert, db, d1, 'a');
  assert.equal(
    await d1Value(d1, "SELECT type FROM pragma_table_info('a') WHERE name = 'v'"),
    'BLOB',
  );
  const leftovers = await d1Value(
    d1,
    "SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_d1sync\\_new%' ESCAPE '\\' OR name = 'a_new'",
  );
  assert.equal(leftovers, 0, 'no shadow table left behind');
  run(db, 'UPDATE a SET w = 42 WHERE id = 6');
  await r.flush();
  await expectSame(assert, db, d1, 'a');
  assert.equal(r.health().state, 'idle');
  r.close();
});

test('a table dropped while it is being copied', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT);
    CREATE TABLE keep(id INTEGER PRIMARY KEY, v TEXT);
    ${seq(1, 500)} INSERT INTO big SELECT i, 'v' || i FROM n;
    ${seq(1, 50)} INSERT INTO keep SELECT i, 'k' || i FROM n;`,
  );
  const r = await replicator(db, d1, { limits: { copyPageRows: 50 } });
  await r.start();
  await r.flush({ maxBatches: 3 });
  const copied = await d1Value(d1, 'SELECT count(*) FROM big');
  assert.ok(copied > 0 && copied < 500, `part of big copied (${copied})`);
  run(db, "UPDATE big SET v = 'late' WHERE id < 10; INSERT INTO keep VALUES (1000, 'k');");
  run(db, 'DROP TABLE big');
  await r.flush();
  assert.equal(await d1HasTable(d1, 'big'), false);
  await expectSame(assert, db, d1, 'keep');
  const h = r.health();
  assert.equal(h.initialSync.done, true);
  assert.equal(h.pendingChanges, 0);
  assert.equal(h.state, 'idle');
  r.close();
});

test('indexes created and dropped locally follow', async () => {
  const { d1, db, r } = await streaming();
  run(db, 'CREATE INDEX a_v ON a(v); CREATE UNIQUE INDEX b_n ON b(n DESC)');
  await r.flush();
  assert.equal(
    await d1Value(d1, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'a_v'"),
    1,
  );
  assert.equal(
    await d1Value(d1, "SELECT \"unique\" FROM pragma_index_list('b') WHERE name = 'b_n'"),
    0,
    'replica mode keeps a UNIQUE index non-unique',
  );
  run(db, 'DROP INDEX a_v');
  await r.flush();
  assert.equal(
    await d1Value(d1, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'a_v'"),
    0,
  );
  run(db, "INSERT INTO a VALUES (500, 'after')");
  await r.flush();
  await expectSame(assert, db, d1, 'a');
  r.close();
});

test('VACUUM renumbering rowids is caught and the table recopied', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, `CREATE TABLE loose(x, y); ${seq(1, 12)} INSERT INTO loose SELECT i, 'y' FROM n;`);
  const r = await replicator(db, d1);
  await sync(r);
  run(db, 'DELETE FROM loose WHERE x IN (2, 5, 9)');
  await r.flush();
  await expectSame(assert, db, d1, 'loose', { rowid: true });
  run(db, 'VACUUM');
  assert.equal(localValue(db, 'SELECT max(rowid) FROM loose'), 9, 'renumbered');
  run(db, "UPDATE loose SET y = 'after' WHERE x = 7; INSERT INTO loose VALUES (100, 'new');");
  await r.flush();
  await expectSame(assert, db, d1, 'loose', { rowid: true });
  r.close();
});
