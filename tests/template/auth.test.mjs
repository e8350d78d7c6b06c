// The worker-template behind bearer tokens (worker-template/src/auth.ts), inside workerd: a
// request without a valid token changes and reveals nothing; a token's tenant only ever reaches
// its own rooms, whose rows sit in D1 under room_id `tenant/room`; a Worker without AUTH_SECRET
// refuses everything with a 500 that says why. Also authenticate() itself, called from Node as
// the sync endpoint will call it (src/auth.ts bundled for Node by esbuild, as wrangler does).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, UnsecuredJWT, base64url } from 'jose';
import {
  DEV_SECRET,
  TENANT,
  assertD1MatchesRoom,
  d1Tasks,
  importTemplateModule,
  mintToken,
  startTemplate,
  waitIdle,
} from './helpers.mjs';

const { authenticate, AuthConfigError } = await importTemplateModule('src/auth.ts');

const OTHER_SECRET = 'another-secret-that-is-long-enough-for-hs256!';

// Every route of the template, each with a body where it takes one.
const ROUTES = [
  ['POST', '/rooms/kitchen/tasks', { title: 'x' }],
  ['GET', '/rooms/kitchen/tasks'],
  ['PATCH', '/rooms/kitchen/tasks/1', { done: true }],
  ['DELETE', '/rooms/kitchen/tasks/1'],
  ['GET', '/rooms/kitchen/health'],
  ['POST', '/rooms/kitchen/resync'],
  ['GET', '/tasks'],
  ['GET', '/tasks?room=kitchen&done=0'],
  ['GET', '/metrics'],
  ['GET', '/no/such/route'],
];

