// SPEC "Bad input: a clear error or correct handling, and nothing lost", against real local D1.
// Each case compares local and D1 row for row (storage class + exact bytes, REALs as doubles)
// after the initial sync and again after incremental changes, or asserts a clear error.
// Mirrors tests/native/test_bad_input.cpp.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1,
  openLocal,
  run,
  localValue,
  localRows,
  d1Value,
  d1Rows,
  d1HasTable,
  compareTable,
  expectSame,
  replicator,
  sync,
  seq,
  createReplicator,
  sqliteWasmSource,
  d1BindingTarget,
  D1SyncError,
  PENDING_OUTBOX,
} from './helpers.mjs';

const isCode = (code) => (e) => e instanceof D1SyncError && e.code === code;

let env;
before(async () => {
  env = await startD1(60);
});
after(async () => {
  await env?.dispose();
});

// Runs the same query on both sides and compares every cell.
async function expectSameQuery(db, d1, sql) {
  const a = localRows(db, sql).map((row) =>
    row.map((v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  const b = await d1Rows(d1, sql);
  assert.deepEqual(b, a, sql);
}

// ---------------------------------------------------------------------------------------------
// The comparison itself

test('the comparison catches type, integer, NUL and NULL differences', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  const ddl = 'CREATE TABLE t(id INTEGER PRIMARY KEY, v)';
  run(db, ddl);
  await d1.prepare(ddl).run();
  const cases = [
    ['1', "'1'"], // INTEGER vs TEXT
    ['9007199254740993', '9007199254740992'], // 2^53+1 vs 2^53: equal as JS numbers
    ["'a'||char(0)||'b'", "'a'"], // NUL-bearing text vs its truncation
    ["''", 'NULL'],
    ["X''", "''"],
    ['1.0', '1'], // REAL vs INTEGER
    ['0.1', '0.30000000000000004'],
    ['9e999', '1.7976931348623157e308'],
  ];
  for (const [i, [local, remote]] of cases.entries()) {
    run(db, `DELETE FROM t; INSERT INTO t VALUES (${i}, ${local})`);
    await d1.batch([
      d1.prepare('DELETE FROM t'),
      d1.prepare(`INSERT INTO t VALUES (${i}, ${remote})`),
    ]);
    const { diff } = await compareTable(db, d1, 't');
    assert.notEqual(diff, '', `${local} vs ${remote} went unnoticed`);
    await d1.batch([
      d1.prepare('DELETE FROM t'),
      d1.prepare(`INSERT INTO t VALUES (${i}, ${local})`),
    ]);
    assert.equal((await compareTable(db, d1, 't')).diff, '', `${local} vs itself`);
  }
  await d1.prepare('INSERT INTO t VALUES (100, 1)').run();
  assert.match((await compareTable(db, d1, 't')).diff, /local has 1 rows, D1 has 2/);
});

// ---------------------------------------------------------------------------------------------
// Keys

test('tables without a primary key are keyed by rowid (D1 column "rowid")', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE events(kind TEXT, payload TEXT, n REAL);
    CREATE TABLE hides(rowid TEXT, v INTEGER);
    ${seq(1, 300)} INSERT INTO events SELECT 'k' || (i % 3), 'same', CASE WHEN i % 4 THEN i / 8.0 END FROM n;
    INSERT INTO hides VALUES ('r1', 1), ('r1', 1), (NULL, 2);`,
  );
  const r = await replicator(db, d1, { limits: { copyPageRows: 64 } });
  await sync(r);
  await expectSame(assert, db, d1, 'events', { rowid: true });
  await expectSame(assert, db, d1, 'hides', { rowid: true, rowidColumn: '_d1sync_rowid' });
  assert.equal(
    await d1Value(d1, "SELECT pk FROM pragma_table_info('events') WHERE name = 'rowid'"),
    1,
  );
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM events'), 300);
  run(
    db,
    `UPDATE events SET payload = 'changed' WHERE rowid % 7 = 0;
    DELETE FROM events WHERE rowid % 5 = 0;
    INSERT INTO events(kind, payload) VALUES ('new', 'same'), ('new', 'same');
    UPDATE events SET rowid = 100000 WHERE rowid = 1;
    UPDATE hides SET rowid = 'r2' WHERE _rowid_ = 1;
    DELETE FROM hides WHERE _rowid_ = 2;
    INSERT INTO hides VALUES ('r3', 3);
    UPDATE hides SET _rowid_ = 50 WHERE _rowid_ = 3;`,
  );
  await r.flush();
  await expectSame(assert, db, d1, 'events', { rowid: true });
  await expectSame(assert, db, d1, 'hides', { rowid: true, rowidColumn: '_d1sync_rowid' });
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM events WHERE rowid = 1'), 0);
  r.close();
});

test('rowid tables whose declared key admits NULL are keyed by rowid', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE np(id TEXT PRIMARY KEY, v INTEGER);
    INSERT INTO np VALUES ('a', 1), (NULL, 2), (NULL, 3), ('b', 4);
    CREATE TABLE npc(a INTEGER, b TEXT, v, PRIMARY KEY(a, b));
    INSERT INTO npc VALUES (1, NULL, 'x'), (1, NULL, 'y'), (1, 'k', 'z');`,
  );
  const r = await replicator(db, d1);
  await sync(r);
  for (const t of ['np', 'npc']) await expectSame(assert, db, d1, t, { rowid: true });
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM np WHERE id IS NULL'), 2);
  run(
    db,
    `UPDATE np SET id = 'c' WHERE v = 2; UPDATE np SET id = NULL WHERE v = 1;
    INSERT INTO np VALUES (NULL, 5); DELETE FROM np WHERE v = 3;
    INSERT OR REPLACE INTO np VALUES ('b', 40);
    UPDATE npc SET b = NULL WHERE v = 'z'; INSERT INTO npc VALUES (1, NULL, 'w');`,
  );
  await r.flush();
  for (const t of ['np', 'npc']) await expectSame(assert, db, d1, t, { rowid: true });
  assert.equal(await d1Value(d1, "SELECT count(*) FROM np WHERE id = 'b'"), 1);
  r.close();
});

