// hydrate: a sqlite-wasm database started from real local D1, exact, then replicating as the
// source it took over (tests/native/test_hydrate.cpp has the restart and DDL cases).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1,
  openLocal,
  run,
  localRows,
  d1Value,
  expectSame,
  replicator,
  sync,
  seq,
  D1SyncError,
} from './helpers.mjs';
import { randomDoubles } from './reals-data.mjs';

const SCHEMA = `
  CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, big INTEGER, score REAL, data BLOB);
  CREATE INDEX items_name ON items(name);
  CREATE TABLE tags(k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
  CREATE TABLE log(msg TEXT);
`;

async function filled(rows, seed) {
  const db = await openLocal();
  run(db, SCHEMA);
  const doubles = randomDoubles(rows, seed);
  db.transaction(() => {
    for (let i = 1; i <= rows; i++) {
      db.exec({
        sql: 'INSERT INTO items VALUES (?, ?, ?, ?, ?)',
        bind: [
          i,
          i % 7 === 0 ? 'nul\u0000byte' : i % 11 === 0 ? null : `item ${i}`,
          BigInt.asIntN(64, BigInt(seed) * 0x9e3779b97f4a7c15n * BigInt(i)),
          doubles[i - 1],
          i % 5 === 0 ? new Uint8Array() : new Uint8Array([i & 255, 0, 7]),
        ],
      });
    }
  });
  run(db, `${seq(1, 300)} INSERT INTO tags SELECT printf('t%04d', i), i FROM n;`);
  run(
    db,
    `${seq(1, 200)} INSERT INTO log SELECT 'line ' || i FROM n; DELETE FROM log WHERE rowid % 9 = 0;`,
  );
  return db;
}

let env;
before(async () => {
  env = await startD1();
});
after(async () => {
  await env?.dispose();
});

test('a new database hydrates from D1 bit for bit, then replaces the old one', async () => {
  const d1 = await env.fresh();
  const old = await filled(3000, 5);
  const ro = await replicator(old, d1);
  await sync(ro);

  const fresh = await openLocal();
  const rf = await replicator(fresh, d1, {
    hydrate: true,
    takeover: true,
    limits: { copyPageRows: 500 },
  });
  await rf.start();
  const h = rf.health();
  assert.equal(h.rowsHydrated, 3000 + 300 + 178);
  assert.equal(h.initialSync.done, true);
  assert.equal(h.pendingChanges, 0);
  for (const t of ['items', 'tags']) await expectSame(assert, fresh, d1, t);
  await expectSame(assert, fresh, d1, 'log', { rowid: true });
  assert.equal(
    localRows(fresh, "SELECT count(*) FROM sqlite_master WHERE name = 'items_name'")[0][0],
    1,
  );
  const written = h.d1RowsWritten;
  assert.equal(h.rowsReplicated, 0);

  run(fresh, "UPDATE items SET score = -score WHERE id <= 10; INSERT INTO log VALUES ('new');");
  await rf.flush();
  for (const t of ['items', 'tags']) await expectSame(assert, fresh, d1, t);
  await expectSame(assert, fresh, d1, 'log', { rowid: true });
  // Only the 11 changes travelled: nothing hydrated was sent back (D1 counts an upsert's
  // index entries and the fence's row as written too).
  assert.equal(rf.health().rowsReplicated, 11);
  assert.ok(rf.health().d1RowsWritten - written <= 3 * 11, 'D1 wrote for the changes only');

  run(old, "UPDATE items SET name = 'old' WHERE id = 1;");
  await assert.rejects(ro.flush(), (e) => e instanceof D1SyncError && e.code === 'FENCED');
  ro.close?.();
  rf.close?.();
});

test('hydrate refuses a database that has tables', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, 'CREATE TABLE mine(x)');
  const r = await replicator(db, d1, { hydrate: true });
  await assert.rejects(
    r.start(),
    (e) => e instanceof D1SyncError && e.code === 'CONFIG' && /has tables: mine/.test(e.message),
  );
  assert.equal(await d1Value(d1, "SELECT count(*) FROM sqlite_master WHERE name = 'mine'"), 0);
});