// Signs `payload` as it is (no defaults added), with HS256 unless `alg` says otherwise.
function sign(payload, { secret = DEV_SECRET, alg = 'HS256' } = {}) {
  return new SignJWT(payload)
    .setProtectedHeader({ alg, typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
}

const now = () => Math.floor(Date.now() / 1000);

// The tokens the Worker must refuse, each with why.
async function badTokens() {
  const good = await mintToken({ tenant: TENANT });
  const [header, , signature] = good.split('.');
  const otherPayload = base64url.encode(
    JSON.stringify({ tenant: 'intruder', sub: 'x', exp: now() + 3600 }),
  );
  return {
    'signed with another secret': await mintToken({ tenant: TENANT, secret: OTHER_SECRET }),
    'payload swapped under a valid signature': `${header}.${otherPayload}.${signature}`,
    'signature cut off': good.slice(0, good.lastIndexOf('.') + 1),
    'first signature character changed': `${header}.${good.split('.')[1]}.${
      signature[0] === 'A' ? 'B' : 'A'
    }${signature.slice(1)}`,
    'unsecured (alg none)': new UnsecuredJWT({ tenant: TENANT, sub: 'x' })
      .setExpirationTime('1h')
      .encode(),
    'HS512 with the right secret': await sign(
      { tenant: TENANT, sub: 'x', exp: now() + 3600 },
      { alg: 'HS512' },
    ),
    'expired a minute ago': await mintToken({ tenant: TENANT, ttl: -60 }),
    'not valid for another hour (nbf)': await mintToken({
      tenant: TENANT,
      claims: { nbf: now() + 3600 },
    }),
    'no exp': await mintToken({ tenant: TENANT, claims: { exp: undefined } }),
    'no tenant': await mintToken({ tenant: undefined }),
    'tenant with a slash': await mintToken({ tenant: `${TENANT}/kitchen` }),
    'empty tenant': await mintToken({ tenant: '' }),
    'tenant of 65 characters': await mintToken({ tenant: 't'.repeat(65) }),
    'tenant with a space': await mintToken({ tenant: 'a b' }),
    'tenant with a quote': await mintToken({ tenant: "o'reilly" }),
    'numeric tenant': await sign({ tenant: 42, sub: 'x', exp: now() + 3600 }),
    'tenant as a list': await sign({ tenant: [TENANT], sub: 'x', exp: now() + 3600 }),
    'no sub': await mintToken({ tenant: TENANT, claims: { sub: undefined } }),
    'empty sub': await mintToken({ tenant: TENANT, sub: '' }),
    'sub with a space': await mintToken({ tenant: TENANT, sub: 'my laptop' }),
    'not a JWT': 'not-a-jwt',
    'two parts only': `${header}.${good.split('.')[1]}`,
  };
}

// Asserts a 401 with { error: { code: 'UNAUTHORIZED', message } } and a Bearer challenge.
function assertUnauthorized(res, what) {
  assert.equal(res.status, 401, `${what}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${what}: type`);
  assert.deepEqual(Object.keys(res.body), ['error'], `${what}: ${res.text}`);
  assert.equal(res.body.error.code, 'UNAUTHORIZED', `${what}: ${res.text}`);
  assert.equal(typeof res.body.error.message, 'string', `${what}: ${res.text}`);
  assert.ok(res.body.error.message.length > 0, `${what}: empty message`);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b/, `${what}: challenge`);
}

// Every row D1 holds, by room_id, as [room_id, id, title, done].
async function d1Rows(mf) {
  const db = await mf.getD1Database('DB');
  const { results } = await db
    .prepare('SELECT room_id, id, title, done FROM tasks ORDER BY room_id, id')
    .all();
  return results.map((r) => [r.room_id, r.id, r.title, r.done]);
}

describe('worker-template: requests without a valid token', () => {
  let t;
  before(async () => {
    t = await startTemplate();
  });
  after(async () => {
    await t?.dispose();
  });

  test('no token, or another scheme, is 401 on every route', async () => {
    const basic = `Basic ${Buffer.from('acme:secret').toString('base64')}`;
    for (const [method, url, body] of ROUTES) {
      assertUnauthorized(await t.api.call(method, url, body, { token: null }), `${method} ${url}`);
      for (const header of [basic, 'Bearer', 'Bearer ', `Token ${t.api.token}`]) {
        const res = await t.mf.dispatchFetch(`http://rooms.test${url}`, {
          method,
          headers: { authorization: header, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        assertUnauthorized(
          { status: res.status, headers: res.headers, text, body: JSON.parse(text) },
          `${method} ${url} with "${header.slice(0, 12)}"`,
        );
      }
    }
  });

  test('a bad signature, an expired token or missing or malformed claims are 401', async () => {
    for (const [why, token] of Object.entries(await badTokens())) {
      for (const [method, url, body] of ROUTES) {
        const res = await t.api.call(method, url, body, { token });
        assertUnauthorized(res, `${why}: ${method} ${url}`);
        assert.match(res.headers.get('www-authenticate'), /invalid_token/, why);
      }
    }
  });

  test('the refused requests wrote nothing, locally or in D1', async () => {
    // The room the refused POSTs named, now asked with a valid token, is empty ...
    assert.deepEqual(await t.api.listTasks('kitchen'), []);
    const h = await t.api.health('kitchen');
    assert.equal(h.capturedSeq, 0, JSON.stringify(h));
    // ... and so is D1, for this tenant and for the tenant a swapped payload named.
    assert.deepEqual(await t.api.expect(200, 'GET', '/tasks'), []);
    assert.deepEqual(await d1Tasks(t.mf, t.api.roomId('kitchen')), []);
    assert.deepEqual(await d1Tasks(t.mf, 'intruder/kitchen'), []);
  });

  test('the same routes answer once the token is valid', async () => {
    const task = await t.api.addTask('kitchen', 'now with a token');
    assert.equal(task.title, 'now with a token');
    assert.deepEqual(await t.api.listTasks('kitchen'), [task]);
  });
});

describe('worker-template: a tenant only reaches its own rooms', () => {
  let t;
  let A;
  let B;
  before(async () => {
    t = await startTemplate();
    A = await t.as('A', 'alice-laptop');
    B = await t.as('B', 'bob-phone');
  });
  after(async () => {
    await t?.dispose();
  });

  test('a valid token works end to end: the task reaches D1 under room_id A/room', async () => {
    const task = await A.addTask('room', 'first of A');
    assert.deepEqual(
      { id: task.id, title: task.title, done: task.done },
      { id: 1, title: 'first of A', done: 0 },
    );
    const [h] = await waitIdle(A, ['room']);
    assert.equal(h.sourceId, 'room:A/room');
    assert.deepEqual(await d1Rows(t.mf), [['A/room', 1, 'first of A', 0]]);
    assert.deepEqual(await A.expect(200, 'GET', '/tasks'), [{ room_id: 'A/room', ...task }]);
    await assertD1MatchesRoom(t.mf, A, 'room');
  });

  test('tenants A and B write the same room name: separate rooms, separate rows in D1', async () => {
    for (let i = 2; i <= 3; ++i) await A.addTask('room', `A task ${i}`);
    for (let i = 1; i <= 5; ++i) await B.addTask('room', `B task ${i}`);
    await A.patchTask('room', 2, { done: true });
    await B.patchTask('room', 1, { title: 'B renamed 1' });
    await waitIdle(A, ['room']);
    await waitIdle(B, ['room']);

    const a = await assertD1MatchesRoom(t.mf, A, 'room');
    const b = await assertD1MatchesRoom(t.mf, B, 'room');
    assert.deepEqual(
      a.map((r) => r.title),
      ['first of A', 'A task 2', 'A task 3'],
    );
    assert.deepEqual(
      b.map((r) => r.title),
      ['B renamed 1', 'B task 2', 'B task 3', 'B task 4', 'B task 5'],
    );
    const rows = await d1Rows(t.mf);
    assert.deepEqual([...new Set(rows.map((r) => r[0]))], ['A/room', 'B/room']);
    assert.equal(rows.length, 8);
  });

  test("A can neither change nor delete B's tasks", async () => {
    const d1Before = await d1Rows(t.mf);
    // Ids 4 and 5 exist only in B's room: for A they do not exist.
    for (const id of [4, 5]) {
      const patch = await A.call('PATCH', `/rooms/room/tasks/${id}`, { title: 'by A' });
      assert.equal(patch.status, 404, patch.text);
      assert.equal(patch.body.error.code, 'NOT_FOUND');
      const del = await A.call('DELETE', `/rooms/room/tasks/${id}`);
      assert.equal(del.status, 404, del.text);
    }
    // Id 3 exists in both rooms: A changes and deletes its own.
    await A.patchTask('room', 3, { title: 'A renamed 3' });
    await A.deleteTask('room', 1);
    // A room name cannot smuggle in another tenant.
    for (const name of ['B%2Froom', '..%2FB%2Froom', 'B/room']) {
      const res = await A.call('POST', `/rooms/${name}/tasks`, { title: 'sneaky' });
      assert.ok([400, 404].includes(res.status), `${name}: HTTP ${res.status} ${res.text}`);
    }
    await waitIdle(A, ['room']);
    await waitIdle(B, ['room']);

    const rows = await d1Rows(t.mf);
    const bRows = (list) => list.filter((r) => r[0] === 'B/room');
    assert.deepEqual(bRows(rows), bRows(d1Before), "B's rows in D1 are untouched");
    assert.deepEqual(
      rows.filter((r) => r[0] === 'A/room'),
      [
        ['A/room', 2, 'A task 2', 1],
        ['A/room', 3, 'A renamed 3', 0],
      ],
    );
    assert.ok(!rows.some((r) => r[2] === 'sneaky' || r[2] === 'by A'), JSON.stringify(rows));
    assert.equal((await B.listTasks('room')).length, 5);
  });

  test("A's resync recopies A's room only; B's damaged rows stay damaged until B resyncs", async () => {
    const db = await t.mf.getD1Database('DB');
    await db.exec("UPDATE tasks SET title = 'damaged' WHERE room_id IN ('A/room', 'B/room')");
    const res = await A.call('POST', '/rooms/room/resync');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.sourceId, 'room:A/room');
    await waitIdle(A, ['room']);
    await assertD1MatchesRoom(t.mf, A, 'room');
    const bAfter = await d1Tasks(t.mf, 'B/room');
    assert.equal(bAfter.length, 5);
    assert.ok(
      bAfter.every((r) => r.title === 'damaged'),
      "A's resync did not touch B's rows",
    );

    assert.equal((await B.call('POST', '/rooms/room/resync')).status, 200);
    await waitIdle(B, ['room']);
    await assertD1MatchesRoom(t.mf, B, 'room');
  });

  test("GET /tasks shows the token's tenant only, whatever the other tenants are called", async () => {
    // Tenants whose names a careless prefix match would confuse with A or with each other: a
    // LIKE 'a_c/%' would match abc's rows, a plain prefix 'A' would match AB's and A-1's.
    const others = {};
    for (const name of ['AB', 'A-1', 'a_c', 'abc']) {
      others[name] = await t.as(name);
      await others[name].addTask('room', `${name} task`);
      await others[name].addTask('other', `${name} other task`);
    }
    await A.addTask('second', 'A in a second room');
    for (const api of Object.values(others)) await waitIdle(api, ['room', 'other']);
    await waitIdle(A, ['room', 'second']);
    await waitIdle(B, ['room']);
    // The tenant's browser page (a later part of the app) replicates under room_id = tenant.
    const db = await t.mf.getD1Database('DB');
    await db.exec(
      "INSERT INTO tasks(room_id, id, title, done, updated_at) VALUES ('A', 1, 'A page', 0, 1), ('a_c', 1, 'a_c page', 0, 1)",
    );

    const all = await d1Rows(t.mf);
    const tenantOf = (roomId) => roomId.split('/')[0];
    for (const [name, api] of [['A', A], ['B', B], ...Object.entries(others)]) {
      const listed = await api.expect(200, 'GET', '/tasks?limit=1000');
      const want = all.filter((r) => tenantOf(r[0]) === name);
      assert.ok(want.length > 0, `tenant ${name} has rows in D1`);
      assert.deepEqual(
        listed.map((r) => [r.room_id, r.id, r.title, r.done]),
        want,
        `GET /tasks as ${name}`,
      );
      // One room of the tenant, by name.
      const room = await api.expect(200, 'GET', '/tasks?room=room&limit=1000');
      assert.deepEqual(
        room.map((r) => [r.room_id, r.id, r.title, r.done]),
        want.filter((r) => r[0] === `${name}/room`),
        `GET /tasks?room=room as ${name}`,
      );
      const done = await api.expect(200, 'GET', '/tasks?done=1&limit=1000');
      assert.deepEqual(
        done.map((r) => [r.room_id, r.id]),
        want.filter((r) => r[3] === 1).map((r) => [r[0], r[1]]),
        `GET /tasks?done=1 as ${name}`,
      );
    }
    // The bare tenant partitions hold only the page rows inserted above: no room uses them.
    assert.deepEqual(
      all.filter((r) => !r[0].includes('/')),
      [
        ['A', 1, 'A page', 0],
        ['a_c', 1, 'a_c page', 0],
      ],
    );
  });

  test("/metrics and health show the token's tenant's rooms only", async () => {
    const sources = async (api) => {
      const res = await api.call('GET', '/metrics');
      assert.equal(res.status, 200, res.text);
      const found = new Set(
        [...res.text.matchAll(/\{source="([^"]*)"/g)].map((m) => m[1]).filter(Boolean),
      );
      return [...found].sort();
    };
    assert.deepEqual(await sources(A), ['room:A/room', 'room:A/second']);
    assert.deepEqual(await sources(B), ['room:B/room']);
    assert.deepEqual(await sources(await t.as('a_c')), ['room:a_c/other', 'room:a_c/room']);
    assert.deepEqual(await sources(await t.as('nobody')), []);
    assert.equal((await B.health('room')).sourceId, 'room:B/room');
    assert.equal((await A.health('room')).sourceId, 'room:A/room');
  });
});

describe('worker-template: a Worker without a usable AUTH_SECRET', () => {
  for (const [what, secret] of [
    ['no AUTH_SECRET', null],
    ['an AUTH_SECRET of 31 bytes', 's'.repeat(31)],
  ]) {
    test(`${what}: every request is a 500 naming AUTH_SECRET, none is served`, async () => {
      const t = await startTemplate(undefined, { secret });
      try {
        const tokens = [
          null,
          await mintToken({ tenant: TENANT }),
          ...(secret ? [await mintToken({ tenant: TENANT, secret })] : []),
        ];
        for (const token of tokens) {
          for (const [method, url, body] of ROUTES) {
            const res = await t.api.call(method, url, body, { token });
            const what = `${method} ${url} ${token ? 'with' : 'without'} a token`;
            assert.equal(res.status, 500, `${what}: HTTP ${res.status} ${res.text}`);
            assert.equal(res.body.error.code, 'CONFIG', `${what}: ${res.text}`);
            assert.match(res.body.error.message, /AUTH_SECRET/, what);
          }
        }
        const db = await t.mf.getD1Database('DB');
        const { results } = await db
          .prepare("SELECT name FROM sqlite_master WHERE name IN ('tasks', '_d1sync_sources')")
          .all();
        assert.deepEqual(results, [], 'no room ever started replicating');
      } finally {
        await t.dispose();
      }
    });
  }
});

// authenticate() is also the `authenticate` option of the sync endpoint: its contract, direct.
describe('authenticate(request, env)', () => {
  const env = { AUTH_SECRET: DEV_SECRET };
  const request = (token) =>
    new Request('https://app.test/x', {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });

  test('a valid token gives { tenant, clientId } and nothing else', async () => {
    const token = await mintToken({ tenant: 'acme', sub: 'device-7f3a', claims: { role: 'x' } });
    assert.deepEqual(await authenticate(request(token), env), {
      tenant: 'acme',
      clientId: 'device-7f3a',
    });
    // The scheme is case-insensitive (RFC 7235).
    const lower = new Request('https://app.test/x', {
      headers: { authorization: `bearer ${token}` },
    });
    assert.deepEqual(await authenticate(lower, env), { tenant: 'acme', clientId: 'device-7f3a' });
  });

  test('no token and every bad token give null', async () => {
    assert.equal(await authenticate(request(null), env), null);
    for (const [why, token] of Object.entries(await badTokens())) {
      assert.equal(await authenticate(request(token), env), null, why);
    }
  });

  test('a missing or short secret throws AuthConfigError (code CONFIG), token or not', async () => {
    const token = await mintToken({ tenant: 'acme' });
    for (const bad of [{}, { AUTH_SECRET: '' }, { AUTH_SECRET: 'short' }, undefined]) {
      for (const req of [request(token), request(null)]) {
        await assert.rejects(authenticate(req, bad), (e) => {
          assert.ok(e instanceof AuthConfigError, String(e));
          assert.equal(e.code, 'CONFIG');
          assert.match(e.message, /AUTH_SECRET/);
          return true;
        });
      }
    }
  });
});
