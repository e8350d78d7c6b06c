// The sync endpoint refuses what a client may not do, with a 4xx JSON error naming it, and
// applies nothing of that request: the wire carries data, the tenant comes from authenticate().
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { d1Rows } from './helpers.mjs';
import { startEndpoint, post } from '../endpoint/harness.mjs';

let ep;
before(async () => {
  ep = await startEndpoint();
});
after(() => ep?.dispose());

const mallory = { clientId: 'mallory-1', tenant: 'mallory' };

function changeset({
  source = 'mallory-1',
  incarnation = 'mallory-1/0001',
  table = 'tasks',
  columns = ['id', 'title'],
  key = 1,
  rows = ["(1,'x')"],
} = {}) {
  const cols = columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(',');
  return [
    'D1SYNC-CHANGESET 1',
    `H source="${source}" incarnation="${incarnation}" epoch=1 applied=0 last="" from=0 upto=0 batch="b1"`,
    `T "${table.replaceAll('"', '""')}" key=${key} (${cols})`,
    ...rows.map((r) => `U ${r}`),
    'END',
    '',
  ].join('\n');
}

// Everything D1 holds, to show a refused request changed nothing.
async function snapshot() {
  const out = {};
  for (const t of ['tasks', 'notes', 'secrets']) out[t] = await d1Rows(ep.d1, `SELECT * FROM ${t}`);
  const hasSources = await d1Rows(
    ep.d1,
    "SELECT count(*) FROM sqlite_master WHERE name = '_d1sync_sources'",
  );
  out.sources = hasSources[0][0] ? await d1Rows(ep.d1, 'SELECT * FROM _d1sync_sources') : [];
  return JSON.stringify(out);
}

async function refused(status, code, op, body, opts = { caller: mallory }) {
  const before = await snapshot();
  const r = await post(ep, op, body, opts);
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, code, JSON.stringify(r.body));
  assert.equal(typeof r.body.error.message, 'string');
  assert.equal(await snapshot(), before, 'D1 changed');
  return r.body.error;
}

test('no caller: 401, for every operation', async () => {
  for (const op of ['claim', 'takeover', 'probe', 'apply']) {
    await refused(401, 'UNAUTHORIZED', op, '{}', {});
  }
});

test('a sourceId or incarnation the caller does not own: 403', async () => {
  let e = await refused(403, 'FORBIDDEN', 'apply', changeset({ source: 'alice-laptop' }));
  assert.match(e.message, /alice-laptop/);
  e = await refused(403, 'FORBIDDEN', 'apply', changeset({ incarnation: 'alice-laptop/1' }));
  assert.match(e.message, /incarnation/);
  const claim = { v: 1, sourceId: 'alice-laptop', incarnation: 'alice-laptop/1', applied: 0 };
  await refused(403, 'FORBIDDEN', 'claim', JSON.stringify({ ...claim, mark: 'm' }));
  await refused(403, 'FORBIDDEN', 'probe', JSON.stringify({ v: 1, sourceId: 'alice-laptop' }));
});

test('a table outside the allow-list is refused, even one D1 has', async () => {
  const e = await refused(403, 'FORBIDDEN', 'apply', changeset({ table: 'secrets' }));
  assert.match(e.message, /secrets/);
  await refused(403, 'FORBIDDEN', 'apply', changeset({ table: '_d1sync_sources' }));
  await refused(403, 'FORBIDDEN', 'apply', changeset({ table: 'tasks"; DROP TABLE notes; --' }));
});

test('the tenant column cannot be sent: the endpoint sets it', async () => {
  const e = await refused(
    403,
    'FORBIDDEN',
    'apply',
    changeset({ columns: ['id', 'user_id'], rows: ["(1,'alice')"] }),
  );
  assert.match(e.message, /user_id/);
});

test('a column D1 lacks, or SQL in a column name: 422 naming it', async () => {
  let e = await refused(
    422,
    'SCHEMA',
    'apply',
    changeset({ columns: ['id', 'owner'], rows: ["(1,'x')"] }),
  );
  assert.match(e.message, /owner/);
  e = await refused(
    422,
    'SCHEMA',
    'apply',
    changeset({ columns: ['id', 'title) VALUES (1); DROP TABLE notes; --'] }),
  );
  assert.match(e.message, /DROP TABLE/);
});