test('composite, text, untyped and WITHOUT ROWID keys', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE ck(a TEXT NOT NULL, b INTEGER NOT NULL, v, PRIMARY KEY(a, b));
    CREATE TABLE nk(name TEXT COLLATE NOCASE NOT NULL PRIMARY KEY, v);
    CREATE TABLE mk(k NOT NULL PRIMARY KEY, v);
    CREATE TABLE w(a TEXT, b BLOB, v REAL, PRIMARY KEY(a, b)) WITHOUT ROWID;
    CREATE TABLE w1(id INTEGER PRIMARY KEY, v) WITHOUT ROWID;
    ${seq(0, 59)} INSERT INTO ck SELECT CASE i % 6 WHEN 0 THEN 'x' WHEN 1 THEN 'it''s, quoted'
      WHEN 2 THEN 'a,b' WHEN 3 THEN '' WHEN 4 THEN 'über' ELSE ' ' END, i - 30, 'v' || i FROM n;
    INSERT INTO nk VALUES ('a', 1), ('B', 2), ('c', 3);
    INSERT INTO mk VALUES (1, 'int'), ('1', 'text'), (2.5, 'real'), (X'00', 'blob'), (X'', 'empty blob'),
      ('', 'empty text'), (-9223372036854775808, 'min'), (9e999, 'inf');
    ${seq(1, 80)} INSERT INTO w SELECT 'k' || (i % 7), CAST(char(64 + i) || randomblob(i % 5) AS BLOB), i * 0.5 FROM n;
    ${seq(1, 80)} INSERT INTO w1 SELECT i * 1000 - 40000, 'v' || i FROM n;`,
  );
  const r = await replicator(db, d1, { limits: { copyPageRows: 9 } });
  await sync(r);
  const all = ['ck', 'nk', 'mk', 'w', 'w1'];
  for (const t of all) await expectSame(assert, db, d1, t);
  assert.match(
    await d1Value(d1, "SELECT sql FROM sqlite_master WHERE name = 'w'"),
    /WITHOUT ROWID/,
  );
  run(
    db,
    `UPDATE ck SET b = b + 1000 WHERE b % 4 = 0; DELETE FROM ck WHERE b % 3 = 1;
    INSERT INTO ck VALUES ('new,key', 0, 'n');
    UPDATE nk SET name = 'b' WHERE name = 'B';
    UPDATE mk SET v = 'changed' WHERE k = '1'; DELETE FROM mk WHERE k = 1;
    UPDATE mk SET k = X'0001' WHERE k = X'00';
    UPDATE w SET b = CAST(X'FF' || b AS BLOB) WHERE a = 'k1'; DELETE FROM w WHERE a = 'k3';
    UPDATE w1 SET id = id + 500000 WHERE id > 0;`,
  );
  await r.flush();
  for (const t of all) await expectSame(assert, db, d1, t);
  assert.equal(
    await d1Value(d1, 'SELECT name FROM nk WHERE v = 2'),
    'b',
    'a key changing only in case',
  );
  r.close();
});

test('generated columns are never inserted and D1 recomputes them', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE g(id INTEGER PRIMARY KEY, a INTEGER, b TEXT,
      twice INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL,
      shout TEXT GENERATED ALWAYS AS (upper(b) || '!') STORED);
    ${seq(1, 50)} INSERT INTO g(id, a, b) SELECT i, i * 3, CASE WHEN i % 5 THEN 'b' || i END FROM n;`,
  );
  const r = await replicator(db, d1);
  await sync(r);
  const exact = 'SELECT id, typeof(twice), twice, typeof(shout), shout FROM g ORDER BY id';
  await expectSame(assert, db, d1, 'g');
  await expectSameQuery(db, d1, exact);
  assert.equal(
    await d1Value(d1, "SELECT hidden FROM pragma_table_xinfo('g') WHERE name = 'shout'"),
    3,
  );
  run(
    db,
    "UPDATE g SET a = a + 1, b = coalesce(b, '') || 'x' WHERE id % 2 = 0; DELETE FROM g WHERE id % 7 = 0;",
  );
  await r.flush();
  await expectSame(assert, db, d1, 'g');
  await expectSameQuery(db, d1, exact);
  r.close();
});

// ---------------------------------------------------------------------------------------------
// Identifiers and width

test('identifiers with spaces, quotes, Unicode and SQL keywords', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE "we""ird tab"("k ey" INTEGER PRIMARY KEY, "col with space" TEXT,
      "q""uote" TEXT, "名前" TEXT, "émoji 🎉" INTEGER, [sq br] TEXT, \`back tick\` TEXT, "it's" TEXT);
    CREATE INDEX "idx ""q"" 名" ON "we""ird tab"("名前", "q""uote");
    CREATE TABLE "order"("select" INTEGER PRIMARY KEY, "from" TEXT, "where" TEXT UNIQUE, "group" INTEGER);
    CREATE INDEX "index" ON "order"("group");
    CREATE TABLE "café ☕"("x y" TEXT, "table" INTEGER);
    CREATE TABLE "t,with,commas"("a,b" TEXT NOT NULL, "c)d" INTEGER NOT NULL, v, PRIMARY KEY("a,b", "c)d"));
    ${seq(1, 40)} INSERT INTO "we""ird tab" SELECT i, 's' || i, 'q''' || i, '名' || i, i, 'br', 'bt', 'ap' FROM n;
    ${seq(1, 40)} INSERT INTO "order" SELECT i, 'f' || i, 'w' || i, i % 4 FROM n;
    INSERT INTO "café ☕" VALUES ('☕', 1), ('tea', 2);
    INSERT INTO "t,with,commas" VALUES ('x,y', 1, 'a'), ('x', 2, 'b');`,
  );
  const r = await replicator(db, d1, { limits: { copyPageRows: 7 } });
  await sync(r);
  const compare = async () => {
    await expectSame(assert, db, d1, 'we"ird tab');
    await expectSame(assert, db, d1, 'order');
    await expectSame(assert, db, d1, 'café ☕', { rowid: true });
    await expectSame(assert, db, d1, 't,with,commas');
  };
  await compare();
  assert.equal(
    await d1Value(
      d1,
      `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'idx "q" 名'`,
    ),
    1,
  );
  assert.equal(
    await d1Value(d1, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'index'"),
    1,
  );
  run(
    db,
    `UPDATE "we""ird tab" SET "名前" = NULL, "q""uote" = '"' WHERE "k ey" % 3 = 0;
    DELETE FROM "we""ird tab" WHERE "k ey" % 5 = 0;
    INSERT OR REPLACE INTO "order" VALUES (100, 'x', 'w2', 1);
    UPDATE "order" SET "select" = 1000 WHERE "select" = 3;
    UPDATE "café ☕" SET "x y" = 'coffee' WHERE "table" = 1;
    UPDATE "t,with,commas" SET "c)d" = 20 WHERE "a,b" = 'x,y';`,
  );
  await r.flush();
  await compare();
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM "order" WHERE "select" = 2'), 0);
  r.close();
});

