// tools/d1-rest-standin.mjs: the D1 REST API envelope over Miniflare's D1 (query and raw, single
// and batch), parameters bound as strings, all-or-nothing requests, the error codes, the
// database listing, stats, every injectable fault, and the wrangler-config mode writing the very
// storage `wrangler d1 execute --local` reads.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startStandin } from '../../tools/d1-rest-standin.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STANDIN = path.join(repoRoot, 'tools/d1-rest-standin.mjs');
const WRANGLER = path.join(repoRoot, 'node_modules/.bin/wrangler');

const DB_ID = '6f1c0a52-2d6e-4d57-9a53-0d6b1f3c9e01';
const OTHER_ID = '6f1c0a52-2d6e-4d57-9a53-0d6b1f3c9e02';

// One API call: {status, headers, json, text}. `token: null` sends no Authorization header.
async function call(s, method, route, body, { token = s.token, headers = {} } = {}) {
  const h = { ...headers };
  if (token !== null) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(s.url + route, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}
const dbRoute = (s, id = DB_ID, what = 'query') =>
  `/client/v4/accounts/${s.account}/d1/database/${id}/${what}`;
const query = (s, body, opts) => call(s, 'POST', dbRoute(s), body, opts);
const raw = (s, body, opts) => call(s, 'POST', dbRoute(s, DB_ID, 'raw'), body, opts);

async function until(check) {
  while (!(await check())) await new Promise((r) => setTimeout(r, 10));
}

async function count(s, table) {
  const r = await s.d1(DB_ID).prepare(`SELECT count(*) AS n FROM ${table}`).all();
  return r.results[0].n;
}

function assertSqlError(r, fragment) {
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.success, false);
  assert.deepEqual(r.json.result, []);
  assert.deepEqual(r.json.messages, []);
  assert.equal(r.json.errors.length, 1);
  assert.equal(r.json.errors[0].code, 7500);
  assert.match(r.json.errors[0].message, fragment);
  assert.doesNotMatch(r.json.errors[0].message, /^D1_ERROR/);
}

