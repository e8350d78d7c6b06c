// hydrate() and verify() through httpTarget() into a Worker's createSyncEndpoint() (workerd,
// real local D1): a new browser-style database starts from its tenant's rows in D1, and verify
// finds what was damaged in D1 and repair() restores it. The endpoint's refusals of untrusted
// reads are in tests/native/test_endpoint_read.cpp.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  run,
  compareTable,
  seq,
  openLocal,
  createReplicator,
  sqliteWasmSource,
  httpTarget,
} from './helpers.mjs';
import { startEndpoint, client, callerFetch } from '../endpoint/harness.mjs';

let ep;
before(async () => {
  ep = await startEndpoint();
});
after(() => ep?.dispose());

const alice = { clientId: 'alice-laptop', tenant: 'alice' };
const tenant = { column: 'user_id', value: 'alice' };

test('a new device hydrates its tenant through the endpoint, takes over, and verifies equal', async () => {
  const c = await client(ep, alice);
  run(
    c.db,
    `${seq(1, 2000)}INSERT INTO tasks SELECT i, 'task ' || i || char(0) || 'x', i % 2,
       CASE WHEN i % 3 = 0 THEN i * 1.000001 ELSE -0.0 END, randomblob(i % 7) FROM n`,
  );
  run(c.db, "INSERT INTO tasks VALUES (9007199254740993, 'big', 0, 4.9e-324, X'')");
  run(c.db, "INSERT INTO notes VALUES ('a', 'hello'), ('b', NULL)");
  await c.sync.flush();
  const first = await c.sync.verify();
  assert.equal(first.equal, true, JSON.stringify(first).slice(0, 500));

  // Damage two of alice's rows in D1 and one of bob's: verify names alice's only.
  await ep.d1.batch([
    ep.d1.prepare("UPDATE tasks SET title = 'damaged' WHERE user_id = 'alice' AND id = 77"),
    ep.d1.prepare("DELETE FROM notes WHERE user_id = 'alice' AND k = 'b'"),
    ep.d1.prepare("INSERT INTO tasks(user_id, id, title) VALUES ('bob', 77, 'bob')"),
  ]);
  const bad = await c.sync.verify();
  const keys = bad.tables.flatMap((t) => t.differences.map((d) => `${t.table}:${d.key}`)).sort();
  assert.deepEqual(keys, ["notes:'b'", 'tasks:77']);
  await c.sync.repair(bad);
  assert.equal((await c.sync.verify()).equal, true);

  const fresh = await openLocal();
  const device = await createReplicator({
    source: sqliteWasmSource(fresh),
    target: httpTarget(ep.base({}), { fetch: callerFetch({ ...alice, clientId: 'alice-phone' }) }),
    sourceId: 'alice-phone',
    hydrate: true,
    takeover: true,
    limits: { copyPageRows: 300 },
  });
  await device.start();
  assert.equal(device.health().rowsHydrated, 2001 + 2);
  for (const table of ['tasks', 'notes']) {
    const { diff } = await compareTable(fresh, ep.d1, table, { tenant });
    assert.equal(diff, '', table);
  }
  run(fresh, "UPDATE tasks SET title = 'from the phone' WHERE id = 5");
  await device.flush();
  assert.equal((await device.verify()).equal, true);
  await assert.rejects(
    c.sync
      .flush()
      .then(() => run(c.db, 'UPDATE tasks SET done = 1 WHERE id = 6'))
      .then(() => c.sync.flush()),
    (e) => e.code === 'FENCED',
  );
  device.close();
  c.sync.close();
});
