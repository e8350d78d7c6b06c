// Exactly once through the sync endpoint: replays, gaps, lost answers, an endpoint that is down,
// rate limits and request limits, two tenants at once, REALs bit for bit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { run, compareTable, d1Rows, seq, localRows } from './helpers.mjs';
import { randomDoubles, edgeDoubles, exactCell, diffRows } from './reals-data.mjs';
import { startEndpoint, client, post } from '../endpoint/harness.mjs';

let ep;
before(async () => {
  ep = await startEndpoint();
});
after(() => ep?.dispose());

const caller = (tenant, device = `${tenant}-device`) => ({ clientId: device, tenant });
const inTenant = (value) => ({ tenant: { column: 'user_id', value } });

async function same(c, tenant, table = 'tasks') {
  const { diff, rows } = await compareTable(c.db, ep.d1, table, inTenant(tenant));
  assert.equal(diff, '', `${table} of ${tenant}`);
  return rows;
}

const applies = (f) => f.sent.filter((s) => s.url.endsWith('/apply'));

test('a replayed apply is answered "already applied" and writes nothing twice', async () => {
  const who = caller('replay');
  const c = await client(ep, who);
  run(c.db, `${seq(1, 50)}INSERT INTO tasks(id, title) SELECT i, 'r' || i FROM n`);
  await c.sync.flush();
  const sent = applies(c.fetch);
  assert.ok(sent.length >= 1);
  const before = await d1Rows(ep.d1, "SELECT * FROM tasks WHERE user_id = 'replay'");
  for (const s of sent) {
    const r = await post(ep, 'apply', s.body, { caller: who });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.replayed, true);
  }
  assert.deepEqual(await d1Rows(ep.d1, "SELECT * FROM tasks WHERE user_id = 'replay'"), before);
  // A resend of an older batch, once a newer one committed, is a gap: 409 with D1's watermark.
  run(c.db, "INSERT INTO tasks(id, title) VALUES (51, 'more')");
  await c.sync.flush();
  const r = await post(ep, 'apply', sent[0].body, { caller: who });
  assert.equal(r.status, 409, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'FENCED');
  assert.equal(typeof r.body.error.applied, 'number');
  assert.match(r.body.error.message, /D1 holds applied/);
  await same(c, 'replay');
  c.sync.close();
});

test('an answer lost after D1 committed: the client resends and nothing is doubled', async () => {
  let dropped = 0;
  // Every third apply reaches the endpoint and commits, but its answer never arrives.
  const lossy = (real) => async (input, init) => {
    const res = await real(input, init);
    if (String(input).endsWith('/apply') && applies(real).length % 3 === 1) {
      await res.text();
      dropped++;
      throw new TypeError('connection reset');
    }
    return res;
  };
  const c = await client(ep, caller('lost'), { wrapFetch: lossy, limits: { copyPageRows: 50 } });
  run(c.db, `${seq(1, 400)}INSERT INTO tasks(id, title, done) SELECT i, 'l' || i, i % 2 FROM n`);
  await c.sync.flush();
  run(c.db, "UPDATE tasks SET title = title || '!' WHERE id <= 100");
  run(c.db, 'DELETE FROM tasks WHERE id > 390');
  await c.sync.flush();
  assert.ok(dropped >= 2, String(dropped));
  assert.equal(c.sync.health().state, 'idle');
  assert.equal(await same(c, 'lost'), 390);
  c.sync.close();
});

test('the endpoint down: backoff with the error in health(), then everything arrives', async () => {
  const c = await client(ep, caller('down'), { flushRetryMs: 0 });
  await c.sync.flush();
  c.fetch.down = true;
  run(c.db, `${seq(1, 1000)}INSERT INTO tasks(id, title) SELECT i, 'd' || i FROM n`);
  await assert.rejects(c.sync.flush(), (e) => e.code === 'D1_TRANSIENT');
  const h = c.sync.health();
  assert.equal(h.state, 'backoff');
  assert.equal(h.pendingChanges, 1000);
  assert.match(h.lastError, /could not be reached/);
  c.fetch.down = false;
  await new Promise((r) => setTimeout(r, Math.max(0, h.nextRetryAt - Date.now())));
  await c.sync.flush();
  assert.equal(c.sync.health().state, 'idle');
  assert.equal(await same(c, 'down'), 1000);
  c.sync.close();
});