describe('envelope, parameters, atomicity and errors', () => {
  let s;
  before(async () => {
    s = await startStandin({
      databases: [
        { name: 'app-main', id: DB_ID },
        { name: 'other', id: OTHER_ID },
      ],
    });
    await s.d1(DB_ID).exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    await s.d1(DB_ID).exec('CREATE TABLE parent(id INTEGER PRIMARY KEY)');
    await s
      .d1(DB_ID)
      .exec('CREATE TABLE child(id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id))');
  });
  after(async () => {
    await s?.close();
  });

  test('a single statement answers one result with D1 meta', async () => {
    const r = await query(s, { sql: 'INSERT INTO t(id, v) VALUES (1, ?1)', params: ['one'] });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /application\/json/);
    assert.equal(r.json.success, true);
    assert.deepEqual(r.json.errors, []);
    assert.deepEqual(r.json.messages, []);
    assert.equal(r.json.result.length, 1);
    const [one] = r.json.result;
    assert.equal(one.success, true);
    assert.deepEqual(one.results, []);
    assert.equal(one.meta.changes, 1);
    assert.equal(one.meta.last_row_id, 1);
    assert.equal(one.meta.changed_db, true);
    assert.equal(one.meta.rows_written, 1);
    for (const k of ['duration', 'rows_read', 'size_after'])
      assert.equal(typeof one.meta[k], 'number');
  });

  test('a batch answers one result per statement, in order, objects for /query', async () => {
    const r = await query(s, {
      batch: [
        { sql: 'INSERT INTO t(id, v) VALUES (?1, ?2)', params: ['2', 'two'] },
        { sql: 'SELECT id, v FROM t ORDER BY id' },
        { sql: 'SELECT v FROM t WHERE id = ?1', params: ['99'] },
      ],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.length, 3);
    assert.deepEqual(r.json.result[1].results, [
      { id: 1, v: 'one' },
      { id: 2, v: 'two' },
    ]);
    assert.deepEqual(r.json.result[2].results, []);
    assert.equal(r.json.result[1].meta.rows_read, 2);
  });

  test('/raw answers columns and rows, with duplicate and empty-result columns', async () => {
    const single = await raw(s, { sql: 'SELECT id, v, id AS id FROM t ORDER BY id' });
    assert.equal(single.status, 200, single.text);
    assert.deepEqual(single.json.result[0].results, {
      columns: ['id', 'v', 'id'],
      rows: [
        [1, 'one', 1],
        [2, 'two', 2],
      ],
    });
    const batch = await raw(s, {
      batch: [{ sql: 'SELECT count(*) AS n FROM t' }, { sql: 'SELECT id, v FROM t WHERE 0' }],
    });
    assert.equal(batch.status, 200, batch.text);
    assert.deepEqual(batch.json.result[0].results, { columns: ['n'], rows: [[2]] });
    assert.deepEqual(batch.json.result[1].results, { columns: ['id', 'v'], rows: [] });
    assert.equal(typeof batch.json.result[0].meta.rows_read, 'number');
  });

  test('params are bound as strings; null stays null', async () => {
    const r = await query(s, {
      sql: 'SELECT typeof(?1) AS a, ?1 AS av, typeof(?2) AS b, ?2 AS bv, typeof(?3) AS c, typeof(?4) AS d',
      params: [5, true, null, 'x'],
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.result[0].results, [
      { a: 'text', av: '5', b: 'text', bv: 'true', c: 'null', d: 'text' },
    ]);
    const bad = await query(s, { sql: 'SELECT ?1', params: [{ x: 1 }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.errors[0].code, 7400);
  });

  test('several statements in one sql are split and run as one batch', async () => {
    const r = await query(s, {
      sql: "INSERT INTO t(id, v) VALUES (3, 'a;b'); -- a comment; still one\nSELECT v FROM t WHERE id = 3;",
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.length, 2);
    assert.deepEqual(r.json.result[1].results, [{ v: 'a;b' }]);

    const failing = await query(s, {
      sql: "INSERT INTO t(id, v) VALUES (4, 'x'); INSERT INTO t(id, v) VALUES (4, 'dup')",
    });
    assertSqlError(failing, /^UNIQUE constraint failed: t\.id: SQLITE_CONSTRAINT/);
    assert.equal(await count(s, 't'), 3, 'the first statement was rolled back');

    const literal = "x'; BEGIN TRANSACTION; COMMIT; '";
    const kept = await query(s, {
      sql: `INSERT INTO t(id, v) VALUES (5, '${literal.replaceAll("'", "''")}'); SELECT v FROM t WHERE id = 5`,
    });
    assert.equal(kept.status, 200, kept.text);
    assert.deepEqual(kept.json.result[1].results, [{ v: literal }], 'literals reach D1 untouched');
    await query(s, { sql: 'DELETE FROM t WHERE id = 5' });

    const withParams = await query(s, { sql: 'SELECT ?1; SELECT 2', params: ['1'] });
    assert.equal(withParams.status, 400);
    assert.equal(withParams.json.errors[0].code, 7400);
  });

  test('a failing statement mid-batch rolls everything back: 400/7500 with D1 message', async () => {
    const before = await count(s, 't');
    const r = await query(s, {
      batch: [
        { sql: "INSERT INTO t(id, v) VALUES (10, 'ten')" },
        { sql: 'SELECT * FROM nope' },
        { sql: "INSERT INTO t(id, v) VALUES (11, 'eleven')" },
      ],
    });
    assertSqlError(r, /^no such table: nope: SQLITE_ERROR$/);
    assert.equal(await count(s, 't'), before);
    const rawToo = await raw(s, {
      batch: [{ sql: "INSERT INTO t(id, v) VALUES (12, 'x')" }, { sql: 'SELECT nope FROM t' }],
    });
    assertSqlError(rawToo, /^no such column: nope/);
    assert.equal(await count(s, 't'), before);
  });

  test("D1's own messages reach the client for it to classify", async () => {
    const vars = Array(101).fill('?').join(', ');
    assertSqlError(
      await query(s, { sql: `SELECT ${vars}`, params: Array(101).fill('1') }),
      /too many SQL variables/,
    );
    assertSqlError(
      await query(s, { sql: `SELECT '${'x'.repeat(100_001)}'` }),
      /statement too long: SQLITE_TOOBIG/,
    );
    assertSqlError(
      await query(s, { sql: 'INSERT INTO t(id, v) VALUES (50, NULL)' }),
      /NOT NULL constraint failed: t\.v: SQLITE_CONSTRAINT/,
    );
    assertSqlError(
      await query(s, { sql: 'INSERT INTO child(id, p) VALUES (1, 7)' }),
      /FOREIGN KEY constraint failed/,
    );
    assertSqlError(await query(s, { sql: 'SELECT sqlite_version()' }), /not authorized/);
  });

  test('auth, account and database errors', async () => {
    const missing = await query(s, { sql: 'SELECT 1' }, { token: null });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.errors[0].code, 9106);
    assert.equal(missing.json.result, null);

    const wrong = await query(s, { sql: 'SELECT 1' }, { token: `${s.token}x` });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json.errors, [{ code: 10000, message: 'Authentication error' }]);
    assert.equal(wrong.json.success, false);

    const malformed = await query(
      s,
      { sql: 'SELECT 1' },
      { token: null, headers: { authorization: 'Token abc' } },
    );
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.errors[0].code, 6003);

    const account = await call(
      s,
      'POST',
      `/client/v4/accounts/not-mine/d1/database/${DB_ID}/query`,
      {
        sql: 'SELECT 1',
      },
    );
    assert.equal(account.status, 403);
    assert.deepEqual(account.json.errors, [{ code: 10000, message: 'Authentication error' }]);

    const unknown = await call(s, 'POST', dbRoute(s, 'no-such-db'), { sql: 'SELECT 1' });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json.errors, [
      { code: 7404, message: 'The database no-such-db could not be found' },
    ]);

    const route = await call(s, 'GET', `/client/v4/accounts/${s.account}/workers/scripts`);
    assert.equal(route.status, 404);
    assert.equal(route.json.errors[0].code, 7003);
  });

  test('bodies that are not JSON or lack sql answer 400/7400', async () => {
    for (const body of ['not json', '[]', '{}', { batch: 'x' }, { batch: [{ params: [] }] }]) {
      const r = await query(s, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.success, false);
      assert.equal(r.json.errors[0].code, 7400);
    }
  });

  test('the listing filters by name and shows the configured databases', async () => {
    const all = await call(s, 'GET', `/client/v4/accounts/${s.account}/d1/database`);
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.json.result.map((d) => [d.name, d.uuid, d.version]),
      [
        ['app-main', DB_ID, 'production'],
        ['other', OTHER_ID, 'production'],
      ],
    );
    assert.equal(all.json.result_info.total_count, 2);
    const named = await call(
      s,
      'GET',
      `/client/v4/accounts/${s.account}/d1/database?name=app-main`,
    );
    assert.deepEqual(
      named.json.result.map((d) => d.uuid),
      [DB_ID],
    );
    assert.equal(typeof named.json.result[0].created_at, 'string');
    assert.deepEqual(
      { count: named.json.result_info.count, page: named.json.result_info.page },
      { count: 1, page: 1 },
    );
    const none = await call(s, 'GET', `/client/v4/accounts/${s.account}/d1/database?name=zzz`);
    assert.deepEqual(none.json.result, []);
  });

  test('stats count requests, routes, statements, commits and bytes', async () => {
    s.resetStats();
    const body = { batch: [{ sql: 'SELECT 1' }, { sql: 'SELECT 2' }] };
    await query(s, body);
    await raw(s, { sql: 'SELECT 1; SELECT 2; SELECT 3' });
    await query(s, { batch: [{ sql: 'SELECT 1' }, { sql: 'SELECT nope' }] });
    await call(s, 'GET', `/client/v4/accounts/${s.account}/d1/database`);
    const st = await (await fetch(`${s.url}/__standin/stats`)).json();
    assert.equal(st.requests, 4);
    assert.deepEqual(st.byRoute, { query: 2, raw: 1, list: 1 });
    assert.equal(st.statements, 7);
    assert.equal(st.committed, 5);
    assert.equal(st.batches, 3);
    assert.equal(st.batchesCommitted, 2);
    assert.equal(st.sqlErrors, 1);
    assert.equal(st.faultsInjected, 0);
    assert.ok(st.bytesIn > JSON.stringify(body).length);
    await fetch(`${s.url}/__standin/reset-stats`, { method: 'POST' });
    assert.equal(s.stats().requests, 0);
  });
});

