// hydrate inside workerd: a fresh SQLite-backed Durable Object starts from what D1 holds for
// its tenant, takes the source over from the old one, and replicates on from there.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertReplicated, assertSameRows, room, startMiniflare } from './harness.mjs';

const ROWS = 50000;
const ITEMS = { table: 'items', columns: ['id', 'n', 'r', 't', 'b'] };
const SCHEMA = [
  'CREATE TABLE items(id INTEGER PRIMARY KEY, n INTEGER, r REAL, t TEXT, b BLOB)',
  'CREATE INDEX items_t ON items(t)',
];
const tenant = { column: 'room_id', value: 'room-a' };

let mf;
before(async () => {
  mf = await startMiniflare();
});
after(async () => {
  await mf?.dispose();
});

test(`a fresh Durable Object hydrates ${ROWS} rows of its tenant and takes over`, async () => {
  const old = room(mf, 'old-a');
  await old.exec(
    ...SCHEMA,
    `WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < ${ROWS})
     INSERT INTO items SELECT k, (k * 2654435761) % 9007199254740993 - 4503599627370496,
       CASE k % 4 WHEN 0 THEN k / 7.0 WHEN 1 THEN -0.0 WHEN 2 THEN 4.9e-324 ELSE 1e308 / k END,
       CASE WHEN k % 5 = 0 THEN 'nul' || char(0) || k ELSE 'row ' || k END,
       CASE WHEN k % 3 = 0 THEN NULL ELSE randomblob(12) END FROM s`,
    // Values far over a Durable Object's 100 KB statement cap: hydrated in pieces.
    "UPDATE items SET t = printf('%.*c', 200000, 'L'), b = randomblob(300000) WHERE id = 2",
  );
  const other = room(mf, 'other-b');
  await other.exec(...SCHEMA, "INSERT INTO items VALUES (1, 1, 1.5, 'b', NULL)");
  await other.configure({ sourceId: 'other-b', tenant: { column: 'room_id', value: 'room-b' } });
  await other.flush();
  await old.configure({ sourceId: 'room-a', tenant, limits: { copyPageRows: 5000 } });
  await old.flush();
  const before = await assertReplicated(mf, old, { ...ITEMS, tenant });

  const fresh = room(mf, 'new-a');
  await fresh.configure({
    sourceId: 'room-a',
    tenant,
    hydrate: true,
    takeover: true,
    limits: { copyPageRows: 5000 },
  });
  const h = await fresh.health();
  assert.equal(h.rowsHydrated, ROWS);
  assert.equal(h.rowsReplicated, 0);
  assertSameRows(before, await fresh.dump(ITEMS.table, ITEMS.columns), 'new-a:items');
  const indexes = await fresh.exec(
    "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'items_t'",
  );
  assert.equal(indexes[0][0][0], 0, "a tenant's table comes without D1's indexes");

  await fresh.exec(
    "UPDATE items SET t = 'changed on the new DO' WHERE id <= 100",
    'DELETE FROM items WHERE id > 49990',
    "INSERT INTO items VALUES (60000, 1, 0.5, 'new', X'00')",
  );
  await fresh.flush();
  assert.equal((await fresh.health()).rowsReplicated, 101);
  await assertReplicated(mf, fresh, { ...ITEMS, tenant });
  // The other tenant's row is still there; the old DO is fenced.
  await assertReplicated(mf, other, { ...ITEMS, tenant: { column: 'room_id', value: 'room-b' } });
  await old.exec("UPDATE items SET t = 'stale' WHERE id = 1");
  // Fenced either way: by its flush(), or, when workerd evicted the idle old DO meanwhile (the
  // hydrate can take a while on a busy machine), by the new instance's start().
  const stale = await old.call('flush', {});
  assert.equal(stale.ok ? stale.flushed : false, false, JSON.stringify(stale));
  assert.equal(stale.error.code, 'FENCED', JSON.stringify(stale.error));
  // verify() inside workerd agrees (after the old DO's fenced flush: a DO idle for a while is
  // evicted, and a new instance would fail its start() instead): the new DO and its tenant's rows in D1 are equal, and a
  // row damaged in D1 is named and repaired.
  const equal = await fresh.verify();
  assert.equal(equal.report.equal, true, JSON.stringify(equal.report).slice(0, 500));
  assert.equal(equal.report.tables[0].rowsD1, ROWS - 10 + 1);
  const db = await mf.getD1Database('DB');
  await db.prepare("UPDATE items SET r = -r WHERE room_id = 'room-a' AND id = 4242").run();
  const fixed = await fresh.verify({}, true);
  assert.deepEqual(
    fixed.repaired.tables[0].differences.map((d) => d.key),
    ['4242'],
  );
  assert.equal(fixed.report.equal, true);
  assert.equal(fixed.health.lastVerifyEqual, true);
});

test('hydrate of a tenant D1 has no rows for starts empty; a DO with tables is refused', async () => {
  const empty = room(mf, 'new-c');
  await empty.configure({
    sourceId: 'room-c',
    tenant: { column: 'room_id', value: 'room-c' },
    hydrate: true,
  });
  assert.deepEqual(await empty.exec('SELECT count(*) FROM items'), [[[0]]]);
  await empty.exec("INSERT INTO items VALUES (1, 2, 3.5, 'first of c', NULL)");
  await empty.flush();
  await assertReplicated(mf, empty, { ...ITEMS, tenant: { column: 'room_id', value: 'room-c' } });

  const busy = room(mf, 'busy-d');
  await busy.exec('CREATE TABLE mine(x)');
  const r = await busy.call('configure', {
    sourceId: 'room-d',
    tenant: { column: 'room_id', value: 'room-d' },
    hydrate: true,
  });
  assert.equal(r.ok, false);
  assert.equal(r.error.code, 'CONFIG');
  assert.match(r.error.message, /has tables: mine/);
});
