// Restart in the middle of an initial sync: Miniflare persists the DO's SQLite and D1 to a temp
// dir; a flush limited to two batches leaves the copy half done, Miniflare is disposed, a new
// one over the same dirs finishes the sync, and D1 equals the DO with nothing lost or doubled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertReplicated, dumpD1, room, startMiniflare, tempDir } from './harness.mjs';

const ROWS = 5000;
const PAGE = 200;
const ITEMS = { table: 'items', columns: ['id', 'n', 'r', 't', 'b'] };
const NOTES = { table: 'notes', columns: ['k', 'body'] };

test('an initial sync interrupted by a restart resumes and converges exactly', async () => {
  const tmp = tempDir();
  let mf;
  try {
    mf = await startMiniflare({ persistDir: tmp.dir });
    let r = room(mf, 'restart');
    // Create the tables and seed them before the replicator exists, so every row goes through
    // the initial copy (keyset pages of PAGE rows), not through the outbox.
    await r.exec(
      'CREATE TABLE items(id INTEGER PRIMARY KEY, n INTEGER, r REAL, t TEXT, b BLOB)',
      'CREATE TABLE notes(k TEXT PRIMARY KEY, body TEXT) WITHOUT ROWID',
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${ROWS})
       INSERT INTO items SELECT i, 9223372036854775807 - i, i / 7.0,
         'row ' || i || char(0) || 'tail', randomblob(i % 50) FROM s WHERE i % 1000 <> 0`,
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 700)
       INSERT INTO notes SELECT printf('note-%05d', i), 'body ' || i FROM s`,
    );
    await r.configure({ sourceId: 'restart', limits: { copyPageRows: PAGE }, start: false });
    const first = await r.flush({ maxBatches: 2 });
    assert.equal(first.flushed, true, JSON.stringify(first.error));
    assert.equal(first.health.initialSync.done, false, 'two batches cannot finish the copy');
    assert.equal(first.health.state, 'initial_sync');
    // D1 holds other data in key ranges not copied yet (keys the DO lacks, a key it has with
    // other values, one past the DO's largest key): the copy must make D1 converge.
    const db = await mf.getD1Database('DB');
    await db.batch([
      db.prepare(`INSERT OR REPLACE INTO items(id, n, r, t, b) VALUES
        (3000, 1, 1.0, 'stray: absent in the DO', NULL), (4000, 2, 2.0, 'stray', X'01'),
        (4321, 3, 3.0, 'stray: overwritten', NULL), (${ROWS + 500}, 4, 4.0, 'stray: past the end', NULL)`),
      db.prepare(
        `INSERT OR REPLACE INTO notes(k, body) VALUES ('note-00650x', 'stray'), ('zzz', 'stray')`,
      ),
    ]);
    // Writes made during the copy: captured, applied after it.
    await r.exec(
      `UPDATE items SET t = 'changed during copy' WHERE id IN (1, 2500, ${ROWS})`,
      `DELETE FROM items WHERE id BETWEEN 10 AND 19`,
      `INSERT INTO items VALUES (${ROWS + 1}, -1, 0.5, 'late insert', X'00')`,
      `DELETE FROM notes WHERE k = 'note-00700'`,
    );
    const second = await r.flush({ maxBatches: 2 });
    assert.equal(second.flushed, true, JSON.stringify(second.error));
    assert.equal(second.health.initialSync.done, false);
    const copiedBefore = await dumpD1(mf, ITEMS);
    assert.ok(
      copiedBefore.length > 0 && copiedBefore.length < ROWS,
      `D1 holds part of the table before the restart (${copiedBefore.length} rows)`,
    );
    await mf.dispose();
    mf = undefined;

    mf = await startMiniflare({ persistDir: tmp.dir });
    r = room(mf, 'restart');
    // The persisted DO and D1 survived the restart.
    const [[[count]]] = await r.exec('SELECT count(*) FROM items');
    assert.equal(count, ROWS - ROWS / 1000 - 10 + 1);
    assert.equal((await dumpD1(mf, ITEMS)).length, copiedBefore.length);

    const done = await r.flush();
    assert.equal(done.flushed, true, JSON.stringify(done.error));
    assert.equal(done.health.initialSync.done, true);
    assert.equal(done.health.pendingChanges, 0);
    assert.equal(done.health.state, 'idle');
    assert.equal(done.health.initialSync.tables.items.phase, 'live');

    const items = await assertReplicated(mf, r, ITEMS);
    assert.equal(items.length, ROWS - ROWS / 1000 - 10 + 1);
    const notes = await assertReplicated(mf, r, NOTES);
    assert.equal(notes.length, 699);
    // Nothing doubled: the key is unique in D1 as well (compared row for row above, and
    // counted here without ORDER BY so a duplicate key would show).
    const db2 = await mf.getD1Database('DB');
    const dup = await db2
      .prepare('SELECT count(*) AS n, count(DISTINCT id) AS d FROM items')
      .first();
    assert.equal(dup.n, dup.d);
    // The watermark in D1 matches what the DO applied.
    const src = await db2
      .prepare(`SELECT applied_seq FROM _d1sync_sources WHERE source_id = 'restart'`)
      .first();
    assert.equal(src.applied_seq, done.health.appliedSeq);

    // Streaming after the restart still works.
    await r.exec(`UPDATE items SET n = 1 WHERE id = ${ROWS + 1}`);
    const again = await r.flush();
    assert.equal(again.flushed, true);
    await assertReplicated(mf, r, ITEMS);
  } finally {
    await mf?.dispose();
    tmp.remove();
  }
});