test('429 carries Retry-After, and the client waits at least that long', async () => {
  const setup = { limits: { requestsPerMinute: 2 } };
  const who = caller('rated');
  for (let i = 0; i < 2; i++) {
    const r = await post(ep, 'probe', JSON.stringify({ v: 1, sourceId: who.clientId }), {
      caller: who,
      setup,
    });
    assert.notEqual(r.status, 429);
  }
  const r = await post(ep, 'probe', JSON.stringify({ v: 1, sourceId: who.clientId }), {
    caller: who,
    setup,
  });
  assert.equal(r.status, 429);
  assert.equal(r.body.error.code, 'RATE_LIMITED');
  const retryAfter = Number(r.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
  const c = await client(ep, who, { setup, flushRetryMs: 0 });
  const t0 = Date.now();
  await assert.rejects(c.sync.flush(), (e) => e.code === 'D1_TRANSIENT');
  const h = c.sync.health();
  assert.match(h.lastError, /RATE_LIMITED/);
  assert.ok(h.nextRetryAt >= t0 + (retryAfter - 2) * 1000, `${h.nextRetryAt - t0} ms`);
  c.sync.close();
});

test('requests stay within the endpoint limits the claim announced', async () => {
  const setup = { limits: { requestBytes: 20000, rowsPerRequest: 50 } };
  const c = await client(ep, caller('small'), { setup });
  run(c.db, `${seq(1, 2000)}INSERT INTO tasks(id, title) SELECT i, printf('%.80d', i) FROM n`);
  await c.sync.flush();
  assert.equal(await same(c, 'small'), 2000);
  const sent = applies(c.fetch);
  assert.ok(sent.length >= 40, String(sent.length));
  for (const s of sent) {
    assert.ok(s.body.byteLength <= 20000, String(s.body.byteLength));
    const records = new TextDecoder()
      .decode(s.body)
      .split('\n')
      .filter((l) => /^[UDR] /.test(l));
    assert.ok(records.length <= 50, String(records.length));
  }
  assert.ok(
    c.fetch.statuses.every((s) => s === 200),
    JSON.stringify(c.fetch.statuses),
  );
  c.sync.close();
});

test('two tenants with the same keys, writing at once, each see only their rows', async () => {
  const a = await client(ep, caller('ta'));
  const b = await client(ep, caller('tb'));
  run(a.db, `${seq(1, 500)}INSERT INTO tasks(id, title) SELECT i, 'a' || i FROM n`);
  run(b.db, `${seq(1, 500)}INSERT INTO tasks(id, title) SELECT i, 'b' || i FROM n`);
  await Promise.all([a.sync.flush(), b.sync.flush()]);
  run(a.db, 'DELETE FROM tasks WHERE id % 2 = 0');
  run(b.db, "UPDATE tasks SET title = 'B' WHERE id % 3 = 0");
  await Promise.all([a.sync.flush(), b.sync.flush()]);
  assert.equal(await same(a, 'ta'), 250);
  assert.equal(await same(b, 'tb'), 500);
  a.sync.close();
  b.sync.close();
});

test('random-bit doubles arrive bit for bit through the endpoint', async () => {
  const c = await client(ep, caller('reals'));
  const values = [...edgeDoubles(), ...randomDoubles(3000, 77)];
  const insert = c.db.prepare('INSERT INTO tasks(id, score) VALUES (?, ?)');
  values.forEach((v, i) => insert.bind([i + 1, v]).stepReset());
  insert.finalize();
  await c.sync.flush();
  const read = `SELECT id, ${exactCell('score')} FROM tasks`;
  const local = localRows(c.db, `${read} ORDER BY id`);
  const remote = await ep.d1.prepare(`${read} WHERE user_id = 'reals' ORDER BY id`).raw();
  const d = diffRows(local, remote);
  assert.equal(d.count, 0, JSON.stringify(d.first));
  assert.equal(local.length, values.length);
  c.sync.close();
});

test('a row D1 refuses is quarantined with its key; the rest arrive', async () => {
  const setup = { tables: ['checked'] };
  const who = caller('checks');
  const c = await client(ep, who, { setup, tables: ['checked'] });
  run(c.db, 'CREATE TABLE checked(id INTEGER PRIMARY KEY, v INTEGER)');
  run(c.db, `${seq(1, 100)}INSERT INTO checked SELECT i, CASE i WHEN 37 THEN -1 ELSE i END FROM n`);
  await c.sync.flush();
  const q = c.sync.quarantined();
  assert.equal(q.length, 1, JSON.stringify(q));
  assert.equal(q[0].table, 'checked');
  assert.equal(q[0].key, '37');
  assert.equal(q[0].code, 'D1_CONSTRAINT');
  const n = await d1Rows(ep.d1, "SELECT count(*) FROM checked WHERE user_id = 'checks'");
  assert.equal(n[0][0], 99);
  // The endpoint's own answer to that row, sent alone, names its table and key.
  const rows = c.fetch.refusals.filter((r) => r.error.code === 'ROW');
  assert.ok(rows.length >= 1, JSON.stringify(c.fetch.refusals));
  const keyed = rows.filter((r) => r.error.key !== undefined);
  assert.ok(keyed.length >= 1);
  for (const r of keyed) assert.deepEqual([r.error.table, r.error.key], ['checked', '37']);
  c.sync.close();
});

test('each acknowledged request of the initial copy is saved progress', async () => {
  let applied = 0;
  const cut = (real) => async (input, init) => {
    if (String(input).endsWith('/apply') && ++applied === 3) throw new TypeError('offline');
    return real(input, init);
  };
  const setup = { limits: { rowsPerRequest: 1000 } };
  const c = await client(ep, caller('resume'), { setup, wrapFetch: cut, flushRetryMs: 0 });
  run(c.db, `${seq(1, 5000)}INSERT INTO tasks(id, title) SELECT i, 'c' || i FROM n`);
  await assert.rejects(c.sync.flush(), (e) => e.code === 'D1_TRANSIENT');
  const progress = c.sync.health().initialSync.tables.tasks;
  // Two requests of at most 1,000 records each (a page's range delete among them) are saved.
  assert.equal(progress.copied, 2 * 999, JSON.stringify(progress));
  assert.equal(progress.total, 5000);
  c.sync.close();
});
