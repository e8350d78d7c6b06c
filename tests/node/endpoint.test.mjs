// A browser-style source (sqlite-wasm) replicating through httpTarget() into a Worker's
// createSyncEndpoint() (workerd, real local D1): the data arrives exactly, per tenant.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { run, compareTable, d1Rows, seq } from './helpers.mjs';
import { startEndpoint, client } from '../endpoint/harness.mjs';

let ep;
before(async () => {
  ep = await startEndpoint();
});
after(() => ep?.dispose());

const alice = { clientId: 'alice-laptop', tenant: 'alice' };

test('rows written in a sqlite-wasm database reach D1 through the endpoint, exactly', async () => {
  const c = await client(ep, alice);
  run(
    c.db,
    `${seq(1, 300)}INSERT INTO tasks SELECT i, 'task ' || i || char(0) || 'x', i % 2,
       CASE WHEN i % 3 = 0 THEN i * 1.000001 ELSE NULL END, randomblob(i % 7) FROM n`,
  );
  run(c.db, "INSERT INTO tasks VALUES (9007199254740993, 'big', 0, -0.0, X'')");
  run(c.db, "INSERT INTO notes VALUES ('a', 'hello'), ('b', NULL)");
  await c.sync.flush();
  const health = c.sync.health();
  assert.equal(health.state, 'idle', JSON.stringify(health));
  for (const table of ['tasks', 'notes']) {
    const { diff, rows } = await compareTable(c.db, ep.d1, table, {
      tenant: { column: 'user_id', value: 'alice' },
    });
    assert.equal(diff, '', table);
    assert.ok(rows > 0);
  }
  run(c.db, 'UPDATE tasks SET title = upper(title) WHERE id % 5 = 0');
  run(c.db, 'DELETE FROM tasks WHERE id % 7 = 0');
  await c.sync.flush();
  const { diff } = await compareTable(c.db, ep.d1, 'tasks', {
    tenant: { column: 'user_id', value: 'alice' },
  });
  assert.equal(diff, '');
  const owners = await d1Rows(ep.d1, 'SELECT DISTINCT user_id FROM tasks');
  assert.deepEqual(owners, [['alice']]);
  c.sync.close();
});