describe('faults', () => {
  let s;
  before(async () => {
    s = await startStandin({ databases: { app: DB_ID } });
    await s.d1(DB_ID).exec('CREATE TABLE f(id INTEGER PRIMARY KEY)');
  });
  after(async () => {
    await s?.close();
  });
  const insert = (id) => query(s, { sql: 'INSERT INTO f(id) VALUES (?1)', params: [String(id)] });
  const has = async (id) =>
    (await s.d1(DB_ID).prepare('SELECT count(*) AS n FROM f WHERE id = ?1').bind(id).all())
      .results[0].n === 1;

  test('429 answers Retry-After and the rate-limit body; nothing applied', async () => {
    s.faults.next({ kind: 'status', status: 429, retryAfter: 2 });
    const r = await insert(1);
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '2');
    assert.deepEqual(r.json.errors, [
      { code: 971, message: 'Please wait and consider throttling your request speed' },
    ]);
    assert.equal(await has(1), false);
    assert.equal((await insert(1)).status, 200, 'the next request goes through');
  });

  test('5xx answers: JSON for 500, the edge HTML for 502/503/504; nothing applied', async () => {
    s.faults.next(
      { kind: 'status', status: 500 },
      { kind: 'status', status: 503, retryAfter: 5 },
      { kind: 'status', status: 504 },
    );
    const a = await insert(2);
    assert.equal(a.status, 500);
    assert.equal(a.json.success, false);
    assert.match(a.json.errors[0].message, /internal error/);
    const b = await insert(2);
    assert.equal(b.status, 503);
    assert.equal(b.headers.get('retry-after'), '5');
    assert.match(b.headers.get('content-type'), /text\/html/);
    assert.match(b.text, /503 Service Temporarily Unavailable/);
    const c = await insert(2);
    assert.equal(c.status, 504);
    assert.equal(await has(2), false);
  });

  test('drop-after-commit commits, then the answer is lost', async () => {
    s.faults.next({ kind: 'drop-after-commit' });
    await assert.rejects(insert(3));
    assert.equal(await has(3), true);
  });

  test('drop-before drops the connection; nothing applied', async () => {
    s.faults.next({ kind: 'drop-before' });
    await assert.rejects(insert(4));
    assert.equal(await has(4), false);
  });

  test('timeout holds the request until the client gives up; nothing applied', async () => {
    s.faults.next({ kind: 'timeout' });
    const abort = new AbortController();
    const pending = fetch(s.url + dbRoute(s), {
      method: 'POST',
      headers: { authorization: `Bearer ${s.token}` },
      body: JSON.stringify({ sql: 'INSERT INTO f(id) VALUES (5)' }),
      signal: abort.signal,
    });
    await until(() => s.stats().held === 1);
    abort.abort();
    await assert.rejects(pending);
    await until(() => s.stats().held === 0);
    assert.equal(await has(5), false);
  });

  test('slow applies and answers after ms', async () => {
    s.faults.next({ kind: 'slow', ms: 150 });
    const t0 = performance.now();
    const r = await insert(6);
    assert.equal(r.status, 200);
    assert.ok(performance.now() - t0 >= 140, 'answered after the delay');
    assert.equal(await has(6), true);
  });

  test('the control route queues faults and seeds random ones; delayMs slows every request', async () => {
    s.resetStats();
    const post = async (body) =>
      (
        await fetch(`${s.url}/__standin/faults`, {
          method: 'POST',
          body: JSON.stringify(body),
        })
      ).json();
    const state = await post({ next: [{ kind: 'status', status: 502 }] });
    assert.equal(state.pending.length, 1);
    assert.equal((await insert(7)).status, 502);
    assert.equal((await insert(7)).status, 200);

    const bad = await fetch(`${s.url}/__standin/faults`, {
      method: 'POST',
      body: JSON.stringify({ next: [{ kind: 'nope' }] }),
    });
    assert.equal(bad.status, 400);

    const pattern = async () => {
      await post({ every: { kind: 'status', status: 503, rate: 0.5, seed: 7 } });
      const out = [];
      for (let i = 0; i < 16; i++) {
        out.push((await query(s, { sql: 'SELECT 1' })).status);
      }
      return out;
    };
    const first = await pattern();
    assert.ok(first.includes(503) && first.includes(200), first.join(','));
    assert.deepEqual(await pattern(), first, 'the same seed draws the same faults');
    await post({ clear: true });

    await post({ delayMs: 60 });
    const t0 = performance.now();
    assert.equal((await query(s, { sql: 'SELECT 1' })).status, 200);
    assert.ok(performance.now() - t0 >= 55);
    await post({ delayMs: 0 });

    const st = s.stats();
    assert.equal(st.faultsInjected, 1 + first.filter((x) => x === 503).length * 2);
    assert.equal(st.faultsByKind.status, st.faultsInjected);
  });
});