test('a key that is not D1 table key: 422', async () => {
  const e = await refused(
    422,
    'SCHEMA',
    'apply',
    changeset({ columns: ['title', 'id'], rows: ["('x',1)"] }),
  );
  assert.match(e.message, /key/);
  await refused(422, 'SCHEMA', 'apply', changeset({ key: 2 }));
});

test('values outside the literal grammar: 400 naming where', async () => {
  for (const row of [
    '(1,title)',
    "(1,'x'||(SELECT 1))",
    '(99999999999999999999,1)',
    "(1,'unterminated)",
    '(1)',
    "(1,'a'),(2,'b')",
  ]) {
    const e = await refused(400, 'BAD_REQUEST', 'apply', changeset({ rows: [row] }));
    assert.match(e.message, /record|offset|literal|tuple/i, row);
  }
});

test('malformed control requests: 400', async () => {
  for (const body of [
    'not json',
    '[]',
    '{"v":2,"sourceId":"mallory-1"}',
    '{"v":1,"sourceId":"mallory-1","incarnation":"mallory-1/1","applied":-1,"mark":"m"}',
    '{"v":1,"sourceId":"mallory-1","incarnation":"mallory-1/1","applied":0,"mark":"m","sql":"x"}',
  ]) {
    await refused(400, 'BAD_REQUEST', 'claim', body);
  }
});

test('a request over requestBytes: 413 before it is read', async () => {
  const big = changeset({ rows: [`(1,'${'x'.repeat(5000)}')`] });
  await refused(413, 'LIMIT', 'apply', big, {
    caller: mallory,
    setup: { limits: { requestBytes: 4096 } },
  });
});

test('1,000 random malformed requests: all 4xx, D1 unchanged, the endpoint still serving', async () => {
  const setup = { limits: { requestsPerMinute: 100000 } };
  const before = await snapshot();
  let state = 12345;
  const rand = (n) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const valid = changeset({ rows: ["(1,'x')", "(2,X'00ff')", '(3,NULL)'] });
  const pieces = ["'", '"', '(', ')', ',', '\n', ' ', 'NULL', 'X', '9'.repeat(30), '-', 'END'];
  const seen = new Map();
  for (let i = 0; i < 1000; i++) {
    let body;
    const kind = rand(5);
    if (kind === 0) {
      body = valid.slice(0, rand(valid.length)); // truncated
    } else if (kind === 1) {
      const at = rand(valid.length);
      body = valid.slice(0, at) + pieces[rand(pieces.length)] + valid.slice(at + 1);
    } else if (kind === 2) {
      const at = rand(valid.length);
      body = valid.slice(0, at) + valid.slice(at + 1 + rand(20));
    } else if (kind === 3) {
      body = JSON.stringify({ v: rand(3), sourceId: rand(2) ? 'mallory-1' : 42, applied: 2 ** 70 });
    } else {
      body = valid.replace('"title"', `"${pieces[rand(pieces.length)]}title"`);
    }
    const op = kind === 3 ? ['claim', 'takeover', 'probe'][rand(3)] : 'apply';
    const r = await post(ep, op, body, { caller: mallory, setup });
    assert.ok(
      r.status >= 400 && r.status < 500,
      `request ${i}: HTTP ${r.status} ${JSON.stringify(r.body)}`,
    );
    assert.equal(typeof r.body?.error?.code, 'string', `request ${i}`);
    seen.set(r.body.error.code, (seen.get(r.body.error.code) ?? 0) + 1);
  }
  assert.equal(await snapshot(), before, 'D1 changed');
  assert.ok(seen.get('BAD_REQUEST') > 100, JSON.stringify([...seen]));
  const claim = { v: 1, sourceId: 'mallory-1', incarnation: 'mallory-1/1', applied: 0, mark: 'm' };
  const r = await post(ep, 'claim', JSON.stringify(claim), { caller: mallory, setup });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.row.incarnation, 'mallory-1/1');
  assert.deepEqual(
    r.body.tables.map(([name]) => name),
    ['tasks', 'notes'],
  );
});
