// d1sync verify end to end: the native binary against the D1 REST API stand-in. The engine's
// verify itself is covered in tests/native/test_verify.cpp and tests/node/verify.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { startApi, runCli, generate, sqlite, tempDir, expectFileEqualsD1, at } from './harness.mjs';

let api;
let dir;
before(async () => {
  api = await startApi(4);
  dir = tempDir();
});
after(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

const keys = (report) =>
  report.tables.flatMap((t) => t.differences.map((d) => `${t.table}:${d.key}`)).sort();

test('verify: equal after a push, names what was damaged in D1, --repair restores it', async () => {
  const file = path.join(dir, 'app.sqlite');
  generate(file);
  const db = await api.fresh();

  const never = await runCli(['verify', file, ...at(db)], { api });
  assert.equal(never.code, 4, never.stderr);
  assert.match(never.stderr, /never pushed: run d1sync push first/);

  assert.equal((await runCli(['push', file, ...at(db), '-q'], { api })).code, 0);
  api.resetStats();
  const equal = await runCli(['verify', file, ...at(db), '--json'], { api });
  assert.equal(equal.code, 0, equal.stderr);
  assert.equal(equal.json.equal, true);
  const rows = equal.json.report.tables.reduce((n, t) => n + t.rowsD1, 0);
  assert.equal(rows, 200000);
  // D1's own figures: about the rows once, in few requests (the claim's included).
  const stats = api.stats();
  assert.ok(stats.rowsRead <= 1.1 * rows + 1000, `${stats.rowsRead} rows read for ${rows}`);
  assert.ok(equal.json.report.batches <= 24, `${equal.json.report.batches} requests`);
  assert.equal(stats.rowsWritten, 1, "a verify writes nothing but the claim's fence row");

  // Damage D1 behind d1sync's back, in a rowid table, a WITHOUT ROWID table, a table without
  // a key and one with a composite key; and change the file (sent before comparing).
  const users = (
    await db.d1.prepare('SELECT id FROM users ORDER BY id LIMIT 1 OFFSET 777').raw()
  )[0][0];
  const pair = (
    await db.d1.prepare('SELECT x, y FROM pairs ORDER BY x, y LIMIT 1 OFFSET 10').raw()
  )[0];
  await db.d1.batch([
    db.d1.prepare(`UPDATE users SET name = name || 'x' WHERE id = ${users}`),
    db.d1.prepare('DELETE FROM tags WHERE name = (SELECT name FROM tags ORDER BY name LIMIT 1)'),
    db.d1.prepare('UPDATE events SET v = NULL WHERE rowid = 5'),
    db.d1.prepare(`UPDATE pairs SET v = 0.5 WHERE x = ? AND y = ?`).bind(pair[0], pair[1]),
  ]);
  sqlite(file, "UPDATE notes SET txt = 'sent first' WHERE id = 3");
  const bad = await runCli(['verify', file, ...at(db), '--json'], { api });
  assert.equal(bad.code, 1, bad.stderr);
  assert.equal(bad.json.equal, false);
  const found = keys(bad.json.report);
  assert.equal(found.length, 4, found.join(' '));
  assert.ok(found.includes(`users:${users}`));
  assert.ok(found.some((k) => k.startsWith('tags:')));
  assert.ok(found.some((k) => k.startsWith('events:')));
  assert.ok(found.some((k) => k.startsWith('pairs:')));

  const human = await runCli(['verify', file, ...at(db)], { api });
  assert.equal(human.code, 1);
  assert.match(human.stderr, new RegExp(`users key ${users}: file \\(${users},`));
  assert.match(human.stderr, /tags key '.*': file \(.*\), D1 \(no row\)/);

  const fixed = await runCli(['verify', file, ...at(db), '--repair', '--json'], { api });
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal(fixed.json.repaired.equal, false);
  assert.equal(fixed.json.report.equal, true);
  await expectFileEqualsD1(assert, file, db.d1);
  assert.equal((await runCli(['verify', file, ...at(db), '-q'], { api })).code, 0);

  const usage = await runCli(['verify', file, ...at(db), '--max-differences', '0'], { api });
  assert.equal(usage.code, 2);
});