describe('wrangler-config mode: the storage wrangler d1 execute --local reads', () => {
  let dir;
  let child;
  let line;
  const databaseId = '0d4f3e1a-8c0b-4b8e-9a5e-7b6f0b1c2d3e';
  const previewId = '0d4f3e1a-8c0b-4b8e-9a5e-7b6f0b1c2d3f';

  const wrangler = async (command) => {
    const env = { ...process.env, WRANGLER_SEND_METRICS: 'false' };
    delete env.CLOUDFLARE_API_TOKEN;
    env.WRANGLER_LOG_PATH = path.join(dir, 'wrangler-logs');
    const { stdout } = await promisify(execFile)(
      WRANGLER,
      ['d1', 'execute', 'standin-db', '--local', '--command', command, '--json'],
      { cwd: dir, env },
    );
    return JSON.parse(stdout);
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'd1-standin-'));
    writeFileSync(
      path.join(dir, 'wrangler.toml'),
      [
        'name = "standin-project"',
        '[[d1_databases]]',
        'binding = "DB"',
        'database_name = "standin-db"',
        `database_id = "${databaseId}"`,
        `preview_database_id = "${previewId}"`,
        '',
      ].join('\n'),
    );
    child = spawn(
      process.execPath,
      [
        STANDIN,
        '--port',
        '0',
        '--wrangler-config',
        path.join(dir, 'wrangler.toml'),
        '--binding',
        'DB',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const first = once(createInterface({ input: child.stdout }), 'line');
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`the stand-in exited (${code}): ${stderr}`);
    });
    [line] = await Promise.race([first, exited]);
    line = JSON.parse(line);
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the CLI prints one JSON line naming the database as wrangler stores it', () => {
    assert.match(line.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(typeof line.port, 'number');
    assert.deepEqual(line.databases, [{ name: 'standin-db', uuid: previewId }]);
    assert.equal(line.persist, path.join(dir, '.wrangler/state/v3/d1'));
    assert.equal(typeof line.token, 'string', 'a generated token is handed to the caller');
  });

  test('rows written through the stand-in are what wrangler d1 execute --local reads', async () => {
    const s = { url: line.url, token: line.token, account: line.account };
    const route = `/client/v4/accounts/${s.account}/d1/database/${previewId}/query`;
    const r = await call(s, 'POST', route, {
      batch: [
        { sql: 'CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT)' },
        { sql: 'INSERT INTO kv VALUES (?1, ?2), (?3, ?4)', params: ['a', 'one', 'b', 'two'] },
      ],
    });
    assert.equal(r.status, 200, r.text);
    // database_id answers too: the id a client knows from wrangler.toml.
    const alias = await call(
      s,
      'POST',
      `/client/v4/accounts/${s.account}/d1/database/${databaseId}/query`,
      { sql: 'SELECT count(*) AS n FROM kv' },
    );
    assert.deepEqual(alias.json.result[0].results, [{ n: 2 }]);

    const seen = await wrangler('SELECT k, v FROM kv ORDER BY k');
    assert.deepEqual(seen[0].results, [
      { k: 'a', v: 'one' },
      { k: 'b', v: 'two' },
    ]);

    await wrangler("INSERT INTO kv VALUES ('c', 'three')");
    const back = await call(s, 'POST', route, {
      sql: 'SELECT v FROM kv WHERE k = ?1',
      params: ['c'],
    });
    assert.deepEqual(back.json.result[0].results, [{ v: 'three' }]);
  });

  test('SIGTERM disposes Miniflare and exits 0; --persist + --database reads the same rows', async () => {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    const s = await startStandin({
      persist: path.join(dir, '.wrangler/state/v3/d1'),
      databases: { 'standin-db': previewId },
    });
    try {
      const r = await call(
        s,
        'POST',
        `/client/v4/accounts/${s.account}/d1/database/${previewId}/query`,
        { sql: 'SELECT count(*) AS n FROM kv' },
      );
      assert.deepEqual(r.json.result[0].results, [{ n: 3 }]);
    } finally {
      await s.close();
    }
  });
});
