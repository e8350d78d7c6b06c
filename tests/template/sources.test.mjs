// GET /sources, the dashboard's one route, inside workerd: a tenant's rooms (each with its
// health) and browser pages from D1's _d1sync_sources, paged and ordered, and never another
// tenant's — not even one whose name starts with this one's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTemplate, waitIdle } from './helpers.mjs';

describe('worker-template: GET /sources', () => {
  let t;
  let acm;
  before(async () => {
    t = await startTemplate();
    acm = await t.as('acm'); // a prefix of the test tenant 'acme'
    for (const room of ['b-room', 'a-room', 'c-room']) await t.api.addTask(room, `in ${room}`);
    await acm.addTask('a-room', 'acm, not acme');
    await waitIdle(t.api, ['a-room', 'b-room', 'c-room']);
    await waitIdle(acm, ['a-room']);
    // A browser page of acme as the sync endpoint records it (sourceId = its device).
    const d1 = await t.mf.getD1Database('DB');
    await d1
      .prepare(
        `INSERT INTO _d1sync_sources VALUES ('phone-1', 'inc', 1, 7, 'b', 'room_id', '''acme''', 1000)`,
      )
      .run();
  });
  after(async () => {
    await t?.dispose();
  });

  test("lists the tenant's rooms with their health and its browser pages, no one else's", async () => {
    const page = await t.api.expect(200, 'GET', '/sources');
    assert.deepEqual(
      { total: page.total, rooms: page.rooms, clients: page.clients },
      { total: 4, rooms: 3, clients: 1 },
    );
    assert.deepEqual(
      page.sources.map((s) => [s.sourceId, s.kind, s.name]),
      [
        ['phone-1', 'client', 'phone-1'],
        ['room:acme/a-room', 'room', 'a-room'],
        ['room:acme/b-room', 'room', 'b-room'],
        ['room:acme/c-room', 'room', 'c-room'],
      ],
    );
    for (const s of page.sources.filter((x) => x.kind === 'room')) {
      assert.equal(s.health.sourceId, s.sourceId);
      assert.equal(s.health.state, 'idle');
      assert.equal(s.health.rowsReplicated, 1);
      // D1's side agrees with the room's own.
      assert.equal(s.appliedSeq, s.health.appliedSeq);
      assert.ok(s.lastBatchAt > 0 && s.lastBatchAt <= s.health.lastSuccessAt, JSON.stringify(s));
    }
    const phone = page.sources[0];
    assert.deepEqual([phone.health, phone.appliedSeq, phone.lastBatchAt], [null, 7, 1000]);

    const other = await acm.expect(200, 'GET', '/sources');
    assert.deepEqual(
      other.sources.map((s) => s.sourceId),
      ['room:acm/a-room'],
    );
    assert.equal(other.total, 1);
  });

  test('pages with offset and limit; sort=stale puts the oldest last batch first', async () => {
    const first = await t.api.expect(200, 'GET', '/sources?limit=2');
    const second = await t.api.expect(200, 'GET', '/sources?limit=2&offset=2');
    assert.deepEqual(
      [...first.sources, ...second.sources].map((s) => s.sourceId),
      ['phone-1', 'room:acme/a-room', 'room:acme/b-room', 'room:acme/c-room'],
    );
    assert.equal(second.total, 4);
    const beyond = await t.api.expect(200, 'GET', '/sources?offset=10');
    assert.deepEqual([beyond.total, beyond.sources.length], [4, 0]);
    const stale = await t.api.expect(200, 'GET', '/sources?sort=stale');
    const times = stale.sources.map((s) => s.lastBatchAt);
    assert.equal(stale.sources[0].sourceId, 'phone-1');
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );
  });

  test('bad paging is a 400 naming the parameter; no token is a 401', async () => {
    for (const [query, what] of [
      ['limit=0', /limit/],
      ['limit=101', /limit/],
      ['limit=ten', /limit/],
      ['offset=-1', /offset/],
      ['offset=1e3', /offset/],
      ['sort=size', /sort/],
    ]) {
      const res = await t.api.call('GET', `/sources?${query}`);
      assert.equal(res.status, 400, query);
      assert.match(res.body.error.message, what, query);
    }
    assert.equal((await t.api.call('POST', '/sources')).status, 405);
    assert.equal((await t.api.call('GET', '/sources', undefined, { token: null })).status, 401);
  });
});