function hundredColumns(name, withKey) {
  const types = ['INTEGER', 'TEXT', 'REAL', 'BLOB', ''];
  let sql = `CREATE TABLE ${name}(${withKey ? 'id INTEGER PRIMARY KEY' : 'id INTEGER'}`;
  for (let k = 1; k < 100; ++k) sql += `, c${k} ${types[k % 5]}`;
  return `${sql})`;
}

function fillHundred(name, rows) {
  let sql = `${seq(1, rows)} INSERT INTO ${name} SELECT i`;
  for (let k = 1; k < 100; ++k) {
    const v = [
      `i * ${k} + 0.5`,
      `i * ${k}`,
      `'v' || i || '_${k}'`,
      `i / 8.0 + ${k}`,
      'randomblob(3)',
    ][k % 5];
    sql += `, CASE WHEN i % 10 = ${k % 10} THEN NULL ELSE ${v} END`;
  }
  return `${sql} FROM n`;
}

test('a 100-column table replicates', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, hundredColumns('wide', true));
  run(db, fillHundred('wide', 500));
  const r = await replicator(db, d1);
  const h = await sync(r);
  assert.equal(h.syncErrors, 0);
  await expectSame(assert, db, d1, 'wide');
  assert.equal(await d1Value(d1, "SELECT count(*) FROM pragma_table_info('wide')"), 100);
  run(
    db,
    `UPDATE wide SET c1 = -c1, c2 = NULL, c99 = 'last' WHERE id % 3 = 0;
    DELETE FROM wide WHERE id % 4 = 0;
    ${seq(1, 300)} INSERT INTO wide(id, c1, c2, c99) SELECT 1000 + i, i, 'x', i FROM n;`,
  );
  await r.flush();
  await expectSame(assert, db, d1, 'wide');
  assert.equal(r.health().syncErrors, 0);
  r.close();
});

test('a 100-column table without a primary key is a CONFIG error (rowid would be the 101st)', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, hundredColumns('wide', false));
  const r = await replicator(db, d1);
  await assert.rejects(
    r.start(),
    (e) => isCode('CONFIG')(e) && /wide/.test(e.message) && /101/.test(e.message),
  );
  r.close();
});

// ---------------------------------------------------------------------------------------------
// Values

test('integers at ±2^63 and 2^53+1 arrive exact', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE ints(id INTEGER PRIMARY KEY, v INTEGER, r, t TEXT);
    INSERT INTO ints VALUES
      (-9223372036854775808, 9223372036854775807, -9223372036854775808, '9223372036854775807'),
      (9223372036854775807, -9223372036854775808, 9223372036854775807, '-9223372036854775808'),
      (0, 9223372036854775808, -9223372036854775809, NULL),
      (1, -9223372036854775807, 18446744073709551615, '18446744073709551616'),
      (2, 9007199254740993, -9007199254740993, NULL),
      (3, 9007199254740992, 9007199254740991, NULL);
    CREATE TABLE ik(a INTEGER NOT NULL, b INTEGER NOT NULL, v, PRIMARY KEY(a, b)) WITHOUT ROWID;
    INSERT INTO ik VALUES (-9223372036854775808, 9223372036854775807, 'lo-hi'),
      (9223372036854775807, -9223372036854775808, 'hi-lo'), (9007199254740993, 9007199254740992, 'js');`,
  );
  assert.equal(localValue(db, 'SELECT typeof(v) FROM ints WHERE id = 0'), 'real');
  const r = await replicator(db, d1, { limits: { copyPageRows: 2 } });
  await sync(r);
  await expectSame(assert, db, d1, 'ints');
  await expectSame(assert, db, d1, 'ik');
  assert.equal(
    await d1Value(d1, 'SELECT CAST(v AS TEXT) FROM ints WHERE id = 2'),
    '9007199254740993',
  );
  assert.equal(
    await d1Value(d1, 'SELECT CAST(v AS TEXT) FROM ints WHERE id = -9223372036854775808'),
    '9223372036854775807',
  );
  assert.equal(
    await d1Value(d1, "SELECT CAST(a AS TEXT) FROM ik WHERE v = 'js'"),
    '9007199254740993',
  );
  run(
    db,
    `UPDATE ints SET v = v - 1 WHERE id = -9223372036854775808;
    UPDATE ints SET id = -9223372036854775807 WHERE id = -9223372036854775808;
    DELETE FROM ints WHERE id = 9223372036854775807;
    UPDATE ints SET v = v + 1 WHERE id = 2;
    UPDATE ik SET b = b + 1 WHERE v = 'js'; DELETE FROM ik WHERE v = 'hi-lo';`,
  );
  await r.flush();
  await expectSame(assert, db, d1, 'ints');
  await expectSame(assert, db, d1, 'ik');
  assert.equal(
    await d1Value(d1, 'SELECT CAST(v AS TEXT) FROM ints WHERE id = 2'),
    '9007199254740994',
  );
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM ints WHERE id = -9223372036854775808'), 0);
  assert.equal(
    await d1Value(d1, "SELECT CAST(b AS TEXT) FROM ik WHERE v = 'js'"),
    '9007199254740993',
  );
  r.close();
});

test('REALs: 1e308, 5e-324, Infinity, -Infinity, NaN, -0.0 match what SQLite stores', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE fl(id INTEGER PRIMARY KEY, r REAL, x);
    INSERT INTO fl VALUES (1, 9e999, -9e999), (2, -9e999, 9e999), (3, 9e999 - 9e999, 0.0 / 0),
      (4, 1e308, 5e-324), (5, -0.0, 0.0), (6, 0.1, 4.35),
      (7, 1.7976931348623157e308, 2.2250738585072014e-308), (8, NULL, NULL), (9, NULL, NULL),
      (10, 2.2250738585072009e-308, -5e-324), (11, 123456789.123456789, 1e-7);
    CREATE TABLE rk(k REAL PRIMARY KEY NOT NULL, v);
    INSERT INTO rk VALUES (9e999, 'inf'), (-9e999, '-inf'), (0.5, 'half'), (1e308, 'big'), (5e-324, 'tiny');`,
  );
  // Bound from JS: SQLite stores NaN as NULL and keeps the infinities.
  run(db, 'UPDATE fl SET r = ?, x = ? WHERE id = 8', [NaN, NaN]);
  run(db, 'UPDATE fl SET r = ?, x = ? WHERE id = 9', [Infinity, -Infinity]);
  assert.equal(localValue(db, 'SELECT typeof(r) || typeof(x) FROM fl WHERE id = 8'), 'nullnull');
  assert.equal(localValue(db, 'SELECT r = 9e999 FROM fl WHERE id = 9'), 1);
  const r = await replicator(db, d1);
  await sync(r);
  await expectSame(assert, db, d1, 'fl');
  await expectSame(assert, db, d1, 'rk');
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM fl WHERE r = 9e999'), 2);
  assert.equal(await d1Value(d1, 'SELECT x FROM fl WHERE id = 4'), 5e-324);
  assert.equal(await d1Value(d1, 'SELECT r FROM fl WHERE id = 4'), 1e308);
  assert.equal(await d1Value(d1, 'SELECT x = -9e999 FROM fl WHERE id = 9'), 1);
  assert.equal(await d1Value(d1, 'SELECT typeof(r) || typeof(x) FROM fl WHERE id = 3'), 'nullnull');
  run(
    db,
    `UPDATE fl SET r = -r, x = -x WHERE id IN (1, 2, 4, 5, 9);
    UPDATE fl SET r = 9e999 - 9e999 WHERE id = 6;
    UPDATE rk SET k = 1.5 WHERE k = 9e999; DELETE FROM rk WHERE k = -9e999;
    INSERT INTO rk VALUES (-9e999, 'back');`,
  );
  run(db, 'INSERT INTO fl VALUES (12, ?, ?)', [-Infinity, 5e-324]);
  await r.flush();
  await expectSame(assert, db, d1, 'fl');
  await expectSame(assert, db, d1, 'rk');
  assert.equal(await d1Value(d1, 'SELECT x FROM fl WHERE id = 4'), -5e-324);
  r.close();
});

