// Writes through a SQLite-backed Durable Object inside workerd, flushes, and compares D1 with
// the DO row for row (storage class + bytes; REALs as numbers).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertReplicated, dumpD1, room, startMiniflare } from './harness.mjs';

const ITEMS = { table: 'items', columns: ['id', 'n', 'r', 't', 'b'] };
const TAGS = { table: 'tag s', columns: ['k', 'v'] }; // text key, WITHOUT ROWID
const LOOSE = { table: 'loose', columns: ['rowid', 'a', 'b'], orderBy: ['rowid'] }; // no PK

const SCHEMA = [
  'CREATE TABLE items(id INTEGER PRIMARY KEY, n INTEGER, r REAL, t TEXT, b BLOB)',
  'CREATE TABLE "tag s"(k TEXT PRIMARY KEY, v) WITHOUT ROWID',
  'CREATE TABLE loose(a, b)',
  'CREATE UNIQUE INDEX items_n ON items(n)',
];

describe('replication inside workerd', () => {
  let mf;
  let r;
  before(async () => {
    mf = await startMiniflare();
    r = room(mf, 'replication');
    await r.configure({ sourceId: 'replication', schema: SCHEMA });
  });
  after(async () => {
    await mf?.dispose();
  });

  test('inserts with exact values reach D1 unchanged', async () => {
    await r.exec(
      `INSERT INTO items VALUES
         (1, 9223372036854775807, 1.5, 'plain', X'00FF10'),
         (2, -9223372036854775808, 1e308, 'a' || char(0) || 'b', X''),
         (3, 0, 5e-324, '', NULL),
         (4, 9007199254740993, 0.1, 'Ünïcødé ✓ ''quoted''', zeroblob(3)),
         (5, NULL, -0.0, char(0), X'00'),
         (6, 42, 4.35, NULL, randomblob(64))`,
      `INSERT INTO "tag s" VALUES ('α', 1), ('', 'empty key'), ('a' || char(0) || 'z', X'DEADBEEF'),
         ('select', 2.25), ('big', 9223372036854775806)`,
      `INSERT INTO loose(a, b) VALUES (NULL, NULL), ('x', 1), ('x', 1)`,
    );
    const flushed = await r.flush();
    assert.equal(flushed.flushed, true);
    assert.equal(flushed.health.pendingChanges, 0);
    assert.equal(flushed.health.state, 'idle');
    assert.equal(flushed.health.appliedSeq, flushed.health.capturedSeq);

    const items = await assertReplicated(mf, r, ITEMS);
    assert.equal(items.length, 6);
    // The values the DO holds are the ones written (the dump is not vacuous).
    assert.equal(Buffer.from(items[0].n.hex, 'hex').toString(), '9223372036854775807');
    assert.equal(items[1].t.hex, '610062');
    assert.equal(items[1].b.type, 'blob');
    assert.equal(items[1].b.hex, '');
    assert.equal(items[2].t.type, 'text');
    assert.equal(items[2].b.type, 'null');
    assert.equal(items[4].t.hex, '00');
    const tags = await assertReplicated(mf, r, TAGS);
    assert.equal(tags.length, 5);
    const loose = await assertReplicated(mf, r, LOOSE);
    assert.equal(loose.length, 3);
  });

  test('updates, key changes, deletes and INSERT OR REPLACE converge', async () => {
    await r.exec(
      `UPDATE items SET t = t || char(0) || 'more', r = r * 2 WHERE id IN (1, 2)`,
      `UPDATE items SET id = 100 WHERE id = 3`, // key change: old key deleted
      `DELETE FROM items WHERE id = 4`,
      `INSERT OR REPLACE INTO items VALUES (7, 42, 2.5, 'replaced n=42', X'01')`, // evicts id 6
      `UPDATE "tag s" SET k = 'renamed' WHERE k = 'select'`,
      `DELETE FROM "tag s" WHERE k = ''`,
      `DELETE FROM loose WHERE rowid = 2`,
      `UPDATE loose SET b = X'CAFE' WHERE rowid = 3`,
    );
    const flushed = await r.flush();
    assert.equal(flushed.flushed, true, JSON.stringify(flushed.error));
    const items = await assertReplicated(mf, r, ITEMS);
    assert.deepEqual(
      items.map((row) => Buffer.from(row.id.hex, 'hex').toString()),
      ['1', '2', '5', '7', '100'],
    );
    assert.equal(items[0].r.real, '3');
    assert.equal(items[1].r.real, 'Infinity'); // 1e308 * 2: SQLite stores +Inf
    assert.equal(items[1].t.hex, Buffer.from('a\0b\0more').toString('hex').toUpperCase());
    const tags = await assertReplicated(mf, r, TAGS);
    assert.ok(
      tags.some((row) => row.k.hex === Buffer.from('renamed').toString('hex').toUpperCase()),
    );
    assert.equal(tags.length, 4);
    const loose = await assertReplicated(mf, r, LOOSE);
    assert.equal(loose.length, 2);
  });

  test('writes made while a batch is in flight are covered by the next flush()', async () => {
    await r.exec(`INSERT INTO items VALUES (50, 50, 50.5, 'before', NULL)`);
    const out = await r.ok('interleave', {
      statements: [
        `UPDATE items SET t = 'during the flight' WHERE id = 50`,
        `INSERT INTO items VALUES (51, 51, 51.5, 'inserted during the flight', X'51')`,
        `DELETE FROM items WHERE id = 5`,
      ],
    });
    assert.deepEqual(out.settled, ['ok', 'ok']);
    assert.equal(out.health.pendingChanges, 0);
    // No further flush: the second flush() alone must have brought D1 up to date.
    const items = await assertReplicated(mf, r, ITEMS);
    const ids = items.map((row) => Buffer.from(row.id.hex, 'hex').toString());
    assert.ok(ids.includes('51') && !ids.includes('5'));
    const row50 = items.find((row) => row.id.hex === Buffer.from('50').toString('hex'));
    assert.equal(Buffer.from(row50.t.hex, 'hex').toString(), 'during the flight');
  });

  test('values too big for quote() in a DO (over ~1.1 MB) travel in parts', async () => {
    await r.exec(
      `INSERT INTO items VALUES (200, 200, NULL, NULL, randomblob(1500000))`,
      `INSERT INTO items VALUES (201, 201, NULL, 'x' || char(0) || replace(hex(zeroblob(600000)), '00', 'ab'), NULL)`,
      `INSERT INTO items VALUES (202, 202, NULL, NULL, randomblob(20000))`,
      // Near the 2,000,000-byte row limit, and multi-byte text split into parts (substr()
      // counts characters in TEXT, bytes in BLOBs).
      `INSERT INTO items VALUES (203, 203, NULL, NULL, randomblob(1999000))`,
      `INSERT INTO items VALUES (204, 204, NULL, replace(hex(zeroblob(700000)), '00', 'é'), randomblob(500000))`,
    );
    const flushed = await r.flush();
    assert.equal(flushed.flushed, true, JSON.stringify(flushed.error));
    assert.equal(flushed.health.quarantined, 0);
    const items = await assertReplicated(mf, r, ITEMS);
    const big = items.find((row) => row.id.hex === Buffer.from('200').toString('hex'));
    assert.equal(big.b.hex.length, 3000000);
    const text = items.find((row) => row.id.hex === Buffer.from('201').toString('hex'));
    assert.equal(text.t.hex.length, 2 * (2 + 1200000));
    const near = items.find((row) => row.id.hex === Buffer.from('203').toString('hex'));
    assert.equal(near.b.hex.length, 2 * 1999000);
    const multi = items.find((row) => row.id.hex === Buffer.from('204').toString('hex'));
    assert.equal(multi.t.hex.length, 2 * 1400000);
    const heap = await r.memory();
    console.log(
      `[d1sync wasm memory] after replicating rows of up to 1,999,000 bytes: ${heap} B ` +
        `(${(heap / 1048576).toFixed(2)} MiB)`,
    );
    assert.ok(heap <= 64 * 1048576, `WASM memory ${heap} B`);
  });

  test('a row over 2,000,000 bytes is quarantined as D1_LIMIT; the rest replicates', async () => {
    await r.exec(
      `INSERT INTO items VALUES (300, 300, NULL, NULL, randomblob(2100000))`,
      `INSERT INTO items VALUES (301, 301, 3.25, 'after the big one', NULL)`,
    );
    const flushed = await r.flush();
    assert.equal(flushed.flushed, true, JSON.stringify(flushed.error));
    assert.equal(flushed.health.quarantined, 1);
    const q = (await r.ok('quarantined')).quarantined;
    assert.equal(q.length, 1);
    assert.equal(q[0].code, 'D1_LIMIT');
    assert.equal(q[0].table, 'items');
    const remote = await dumpD1(mf, ITEMS);
    const ids = remote.map((row) => Buffer.from(row.id.hex, 'hex').toString());
    assert.ok(ids.includes('301'));
    assert.ok(!ids.includes('300'));
  });

  test('D1 gets the user tables only, never _cf_* (the DO KV) nor the outbox', async () => {
    const db = await mf.getD1Database('DB');
    const { results } = await db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_d1sync\\_%' ESCAPE '\\'
       ORDER BY name`,
      )
      .all();
    assert.deepEqual(
      results.map((row) => row.name),
      ['items', 'loose', 'tag s'],
    );
    // The DO really has a _cf_KV table (the fixture's configuration lives there).
    const local = await r.exec(`SELECT count(*) FROM sqlite_master WHERE name = '_cf_KV'`);
    assert.equal(local[0][0][0], 1);
    // The UNIQUE index arrives non-unique (replica schema).
    const idx = await db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'items_n'`).first();
    assert.ok(idx, 'index items_n exists in D1');
    assert.doesNotMatch(idx.sql, /UNIQUE/i);
  });

  test('metrics are Prometheus text labelled with the source', async () => {
    const { metrics } = await r.ok('metrics');
    assert.match(metrics, /d1sync_pending_changes\{source="replication"\} 0/);
    assert.match(metrics, /d1sync_syncs_total\{[^}]*source="replication"/);
  });

  test('keys at ±2^63 survive keyset paging (sql.exec would round them as JS numbers)', async () => {
    const k = room(mf, 'huge-keys');
    const [, , , , , [[maxId]]] = await k.exec(
      'CREATE TABLE k(id INTEGER PRIMARY KEY, v TEXT)',
      'CREATE TABLE nk(a TEXT)',
      `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 49)
       INSERT INTO k SELECT 9223372036854775807 - i, 'top ' || i FROM s`,
      `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 49)
       INSERT INTO k SELECT -9223372036854775808 + i, 'bottom ' || i FROM s`,
      `INSERT INTO nk(rowid, a) VALUES (9223372036854775806, 'x'), (9223372036854775805, 'y')`,
      'SELECT max(id) FROM k',
    );
    assert.equal(maxId, 2 ** 63, 'the DO hands int64 to JS as a rounded number');
    // Pages of 7 rows: every cursor sits between keys that collide as doubles.
    await k.configure({ sourceId: 'huge-keys', limits: { copyPageRows: 7 } });
    const f = await k.flush();
    assert.equal(f.flushed, true, JSON.stringify(f.error));
    assert.equal(f.health.initialSync.tables.k.copied, 100);
    const NK = { table: 'nk', columns: ['rowid', 'a'], orderBy: ['rowid'] };
    assert.equal((await assertReplicated(mf, k, { table: 'k', columns: ['id', 'v'] })).length, 100);
    assert.equal((await assertReplicated(mf, k, NK)).length, 2);
    await k.exec(
      `INSERT INTO nk(a) VALUES ('z')`, // rowid 9223372036854775807
      `UPDATE nk SET a = 'X' WHERE rowid = 9223372036854775806`,
      `DELETE FROM k WHERE id IN (9223372036854775806, -9223372036854775807)`,
    );
    assert.equal((await k.flush()).flushed, true);
    assert.equal((await assertReplicated(mf, k, { table: 'k', columns: ['id', 'v'] })).length, 98);
    const nk = await assertReplicated(mf, k, NK);
    assert.equal(nk[2].rowid.hex, Buffer.from('9223372036854775807').toString('hex').toUpperCase());
  });
});
