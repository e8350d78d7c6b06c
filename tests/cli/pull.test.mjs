// d1sync pull: D1 into a new file through the engine's hydrate, compared with the file that was
// pushed by sqldiff (an oracle nobody here wrote) and by the typeof+hex comparison with D1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import {
  startApi,
  runCli,
  generate,
  sqlite,
  tempDir,
  expectFileEqualsD1,
  at,
  TABLES,
} from './harness.mjs';

let api;
let dir;
before(async () => {
  api = await startApi(6);
  dir = tempDir();
});
after(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

// sqldiff's differences in one table ('' when equal), rows matched by their declared primary
// key (a table keyed by rowid is matched by rowid: its rowids are replicated too).
function sqldiff(a, b, table) {
  return execFileSync('sqldiff', ['--primarykey', '--table', table, a, b], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  }).slice(0, 2000);
}

test('pull brings every table back exactly; the pulled file takes the source over and replicates', async () => {
  const original = path.join(dir, 'original.sqlite');
  generate(original);
  const db = await api.fresh();
  assert.equal((await runCli(['push', original, ...at(db), '-q'], { api })).code, 0);

  const copy = path.join(dir, 'copy.sqlite');
  const fenced = await runCli(['pull', copy, ...at(db), '--source-id', 'original'], { api });
  assert.equal(fenced.code, 5, fenced.stderr);
  assert.match(fenced.stderr, /owned by another database/);
  assert.ok(!existsSync(copy), 'a pull that failed leaves no file');

  const pulled = await runCli(
    ['pull', copy, ...at(db), '--source-id', 'original', '--takeover', '--json'],
    { api },
  );
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal(pulled.json.rows, 200000);
  for (const t of TABLES) assert.equal(sqldiff(original, copy, t), '', `sqldiff ${t}`);
  await expectFileEqualsD1(assert, copy, db.d1);

  // The copy is the source now: its changes go to D1, the original is fenced.
  const status = await runCli(['status', copy, ...at(db), '--source-id', 'original'], { api });
  assert.equal(status.code, 0, status.stdout);
  sqlite(
    copy,
    "UPDATE notes SET txt = 'from the copy' WHERE id <= 100; DELETE FROM tags WHERE n > 19000;",
  );
  const push = await runCli(['push', copy, ...at(db), '--source-id', 'original', '--json'], {
    api,
  });
  assert.equal(push.code, 0, push.stderr);
  assert.equal(push.json.rows, 100, 'only the changes travel');
  await expectFileEqualsD1(assert, copy, db.d1);
  sqlite(original, "UPDATE notes SET txt = 'stale' WHERE id = 1;");
  assert.equal((await runCli(['push', original, ...at(db)], { api })).code, 5);
});

test('pull --tenant brings one tenant back and nothing of the others', async () => {
  const a = path.join(dir, 'room-a.sqlite');
  const b = path.join(dir, 'room-b.sqlite');
  generate(a, 0.05);
  generate(b, 0.04);
  const db = await api.fresh();
  for (const [file, room] of [
    [a, 'a'],
    [b, 'b'],
  ]) {
    const r = await runCli(['push', file, ...at(db), '--tenant', `room=${room}`, '-q'], { api });
    assert.equal(r.code, 0, r.stderr);
  }
  const copy = path.join(dir, 'room-a-copy.sqlite');
  const r = await runCli(
    ['pull', copy, ...at(db), '--tenant', 'room=a', '--source-id', 'room-a', '--takeover'],
    { api },
  );
  assert.equal(r.code, 0, r.stderr);
  for (const t of TABLES) assert.equal(sqldiff(a, copy, t), '', `sqldiff ${t}`);
});

test('pull refuses a file that holds tables, and leaves it as it was', async () => {
  const db = await api.fresh();
  const mine = path.join(dir, 'mine.sqlite');
  sqlite(mine, "CREATE TABLE keep(x); INSERT INTO keep VALUES ('mine');");
  const r = await runCli(['pull', mine, ...at(db)], { api });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /empty local database; this one has tables: keep/);
  assert.equal(sqlite(mine, 'SELECT x FROM keep;').trim(), 'mine');
});

test('disk full while pulling: exit 3 and the partial file removed', async () => {
  const original = path.join(dir, 'big.sqlite');
  generate(original, 0.5);
  const db = await api.fresh();
  assert.equal((await runCli(['push', original, ...at(db), '-q'], { api })).code, 0);
  const copy = path.join(dir, 'full.sqlite');
  // A 1 MB file size limit stands in for a full disk: SQLite's write fails the same way.
  const { code, stderr } = await runCli(
    ['pull', copy, ...at(db), '--takeover', '--source-id', 'big'],
    { api, shell: 'ulimit -f 1024' },
  );
  assert.equal(code, 3, stderr);
  assert.match(stderr, /cannot write/);
  assert.ok(!existsSync(copy), 'the partial file is gone');
  assert.ok(!existsSync(`${copy}-journal`), 'and its journal');
});