test('empty strings, empty blobs and NULL stay apart', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE en(id INTEGER PRIMARY KEY, t TEXT, b BLOB, x);
    INSERT INTO en VALUES (1, '', X'', NULL), (2, NULL, NULL, ''), (3, 'NULL', NULL, X''),
      (4, ' ', zeroblob(0), ''''), (5, 'null', 'NULL', 0), (6, '''''', X'00', 0.0);
    CREATE TABLE ek(k TEXT PRIMARY KEY NOT NULL, v);
    INSERT INTO ek VALUES ('', 'empty key'), ('NULL', NULL), ('''''', ''), (' ', X'');`,
  );
  const r = await replicator(db, d1);
  await sync(r);
  await expectSame(assert, db, d1, 'en');
  await expectSame(assert, db, d1, 'ek');
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM en WHERE t IS NULL'), 1);
  assert.equal(await d1Value(d1, "SELECT count(*) FROM en WHERE t = ''"), 1);
  assert.equal(await d1Value(d1, 'SELECT typeof(b) FROM en WHERE id = 1'), 'blob');
  run(
    db,
    `UPDATE en SET t = NULL, x = '' WHERE id = 1;
    UPDATE en SET t = '', b = X'', x = NULL WHERE id = 2;
    UPDATE ek SET v = NULL WHERE k = '';
    UPDATE ek SET k = 'was empty' WHERE k = '';
    INSERT INTO ek VALUES ('', '');
    DELETE FROM ek WHERE k = 'NULL';`,
  );
  await r.flush();
  await expectSame(assert, db, d1, 'en');
  await expectSame(assert, db, d1, 'ek');
  r.close();
});

test('TEXT with NUL bytes, emoji and other Unicode, in keys and values', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE z(k TEXT PRIMARY KEY NOT NULL, v TEXT, b BLOB);
    INSERT INTO z VALUES ('a', 'plain', NULL), ('a'||char(0)||'b', 'x'||char(0)||'y', X'00'),
      ('a'||char(0), char(0), NULL), (char(0), 'the key is one NUL', NULL),
      ('it''s'||char(0)||',', 'quote, comma and NUL in the key', NULL),
      ('big', 'x'||char(0)||hex(zeroblob(20000)), NULL),
      ('🎉', '👩‍👩‍👧‍👦 family, 𝄞 clef, ﷽, é vs é', NULL),
      ('emoji-nul', '🎉'||char(0)||'🎉', NULL);`,
  );
  run(db, 'INSERT INTO z VALUES (?, ?, NULL)', ['lone\u0000js', 'from js \u0000 with 😀']);
  assert.equal(
    localValue(db, "SELECT length(CAST(v AS BLOB)) FROM z WHERE k = 'a'||char(0)||'b'"),
    3,
  );
  const r = await replicator(db, d1, { limits: { copyPageRows: 2 } });
  await sync(r);
  await expectSame(assert, db, d1, 'z');
  assert.equal(
    await d1Value(d1, "SELECT length(CAST(v AS BLOB)) FROM z WHERE k = 'a'||char(0)||'b'"),
    3,
  );
  assert.equal(await d1Value(d1, "SELECT length(CAST(v AS BLOB)) FROM z WHERE k = 'big'"), 40002);
  assert.equal(await d1Value(d1, "SELECT v FROM z WHERE k = '🎉'"), '👩‍👩‍👧‍👦 family, 𝄞 clef, ﷽, é vs é');
  run(
    db,
    `UPDATE z SET v = v||char(0)||'more' WHERE k = 'a'||char(0)||'b';
    UPDATE z SET k = 'moved'||char(0) WHERE k = char(0);
    DELETE FROM z WHERE k = 'a'||char(0);
    INSERT INTO z VALUES (char(0)||char(0), char(0), X'0000');
    UPDATE z SET v = v || char(0) WHERE k = 'big';
    UPDATE z SET k = '🎊' WHERE k = '🎉';`,
  );
  await r.flush();
  await expectSame(assert, db, d1, 'z');
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM z WHERE k = char(0)'), 0);
  assert.equal(await d1Value(d1, "SELECT count(*) FROM z WHERE k = 'a'"), 1);
  r.close();
});

// SQLite stores TEXT bytes as given; `X'FF' || b` (concatenating BLOBs gives TEXT) is an easy
// way to get TEXT that is not valid UTF-8. Under WASM every value the engine reads passes
// through a JS string, where such bytes become U+FFFD: the value must still arrive exactly
// (rendered as CAST(X'..' AS TEXT)), and a key holding them must not lose its row.
test('TEXT that is not valid UTF-8 arrives byte-exact, as value and as key', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
    INSERT INTO t VALUES (1, CAST(X'41FF42' AS TEXT)), (2, CAST(X'C3' AS TEXT)), (3, 'ok é');
    CREATE TABLE k(a TEXT, b, v, PRIMARY KEY(a, b)) WITHOUT ROWID;
    INSERT INTO k VALUES ('k', X'01', 1), ('k', 'plain', 2);`,
  );
  const r = await replicator(db, d1);
  await sync(r);
  run(
    db,
    "UPDATE k SET b = X'FF' || b WHERE v = 1; UPDATE t SET v = v || CAST(X'80' AS TEXT) WHERE id = 3;",
  );
  assert.equal(localValue(db, 'SELECT typeof(b) || hex(b) FROM k WHERE v = 1'), 'textFF01');
  await r.flush();
  assert.equal(
    await d1Value(d1, 'SELECT count(*) FROM k'),
    2,
    'a row whose new key is not valid UTF-8 vanished from D1',
  );
  await expectSame(assert, db, d1, 't');
  await expectSame(assert, db, d1, 'k');
  r.close();
});

test('rows near 2,000,000 bytes arrive exactly; a row over it is quarantined as D1_LIMIT', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB, t TEXT, note TEXT);
    INSERT INTO big VALUES (1, randomblob(1900000), NULL, 'blob 1.9 MB');
    INSERT INTO big VALUES (2, NULL, 'é' || hex(randomblob(474999)) || char(0) || hex(randomblob(475000)), 'text 1.9 MB');
    INSERT INTO big VALUES (3, randomblob(999000), hex(randomblob(499500)), 'two halves, 1,998,000 B');
    INSERT INTO big VALUES (4, randomblob(2000001), NULL, 'one value over the limit');
    INSERT INTO big VALUES (5, randomblob(1100000), hex(randomblob(500000)), 'over in total');
    ${seq(6, 30)} INSERT INTO big SELECT i, randomblob(i), 'small ' || i, NULL FROM n;`,
  );
  assert.equal(localValue(db, 'SELECT length(CAST(t AS BLOB)) FROM big WHERE id = 2'), 1900001);
  const r = await replicator(db, d1);
  const h = await sync(r);
  // Compare every row but the quarantined ones, big values in pieces D1 can return.
  const cmp = async (ids) => {
    const cols = ['b', 't'].flatMap((c) =>
      [0, 1, 2].map((k) => `hex(substr(CAST(${c} AS BLOB), ${k * 700000 + 1}, 700000))`),
    );
    const sql =
      `SELECT id, typeof(b), typeof(t), note, ${cols.join(', ')} FROM big ` +
      `WHERE id NOT IN (${ids.join(', ')}) ORDER BY id`;
    const a = localRows(db, sql);
    const b = await d1Rows(d1, sql);
    assert.equal(b.length, a.length);
    for (let i = 0; i < a.length; ++i) {
      for (let c = 0; c < a[i].length; ++c) {
        if (a[i][c] !== b[i][c]) {
          assert.fail(
            `row ${a[i][0]} column ${c} differs (lengths ${String(a[i][c]).length} vs ${String(b[i][c]).length})`,
          );
        }
      }
    }
  };
  await cmp([4, 5]);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM big WHERE id IN (4, 5)'), 0);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM big'), 28);
  assert.equal(await d1Value(d1, 'SELECT length(b) FROM big WHERE id = 1'), 1900000);
  const q = r.quarantined();
  assert.deepEqual(q.map((e) => e.key).sort(), ['4', '5'], JSON.stringify(q));
  for (const e of q) {
    assert.equal(e.table, 'big');
    assert.equal(e.code, 'D1_LIMIT');
    assert.ok(e.error.length > 0);
  }
  assert.equal(h.quarantined, 2);
  assert.equal(r.health().quarantined, 2);
  assert.match(r.metrics(), /d1sync_quarantined\{source="src-1"\} 2/);

  // Through the outbox: a new big row, a big row shrinking, a small row outgrowing the limit,
  // a quarantined row shrinking back under it and re-sent.
  run(
    db,
    `INSERT INTO big VALUES (31, randomblob(1950000), 'x', 'new 1.95 MB');
    UPDATE big SET b = X'01', note = 'shrunk' WHERE id = 1;
    UPDATE big SET b = randomblob(2050000) WHERE id = 6;
    UPDATE big SET b = randomblob(10), note = 'back under' WHERE id = 4;
    UPDATE big SET t = t || 'more' WHERE id = 2;`,
  );
  await r.flush();
  await cmp([5, 6]);
  assert.ok(
    r.quarantined().some((e) => e.key === '6' && e.code === 'D1_LIMIT'),
    JSON.stringify(r.quarantined()),
  );
  assert.equal(
    await d1Value(d1, 'SELECT count(*) FROM big WHERE id = 6'),
    0,
    'the row that outgrew the limit left D1 rather than staying stale',
  );
  run(db, 'UPDATE big SET b = NULL WHERE id = 5; DELETE FROM big WHERE id = 6;');
  await r.retryQuarantined();
  await expectSame(assert, db, d1, 'big');
  assert.equal(r.quarantined().length, 0);
  r.close();
});

test('FTS5 virtual tables and their shadow tables are skipped with a warning', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE VIRTUAL TABLE docs USING fts5(title, body);
    INSERT INTO docs VALUES ('a', 'alpha'), ('b', 'beta');
    CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
    INSERT INTO notes VALUES (1, 'one'), (2, 'two');`,
  );
  assert.equal(localValue(db, "SELECT count(*) FROM sqlite_master WHERE name = 'docs_data'"), 1);
  const r = await replicator(db, d1);
  const h = await sync(r);
  await expectSame(assert, db, d1, 'notes');
  for (const t of [
    'docs',
    'docs_data',
    'docs_idx',
    'docs_content',
    'docs_docsize',
    'docs_config',
  ]) {
    assert.equal(await d1HasTable(d1, t), false, t);
    assert.equal(h.initialSync.tables[t], undefined, t);
  }
  assert.ok(
    h.warnings.some((w) => /docs/.test(w) && /virtual/.test(w)),
    JSON.stringify(h.warnings),
  );
  assert.equal(
    localValue(
      db,
      "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'docs%'",
    ),
    0,
  );
  run(db, "INSERT INTO docs VALUES ('c', 'gamma'); INSERT INTO notes VALUES (3, 'three');");
  await r.flush();
  await expectSame(assert, db, d1, 'notes');
  assert.equal(await d1HasTable(d1, 'docs'), false);
  assert.equal(localValue(db, "SELECT count(*) FROM docs WHERE docs MATCH 'gamma'"), 1);
  r.close();
});

test('sqlite_sequence, AUTOINCREMENT and _cf_ tables', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
    INSERT INTO a(v) VALUES ('1'), ('2'), ('3'), ('4'), ('5');
    DELETE FROM a WHERE id = 5; INSERT INTO a(v) VALUES ('6');
    CREATE TABLE _cf_KV(key TEXT PRIMARY KEY, value BLOB); INSERT INTO _cf_KV VALUES ('k', X'01');
    ANALYZE;`,
  );
  const r = await replicator(db, d1);
  const h = await sync(r);
  await expectSame(assert, db, d1, 'a');
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM a WHERE id = 5'), 0);
  for (const t of ['sqlite_stat1', '_cf_KV', '_d1sync_log', '_d1sync_state', '_d1sync_tables']) {
    assert.equal(await d1HasTable(d1, t), false, t);
  }
  for (const t of ['sqlite_sequence', 'sqlite_stat1', '_cf_KV'])
    assert.equal(h.initialSync.tables[t], undefined, t);
  run(
    db,
    "DELETE FROM a WHERE id = 6; INSERT INTO a(v) VALUES ('7'); UPDATE _cf_KV SET value = X'02';",
  );
  await r.flush();
  await expectSame(assert, db, d1, 'a');
  assert.equal(await d1Value(d1, 'SELECT max(id) FROM a'), 7);
  assert.equal(await d1HasTable(d1, '_cf_KV'), false);
  r.close();
});

test('outbox keys that are not SQL literals are quarantined, never run locally or in D1', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');");
  const r = await replicator(db, d1);
  await sync(r);
  const bad = ['1); DROP TABLE t; --', '1,2', "X'0'", "'a' || 'b'"];
  for (const key of bad) {
    db.exec({
      sql: "INSERT INTO _d1sync_log(tbl, op, key, at_ms) VALUES ('t', 'U', ?, 0)",
      bind: [key],
    });
  }
  run(db, "INSERT INTO t VALUES (2, 'b');");
  const h = await sync(r);
  assert.equal(h.pendingChanges, 0);
  assert.equal(h.quarantined, bad.length);
  assert.equal(localValue(db, 'SELECT count(*) FROM t'), 2);
  await expectSame(assert, db, d1, 't');
  const held = await r.quarantined();
  assert.deepEqual(held.map((q) => q.key).sort(), [...bad].sort());
  for (const q of held) {
    assert.equal(q.code, 'INTERNAL');
    assert.match(q.error, /not the table's key as SQL literals/);
  }
  r.close();
});

// ---------------------------------------------------------------------------------------------
// Constraints the source enforced

test('INSERT OR REPLACE over a UNIQUE index removes the victims in D1', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE u(id INTEGER PRIMARY KEY, email TEXT UNIQUE, v);
    INSERT INTO u VALUES (1, 'a@x', 1), (2, 'b@x', 2), (3, 'c@x', 3), (4, 'd@x', 4), (5, 'e@x', 5), (6, 'f@x', 6);
    CREATE TABLE uc(id INTEGER PRIMARY KEY, a TEXT, b INTEGER, v);
    CREATE UNIQUE INDEX uc_ab ON uc(a, b);
    INSERT INTO uc VALUES (1, 'p', 1, 'x'), (2, 'p', 2, 'y'), (3, 'q', 1, 'z');
    CREATE TABLE un(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE UNIQUE);
    INSERT INTO un VALUES (1, 'alice'), (2, 'bob');
    CREATE TABLE ur(id INTEGER PRIMARY KEY, code TEXT UNIQUE ON CONFLICT REPLACE);
    INSERT INTO ur VALUES (1, 'c1'), (2, 'c2');
    CREATE TABLE uw(k TEXT PRIMARY KEY, email TEXT UNIQUE, v) WITHOUT ROWID;
    INSERT INTO uw VALUES ('a', 'e1', 1), ('b', 'e2', 2);`,
  );
  const r = await replicator(db, d1);
  await sync(r);
  run(
    db,
    `INSERT OR REPLACE INTO u VALUES (10, 'a@x', 'new');
    REPLACE INTO u VALUES (2, 'c@x', 'both');
    UPDATE OR REPLACE u SET email = 'd@x' WHERE id = 10;
    UPDATE u SET email = 'tmp' WHERE id = 5; UPDATE u SET email = 'e@x' WHERE id = 6;
    UPDATE u SET email = 'f@x' WHERE id = 5;
    INSERT OR REPLACE INTO uc VALUES (20, 'p', 1, 'n');
    INSERT OR REPLACE INTO un VALUES (30, 'ALICE');
    INSERT INTO ur VALUES (40, 'c1');
    INSERT OR REPLACE INTO uw VALUES ('n', 'e1', 'v');`,
  );
  assert.equal(
    localValue(db, 'SELECT group_concat(id) FROM (SELECT id FROM u ORDER BY id)'),
    '2,5,6,10',
  );
  await r.flush();
  for (const t of ['u', 'uc', 'un', 'ur', 'uw']) await expectSame(assert, db, d1, t);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM u WHERE id IN (1, 3, 4)'), 0);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM uc WHERE id = 1'), 0);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM un WHERE id = 1'), 0);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM ur WHERE id = 1'), 0);
  assert.equal(await d1Value(d1, "SELECT count(*) FROM uw WHERE k = 'a'"), 0);
  assert.equal(r.health().syncErrors, 0);
  r.close();
});

test('foreign-key cycles and self-references in replica mode', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `PRAGMA foreign_keys = ON;
    CREATE TABLE husband(id INTEGER PRIMARY KEY, wife INTEGER REFERENCES wife(id) DEFERRABLE INITIALLY DEFERRED, name TEXT);
    CREATE TABLE wife(id INTEGER PRIMARY KEY, husband INTEGER NOT NULL REFERENCES husband(id) DEFERRABLE INITIALLY DEFERRED, name TEXT);
    CREATE TABLE node(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES node(id));
    BEGIN;
    ${seq(1, 60)} INSERT INTO wife SELECT i, i, 'w' || i FROM n;
    ${seq(1, 60)} INSERT INTO husband SELECT i, i, 'h' || i FROM n;
    ${seq(1, 100)} INSERT INTO node SELECT i, CASE WHEN i < 100 THEN i + 1 END FROM n;
    INSERT INTO node VALUES (200, 200);
    COMMIT;`,
  );
  const r = await replicator(db, d1, { limits: { copyPageRows: 7 } });
  await sync(r);
  for (const t of ['husband', 'wife', 'node']) await expectSame(assert, db, d1, t);
  for (const t of ['husband', 'wife', 'node']) {
    assert.doesNotMatch(
      await d1Value(d1, `SELECT sql FROM sqlite_master WHERE name = '${t}'`),
      /REFERENCES/,
    );
  }
  run(
    db,
    `BEGIN;
    UPDATE husband SET wife = 2 WHERE id = 1; UPDATE husband SET wife = 1 WHERE id = 2;
    UPDATE wife SET husband = 2 WHERE id = 1; UPDATE wife SET husband = 1 WHERE id = 2;
    DELETE FROM husband WHERE id = 3; DELETE FROM wife WHERE id = 3;
    UPDATE node SET parent = 50 WHERE id = 100;
    UPDATE node SET parent = 200 WHERE id = 9; DELETE FROM node WHERE id = 10;
    COMMIT;`,
  );
  await r.flush();
  for (const t of ['husband', 'wife', 'node']) await expectSame(assert, db, d1, t);
  r.close();
});

// ---------------------------------------------------------------------------------------------
// D1 surprises and the outbox

test('a D1 that already holds other rows in the same table converges', async () => {
  const d1 = await env.fresh();
  const items = 'CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)';
  const empty = 'CREATE TABLE empty_here(id INTEGER PRIMARY KEY, v TEXT)';
  await d1.batch(
    [
      items,
      empty,
      `${seq(1, 120)} INSERT INTO items SELECT i, 'stale' || i, -i FROM n`,
      "INSERT INTO items VALUES (-5, 'below', 0), (1000, 'above', 0), (5000, 'far', 0)",
      `${seq(1, 10)} INSERT INTO empty_here SELECT i, 'x' FROM n`,
    ].map((s) => d1.prepare(s)),
  );
  const db = await openLocal();
  run(
    db,
    `${items}; ${empty};
    ${seq(1, 50)} INSERT INTO items SELECT i * 2, 'item' || i, i FROM n;
    INSERT INTO items VALUES (500, 'mid', 1);`,
  );
  const r = await replicator(db, d1, { limits: { copyPageRows: 7 } });
  await sync(r);
  await expectSame(assert, db, d1, 'items');
  await expectSame(assert, db, d1, 'empty_here');
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM items'), 51);
  run(
    db,
    "UPDATE items SET qty = qty * 10 WHERE id % 3 = 0; DELETE FROM items WHERE id % 5 = 0; INSERT INTO empty_here VALUES (3, 'y');",
  );
  await r.flush();
  await expectSame(assert, db, d1, 'items');
  await expectSame(assert, db, d1, 'empty_here');
  r.close();
});

test('a D1 table of the same name and another shape is replaced', async () => {
  const d1 = await env.fresh();
  await d1.batch(
    [
      'CREATE TABLE other(x TEXT PRIMARY KEY, junk BLOB)',
      "INSERT INTO other VALUES ('a', X'00')",
      'CREATE TABLE typed(id INTEGER PRIMARY KEY, v TEXT, r TEXT)',
      "INSERT INTO typed VALUES (1, 'one', 'x'), (50, 'gone', 'y')",
    ].map((s) => d1.prepare(s)),
  );
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE other(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO other VALUES (1, 'o1'), (2, 'o2');
    CREATE TABLE typed(id INTEGER PRIMARY KEY, v INTEGER, r REAL); INSERT INTO typed VALUES (1, 10, 1.5), (2, 20, 2.0), (3, NULL, 3);`,
  );
  const r = await replicator(db, d1);
  await sync(r);
  await expectSame(assert, db, d1, 'other');
  await expectSame(assert, db, d1, 'typed');
  assert.deepEqual(
    (await d1Rows(d1, "SELECT name FROM pragma_table_info('other')")).map((x) => x[0]),
    ['id', 'v'],
  );
  assert.equal(
    await d1Value(d1, "SELECT type FROM pragma_table_info('typed') WHERE name = 'v'"),
    'INTEGER',
  );
  r.close();
});

test('an outbox emptied completely: sequence numbers keep rising, nothing is lost', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); ${seq(1, 20)} INSERT INTO t SELECT i, 'v' || i FROM n;`,
  );
  let r = await replicator(db, d1);
  await sync(r);
  run(db, `${seq(21, 30)} INSERT INTO t SELECT i, 'v' FROM n`);
  await r.flush();
  const high = r.health().appliedSeq;
  assert.ok(high >= 10);
  assert.equal(localValue(db, PENDING_OUTBOX), 0);
  run(db, "DELETE FROM _d1sync_log; INSERT INTO t VALUES (100, 'after empty');");
  assert.ok(localValue(db, 'SELECT max(seq) FROM _d1sync_log') > high);
  await r.flush();
  await expectSame(assert, db, d1, 't');
  // Across a restart, with the outbox's own memory gone too (its keep trigger and every row).
  r.close();
  run(db, 'DROP TRIGGER _d1sync_log_keep; DELETE FROM _d1sync_log');
  r = await replicator(db, d1);
  await sync(r);
  const high2 = r.health().appliedSeq;
  run(db, "INSERT INTO t VALUES (101, 'after restart'); UPDATE t SET v = 'w' WHERE id = 1;");
  assert.ok(localValue(db, 'SELECT max(seq) FROM _d1sync_log') > high2);
  await r.flush();
  await expectSame(assert, db, d1, 't');
  // Emptied while changes wait in it: they still reach D1, or the engine says so.
  run(
    db,
    "UPDATE t SET v = 'lost?' WHERE id <= 5; DELETE FROM t WHERE id = 20; INSERT INTO t VALUES (300, 'new');",
  );
  run(db, 'DELETE FROM _d1sync_log');
  run(db, "INSERT INTO t VALUES (301, 'after')");
  try {
    await r.flush();
    await expectSame(assert, db, d1, 't');
  } catch (e) {
    assert.ok(e instanceof D1SyncError && /_d1sync_log/.test(e.message), String(e));
  }
  r.close();
});

// ---------------------------------------------------------------------------------------------
// Wrong options and a wrong binding

test('createReplicator() refuses bad options with D1SyncError CONFIG', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, 'CREATE TABLE t(id INTEGER PRIMARY KEY)');
  const source = sqliteWasmSource(db);
  const target = d1BindingTarget(d1);
  const refuse = async (options, pattern) => {
    await assert.rejects(
      createReplicator(options),
      (e) => isCode('CONFIG')(e) && (!pattern || pattern.test(e.message)),
      JSON.stringify(Object.keys(options ?? {})),
    );
  };
  await refuse(undefined);
  await refuse({ source, target }, /sourceId/);
  await refuse({ source, target, sourceId: '' }, /sourceId/);
  await refuse({ source, target, sourceId: 42 }, /sourceId/);
  await refuse({ source, target: {}, sourceId: 's' }, /target/);
  await refuse({ source, target: d1, sourceId: 's' }, /target/); // a raw binding, not d1BindingTarget()
  await refuse({ source: db, target, sourceId: 's' }, /source/);
  await refuse({ source, target, sourceId: 's', tabels: ['t'] }, /tabels/);
  await refuse({ source, target, sourceId: 's', tables: 't' }, /tables/);
  await refuse({ source, target, sourceId: 's', schema: 'loose' }, /schema/);
  await refuse({ source, target, sourceId: 's', takeover: 'yes' }, /takeover/);
  await refuse({ source, target, sourceId: 's', tenant: { column: 'c' } }, /tenant/);
  await refuse({ source, target, sourceId: 's', tenant: { column: 'c', value: 1.5 } }, /tenant/);
  await refuse(
    { source, target, sourceId: 's', limits: { statementBytes: 200000 } },
    /statementBytes/,
  );
  await refuse({ source, target, sourceId: 's', limits: { copyPageRows: 0 } }, /copyPageRows/);
  await refuse({ source, target, sourceId: 's', limits: { noSuchLimit: 1 } }, /noSuchLimit/);
  // Wrong bindings are refused where they are wrapped.
  assert.throws(() => d1BindingTarget({}), isCode('CONFIG'));
  assert.throws(() => d1BindingTarget(undefined), isCode('CONFIG'));
  assert.throws(() => d1BindingTarget(db), isCode('CONFIG'));
  assert.throws(() => sqliteWasmSource({}), isCode('CONFIG'));
  assert.throws(() => sqliteWasmSource(d1), isCode('CONFIG'));
  // Nothing reached D1.
  assert.equal(await d1HasTable(d1, '_d1sync_sources'), false);
  // And good options work.
  const r = await createReplicator({ source, target, sourceId: 's', limits: { copyPageRows: 5 } });
  await sync(r);
  await expectSame(assert, db, d1, 't');
  r.close();
  assert.throws(() => r.health(), isCode('CONFIG'), 'a closed replicator says so');
});

test('a database that replicates as one sourceId, opened with another, is a CONFIG error', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')");
  const first = await replicator(db, d1, { sourceId: 'name-a' });
  await sync(first);
  first.close();
  const renamed = await replicator(db, d1, { sourceId: 'name-b' });
  await assert.rejects(renamed.start(), (e) => isCode('CONFIG')(e) && /name-a/.test(e.message));
  renamed.close();
});

test('a target that throws something other than D1 errors: retried, nothing lost', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); ${seq(1, 100)} INSERT INTO t SELECT i, 'v' || i FROM n;`,
  );
  const real = d1BindingTarget(d1);
  let failures = 2;
  const target = {
    async batch(statements) {
      if (failures > 0) {
        --failures;
        throw new TypeError('some weird error');
      }
      return real.batch(statements);
    },
  };
  const r = await replicator(db, target, { limits: { copyPageRows: 30 }, flushRetryMs: 60000 });
  const h = await sync(r);
  await expectSame(assert, db, d1, 't');
  assert.ok(h.retries >= 2, JSON.stringify(h));
  assert.match(h.lastError ?? '', /some weird error/);
  r.close();
});
