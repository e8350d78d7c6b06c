// d1sync refusing bad input: a clear message naming the problem, a distinct exit code, nothing
// half-done in the file or in D1, and the API token in no output.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { openSync, writeSync, closeSync, writeFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import {
  startApi,
  runCli,
  generate,
  sqlite,
  tempDir,
  at,
  waitFor,
  expectFileEqualsD1,
} from './harness.mjs';

let api;
let dir;
const outputs = [];
async function cli(args, opts) {
  const r = await runCli(args, opts);
  outputs.push(r.stdout + r.stderr);
  return r;
}

before(async () => {
  api = await startApi(6);
  dir = tempDir();
});
after(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('files: missing, not SQLite, corrupt, locked by a writer', async () => {
  const db = await api.fresh();
  const missing = await cli(['push', path.join(dir, 'nope.sqlite'), ...at(db)], { api });
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /nope\.sqlite: no such file/);

  const text = path.join(dir, 'notes.txt');
  writeFileSync(text, 'these are my notes, not a database\n'.repeat(100));
  const notDb = await cli(['push', text, ...at(db)], { api });
  assert.equal(notDb.code, 3);
  assert.match(notDb.stderr, /notes\.txt is not a SQLite database/);

  const corrupt = path.join(dir, 'corrupt.sqlite');
  generate(corrupt, 0.02);
  const fd = openSync(corrupt, 'r+');
  // Pages 4 to 8 get a b-tree page header SQLite cannot read (page type 0xa5).
  for (let page = 4; page <= 8; page++)
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, (page - 1) * 4096);
  closeSync(fd);
  const bad = await cli(['push', corrupt, ...at(db)], { api });
  assert.equal(bad.code, 3, bad.stderr);
  assert.match(bad.stderr, /corrupt\.sqlite is corrupt/);
  assert.equal(api.stats().committed ?? 0, 0, 'nothing reached D1');

  const locked = path.join(dir, 'locked.sqlite');
  generate(locked, 0.02);
  const holder = spawn('sqlite3', [locked]);
  holder.stdin.write("BEGIN IMMEDIATE; INSERT INTO notes VALUES (999999, 'x');\n");
  // The shell's output is buffered when piped: ask SQLite itself whether the lock is held.
  const held = () => spawnSync('sqlite3', [locked, 'BEGIN IMMEDIATE;'], { encoding: 'utf8' });
  await waitFor(() => /locked/.test(held().stderr), 'the writer to hold its lock');
  const busy = await cli(['push', locked, ...at(db), '--busy-timeout', '300'], { api });
  holder.stdin.end('ROLLBACK;\n');
  await new Promise((resolve) => holder.on('close', resolve));
  assert.equal(busy.code, 3, busy.stderr);
  assert.match(busy.stderr, /locked by another writer: waited 300 ms/);
  assert.equal(
    sqlite(locked, "SELECT count(*) FROM sqlite_master WHERE name LIKE '_d1sync%';").trim(),
    '0',
  );
  // Once the writer is done, the same push goes through.
  const ok = await cli(['push', locked, ...at(db), '-q'], { api });
  assert.equal(ok.code, 0, ok.stderr);
});

test('configuration: no token, wrong token, wrong account, wrong database, missing table', async () => {
  const file = path.join(dir, 'config.sqlite');
  generate(file, 0.01);
  const db = await api.fresh();
  const env = { CLOUDFLARE_API_BASE_URL: `${api.url}/client/v4` };
  const noToken = await cli(['push', file, ...at(db)], {
    env: { ...env, CLOUDFLARE_ACCOUNT_ID: api.account },
  });
  assert.equal(noToken.code, 4);
  assert.match(noToken.stderr, /CLOUDFLARE_API_TOKEN is not set/);
  const noAccount = await cli(['push', file, ...at(db)], {
    env: { ...env, CLOUDFLARE_API_TOKEN: api.token },
  });
  assert.equal(noAccount.code, 4);
  assert.match(noAccount.stderr, /CLOUDFLARE_ACCOUNT_ID is not set/);

  const wrongToken = 'wrong-' + randomUUID();
  const bad = await cli(['push', file, ...at(db), '--json'], {
    api,
    env: { CLOUDFLARE_API_TOKEN: wrongToken },
  });
  assert.equal(bad.code, 4, bad.stdout);
  assert.match(bad.json.error.message, /refused the token \(HTTP 401, code 10000/);
  assert.ok(!bad.stdout.includes(wrongToken) && !bad.stderr.includes(wrongToken));

  const account = await cli(['push', file, ...at(db)], {
    api,
    env: { CLOUDFLARE_ACCOUNT_ID: 'f'.repeat(32) },
  });
  assert.equal(account.code, 4);
  assert.match(account.stderr, /HTTP 403/);

  const unknown = await cli(['push', file, '--database', randomUUID()], { api });
  assert.equal(unknown.code, 4);
  assert.match(unknown.stderr, /no such D1 database or account \(HTTP 404, code 7404/);
  const byName = await cli(['push', file, '--database', 'no-such-name'], { api });
  assert.equal(byName.code, 4);
  assert.match(byName.stderr, /no D1 database named 'no-such-name'/);

  const table = await cli(['push', file, ...at(db), '--tables', 'notes,nosuch'], { api });
  assert.equal(table.code, 4, table.stderr);
  assert.match(table.stderr, /nosuch/);

  // By name, the database resolves through the API's listing.
  const named = await cli(['push', file, '--database', db.name, '-q'], { api });
  assert.equal(named.code, 0, named.stderr);
});

test("a database that is another source's: FENCED, exit 5, D1 untouched", async () => {
  const a = path.join(dir, 'a.sqlite');
  const b = path.join(dir, 'b.sqlite');
  generate(a, 0.01);
  generate(b, 0.01);
  sqlite(b, "UPDATE notes SET txt = 'from b';");
  const db = await api.fresh();
  assert.equal((await cli(['push', a, ...at(db), '--source-id', 'shared', '-q'], { api })).code, 0);
  const fenced = await cli(['push', b, ...at(db), '--source-id', 'shared'], { api });
  assert.equal(fenced.code, 5, fenced.stderr);
  assert.match(fenced.stderr, /FENCED/);
  const n = await db.d1.prepare("SELECT count(*) AS n FROM notes WHERE txt = 'from b'").first();
  assert.equal(n.n, 0);
  // b replaces a when it says so: D1 then holds b's rows.
  const taken = await cli(['push', b, ...at(db), '--source-id', 'shared', '--takeover'], { api });
  assert.equal(taken.code, 0, taken.stderr);
  await expectFileEqualsD1(assert, b, db.d1);
});

test('the token appears in no output', () => {
  assert.ok(outputs.length > 10);
  for (const o of outputs) assert.ok(!o.includes(api.token), 'the token leaked into output');
});
