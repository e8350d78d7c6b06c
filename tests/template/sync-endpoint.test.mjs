// The template's /d1sync endpoint: a browser-style database (sqlite-wasm in Node here; the real
// browser is tests/browser/) replicates its tasks through httpTarget() with the template's JWT,
// into D1's tasks table under room_id = its tenant, beside the tenant's rooms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTemplate, mintToken, DEV_SECRET, d1Tasks, waitIdle, TENANT } from './helpers.mjs';
import {
  createReplicator,
  httpTarget,
  sqliteWasmSource,
  openLocal,
  run,
  compareTable,
} from '../node/helpers.mjs';

let t;
let url;
before(async () => {
  t = await startTemplate();
  url = await t.mf.ready;
});
after(() => t?.dispose());

const TASKS = `CREATE TABLE tasks(id INTEGER PRIMARY KEY, title TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL)`;

async function page(tenant, sub, { token, takeover } = {}) {
  const db = await openLocal();
  run(db, TASKS);
  let refreshes = 0;
  const sync = await createReplicator({
    source: sqliteWasmSource(db),
    target: httpTarget(new URL('/d1sync', url), {
      getToken: async ({ refresh }) => {
        if (refresh) refreshes++;
        return refresh || !token ? mintToken({ tenant, sub, secret: DEV_SECRET }) : token;
      },
    }),
    sourceId: sub,
    takeover,
  });
  return { db, sync, refreshes: () => refreshes };
}

test('a page replicates into room_id = its tenant, beside the rooms, and only there', async () => {
  await t.api.addTask('kitchen', 'room task');
  const p = await page(TENANT, 'device-1');
  run(
    p.db,
    "INSERT INTO tasks(title, done, updated_at) VALUES ('a', 0, 1), ('b', 1, 2), ('c' || char(0), 0, 3)",
  );
  await p.sync.flush();
  const { diff, rows } = await compareTable(p.db, await t.mf.getD1Database('DB'), 'tasks', {
    tenant: { column: 'room_id', value: TENANT },
  });
  assert.equal(diff, '');
  assert.equal(rows, 3);
  await waitIdle(t.api, ['kitchen']);
  const room = await d1Tasks(t.mf, `${TENANT}/kitchen`);
  assert.deepEqual(
    room.map((r) => r.title),
    ['room task'],
  );
  // The tenant's listing read from D1 shows both the page's rows and the room's.
  const all = await t.api.expect(200, 'GET', '/tasks');
  assert.equal(all.tasks?.length ?? all.length, 4, JSON.stringify(all));
  p.sync.close();
});

test('an expired token is refreshed once and the sync goes on', async () => {
  const expired = await mintToken({
    tenant: 'zeta',
    sub: 'device-z',
    ttl: -60,
    secret: DEV_SECRET,
  });
  const p = await page('zeta', 'device-z', { token: expired });
  run(p.db, "INSERT INTO tasks(title, updated_at) VALUES ('z', 1)");
  await p.sync.flush();
  assert.ok(p.refreshes() >= 1);
  assert.equal((await d1Tasks(t.mf, 'zeta')).length, 1);
  p.sync.close();
});

test('a second device of the tenant is FENCED until it takes over; then the first is', async () => {
  const first = await page('omega', 'device-a');
  run(first.db, "INSERT INTO tasks(title, updated_at) VALUES ('from a', 1)");
  await first.sync.flush();
  const second = await page('omega', 'device-b');
  await assert.rejects(second.sync.flush(), (e) => e.code === 'FENCED');
  second.sync.close();
  const taker = await page('omega', 'device-b', { takeover: true });
  run(taker.db, "INSERT INTO tasks(title, updated_at) VALUES ('from b', 2)");
  await taker.sync.flush();
  assert.deepEqual(
    (await d1Tasks(t.mf, 'omega')).map((r) => r.title),
    ['from b'],
  );
  run(first.db, "INSERT INTO tasks(title, updated_at) VALUES ('late a', 3)");
  await assert.rejects(first.sync.flush(), (e) => e.code === 'FENCED');
  assert.deepEqual(
    (await d1Tasks(t.mf, 'omega')).map((r) => r.title),
    ['from b'],
  );
  first.sync.close();
  taker.sync.close();
});

test('the endpoint answers 401 without a valid token and 403 for a source the token does not own', async () => {
  const claim = JSON.stringify({
    v: 1,
    sourceId: 'device-1',
    incarnation: 'device-1/1',
    applied: 0,
    mark: 'm',
  });
  const post = (headers) =>
    fetch(new URL('/d1sync/claim', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: claim,
    });
  for (const headers of [
    {},
    {
      authorization: `Bearer ${await mintToken({ tenant: 'x', sub: 'device-1', secret: 'another-secret-of-thirty-two-bytes!!' })}`,
    },
    {
      authorization: `Bearer ${await mintToken({ tenant: 'x', sub: 'device-1', ttl: -10, secret: DEV_SECRET })}`,
    },
  ]) {
    const res = await post(headers);
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, 'UNAUTHORIZED');
  }
  const res = await post({
    authorization: `Bearer ${await mintToken({ tenant: 'x', sub: 'device-2', secret: DEV_SECRET })}`,
  });
  assert.equal(res.status, 403);
  assert.match((await res.json()).error.message, /device-1/);
  // A replicator whose sourceId is not its token's subject stops with CONFIG, naming it.
  const db = await openLocal();
  run(db, TASKS);
  const sync = await createReplicator({
    source: sqliteWasmSource(db),
    target: httpTarget(new URL('/d1sync', url), {
      getToken: () => mintToken({ tenant: 'x', sub: 'device-2', secret: DEV_SECRET }),
    }),
    sourceId: 'device-1',
  });
  await assert.rejects(sync.flush(), (e) => e.code === 'CONFIG' && /FORBIDDEN/.test(e.message));
  sync.close();
});
