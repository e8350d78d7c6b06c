// Fifty Durable Objects replicating at once in one Miniflare, fanned in to shared D1 tables
// with a tenant column; all converge. Also reports the WASM memory the isolate's engine module
// holds (one module instance shared by every DO in the isolate).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertReplicated, room, startMiniflare } from './harness.mjs';

const ROOMS = 50;
const SEED_ROWS = 300;
const ITEMS = { table: 'items', columns: ['id', 'n', 'r', 't', 'b'] };
const SCHEMA = [
  'CREATE TABLE items(id INTEGER PRIMARY KEY, n INTEGER, r REAL, t TEXT, b BLOB)',
  'CREATE INDEX items_t ON items(t)',
];

let mf;
let rooms;
before(async () => {
  mf = await startMiniflare();
  rooms = Array.from({ length: ROOMS }, (_, i) => room(mf, `room-${String(i).padStart(2, '0')}`));
});
after(async () => {
  await mf?.dispose();
});

const tenantOf = (r) => ({ column: 'room_id', value: r.name });

test(`${ROOMS} Durable Objects replicate into shared D1 tables at once and converge`, async () => {
  // Each room seeds rows first (initial copy), with the same keys in every room: only the
  // tenant column keeps them apart in D1.
  await Promise.all(
    rooms.map(async (r, i) => {
      await r.exec(
        ...SCHEMA,
        `WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < ${SEED_ROWS})
       INSERT INTO items SELECT k, ${i} * 1000000 + k, k * 0.25, '${r.name} ' || k || char(0),
         randomblob(16) FROM s`,
      );
    }),
  );
  const firstMemory = await rooms[0].memory();
  await Promise.all(
    rooms.map((r) =>
      r.configure({
        sourceId: r.name,
        tenant: tenantOf(r),
        limits: { copyPageRows: 100 },
      }),
    ),
  );
  const afterStart = await rooms[0].memory();

  // Everyone flushes at once, then writes more and flushes again, all concurrently.
  const firstFlush = await Promise.all(rooms.map((r) => r.flush()));
  for (const f of firstFlush) assert.equal(f.flushed, true, JSON.stringify(f.error));
  await Promise.all(
    rooms.map(async (r, i) => {
      await r.exec(
        `UPDATE items SET t = t || ' updated', r = -r WHERE id % 3 = 0`,
        `DELETE FROM items WHERE id % 10 = ${i % 10}`,
        `INSERT INTO items VALUES (${SEED_ROWS + 1 + i}, 9223372036854775807, 1e-300, NULL, X'00${(i % 256).toString(16).padStart(2, '0')}')`,
      );
      const f = await r.flush();
      assert.equal(f.flushed, true, JSON.stringify(f.error));
    }),
  );
  const peakMemory = Math.max(...(await Promise.all(rooms.map((r) => r.memory()))));

  // Every room's rows are in D1, under its tenant value, and nothing else is.
  const expectedTotal = ROOMS * (SEED_ROWS - SEED_ROWS / 10 + 1);
  let total = 0;
  for (const r of rooms) {
    const h = await r.health();
    assert.equal(h.state, 'idle', `${r.name}: ${JSON.stringify(h)}`);
    assert.equal(h.pendingChanges, 0);
    assert.equal(h.initialSync.done, true);
    const local = await assertReplicated(mf, r, { ...ITEMS, tenant: tenantOf(r) });
    assert.equal(local.length, SEED_ROWS - SEED_ROWS / 10 + 1);
    total += local.length;
  }
  assert.equal(total, expectedTotal);
  const db = await mf.getD1Database('DB');
  const counts = await db
    .prepare('SELECT count(*) AS n, count(DISTINCT room_id) AS rooms FROM items')
    .first();
  assert.equal(counts.n, expectedTotal);
  assert.equal(counts.rooms, ROOMS);
  const sources = await db.prepare('SELECT count(*) AS n FROM _d1sync_sources').first();
  assert.equal(sources.n, ROOMS);

  // All fifty share one isolate and so one engine module: the same memory figure everywhere.
  const figures = new Set(await Promise.all(rooms.map((r) => r.memory())));
  assert.equal(figures.size, 1, `engine module memory differs between rooms: ${[...figures]}`);
  const MiB = (n) => `${(n / 1048576).toFixed(2)} MiB`;
  console.log(
    `[d1sync wasm memory] one room loaded: ${firstMemory} B (${MiB(firstMemory)}); ` +
      `${ROOMS} replicators started: ${afterStart} B (${MiB(afterStart)}); ` +
      `after ${ROOMS} concurrent syncs: ${peakMemory} B (${MiB(peakMemory)})`,
  );
  // Spec: keep memory small and the per-replicator footprint proportional to a page. A
  // generous bound that still catches a per-table or leaking footprint.
  assert.ok(peakMemory <= 64 * 1048576, `WASM memory ${peakMemory} B for ${ROOMS} replicators`);
});
