// schema: 'strict' inside a Durable Object: D1 keeps FOREIGN KEY / UNIQUE / CHECK, and the
// engine must order and defer so that valid local histories still replicate.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertReplicated, dumpD1, room, startMiniflare } from './harness.mjs';

describe("schema: 'strict'", () => {
  let mf;
  before(async () => {
    mf = await startMiniflare();
  });
  after(async () => {
    await mf?.dispose();
  });

  test('a child table copied in small pages whose parents are in another table', async () => {
    const r = room(mf, 'strict-tree');
    // "a_child" sorts before "z_parent": the copy must still put parents in D1 first.
    await r.exec(
      "CREATE TABLE z_parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL CHECK (name <> ''))",
      'CREATE TABLE a_child(id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES z_parent(id))',
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50)
       INSERT INTO z_parent SELECT i, 'p' || i FROM s`,
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200)
       INSERT INTO a_child SELECT i, 51 - (i % 50 + 1) FROM s`,
    );
    await r.configure({
      sourceId: 'strict-tree',
      schemaMode: 'strict',
      limits: { copyPageRows: 7 },
    });
    const f = await r.flush();
    assert.equal(f.flushed, true, JSON.stringify(f.error));
    assert.equal(
      f.health.quarantined,
      0,
      JSON.stringify((await r.ok('quarantined')).quarantined.slice(0, 2)),
    );
    assert.equal(
      (await assertReplicated(mf, r, { table: 'z_parent', columns: ['id', 'name'] })).length,
      50,
    );
    assert.equal(
      (await assertReplicated(mf, r, { table: 'a_child', columns: ['id', 'parent'] })).length,
      200,
    );
    // D1 really enforces the key (strict keeps it).
    const db = await mf.getD1Database('DB');
    await assert.rejects(db.prepare('INSERT INTO a_child VALUES (1000, 999)').run(), /FOREIGN KEY/);
    // A new parent and its children in one local transaction arrive together.
    await r.execTx(
      `INSERT INTO z_parent VALUES (51, 'p51')`,
      `INSERT INTO a_child VALUES (201, 51)`,
      `DELETE FROM a_child WHERE parent = 1`,
      `DELETE FROM z_parent WHERE id = 1`,
    );
    const g = await r.flush();
    assert.equal(g.flushed, true, JSON.stringify(g.error));
    assert.equal(g.health.quarantined, 0);
    await assertReplicated(mf, r, { table: 'z_parent', columns: ['id', 'name'] });
    await assertReplicated(mf, r, { table: 'a_child', columns: ['id', 'parent'] });
  });

  test('an FK cycle across copy pages: nothing lost, retryQuarantined() converges', async () => {
    const r = room(mf, 'strict-cycle');
    await r.exec(
      'CREATE TABLE a(id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b(id) DEFERRABLE INITIALLY DEFERRED, ' +
        'parent INTEGER REFERENCES a(id))',
      'CREATE TABLE b(id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id) DEFERRABLE INITIALLY DEFERRED)',
    );
    await r.execTx(
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 60)
       INSERT INTO a SELECT i, 61 - i, CASE WHEN i > 1 THEN 61 - i END FROM s`,
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 60)
       INSERT INTO b SELECT i, 61 - i FROM s`,
    );
    await r.configure({
      sourceId: 'strict-cycle',
      schemaMode: 'strict',
      limits: { copyPageRows: 7 },
    });
    const f = await r.flush();
    assert.equal(f.flushed, true, JSON.stringify(f.error));
    // Whatever did not fit is reported, never silently dropped.
    const inD1 =
      (await dumpD1(mf, { table: 'a', columns: ['id'] })).length +
      (await dumpD1(mf, { table: 'b', columns: ['id'] })).length;
    assert.equal(inD1 + f.health.quarantined, 120);
    const q = (await r.ok('quarantined')).quarantined;
    assert.equal(q.length, f.health.quarantined);
    for (const item of q) {
      assert.equal(item.code, 'D1_CONSTRAINT');
      assert.match(item.error, /FOREIGN KEY constraint failed/);
    }
    const retried = await r.ok('retryQuarantined');
    assert.equal(retried.quarantined.length, 0, JSON.stringify(retried.quarantined.slice(0, 2)));
    assert.equal(
      (await assertReplicated(mf, r, { table: 'a', columns: ['id', 'b_id', 'parent'] })).length,
      60,
    );
    assert.equal(
      (await assertReplicated(mf, r, { table: 'b', columns: ['id', 'a_id'] })).length,
      60,
    );
  });

  // Strict mode replays coalesced rows through D1's UNIQUE constraint, which refuses a swap
  // that the local database went through via an intermediate value (SPEC: why 'replica' is the
  // default). The rows are quarantined and reported, never dropped silently; replica mode
  // replicates the same history.
  test('two rows swapping a UNIQUE value: quarantined in strict mode, replicated in replica mode', async () => {
    for (const schemaMode of ['strict', 'replica']) {
      const r = room(mf, `swap-${schemaMode}`);
      await r.configure({
        sourceId: `swap-${schemaMode}`,
        schemaMode,
        tables: [`s_${schemaMode}`],
        schema: [`CREATE TABLE s_${schemaMode}(id INTEGER PRIMARY KEY, u TEXT UNIQUE)`],
      });
      await r.exec(`INSERT INTO s_${schemaMode} VALUES (1, 'u1'), (2, 'u2')`);
      assert.equal((await r.flush()).flushed, true);
      await r.execTx(
        `UPDATE s_${schemaMode} SET u = 'tmp' WHERE id = 1`,
        `UPDATE s_${schemaMode} SET u = 'u1' WHERE id = 2`,
        `UPDATE s_${schemaMode} SET u = 'u2' WHERE id = 1`,
      );
      const f = await r.flush();
      assert.equal(f.flushed, true, JSON.stringify(f.error));
      if (schemaMode === 'strict') {
        const q = (await r.ok('quarantined')).quarantined;
        assert.ok(q.length >= 1, JSON.stringify(f.health));
        for (const item of q) {
          assert.equal(item.code, 'D1_CONSTRAINT');
          assert.match(item.error, /UNIQUE constraint failed/);
        }
        assert.equal(f.health.healthy, false, 'quarantined changes make health() unhealthy');
      } else {
        assert.equal(f.health.quarantined, 0);
        await assertReplicated(mf, r, { table: `s_${schemaMode}`, columns: ['id', 'u'] });
      }
    }
  });
});
