// uninstall() through the package: sqlite-wasm as the local database, Miniflare's D1 as target.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1,
  openLocal,
  run,
  localValue,
  d1Value,
  expectSame,
  replicator,
  sync,
  D1SyncError,
} from './helpers.mjs';

const OURS = "SELECT count(*) FROM sqlite_master WHERE substr(name, 1, 8) = '_d1sync_'";

let env;
before(async () => {
  env = await startD1(4);
});
after(async () => {
  await env?.dispose();
});

test('issue 10: uninstall() removes capture; the tables and D1 keep their rows', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE);
    INSERT INTO t VALUES (1, 'a'), (2, 'b');`,
  );
  const r = await replicator(db, d1);
  await sync(r);
  assert.ok(localValue(db, OURS) > 4);
  await r.uninstall();
  assert.equal(localValue(db, OURS), 0);
  run(db, "INSERT OR REPLACE INTO t VALUES (3, 'a')");
  assert.equal(localValue(db, 'SELECT count(*) FROM t'), 2);
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM t'), 2);
  r.close();
});

test('issue 10: uninstall() is the way out of a sourceId mismatch', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, 'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 1)');
  const first = await replicator(db, d1, { sourceId: 'first' });
  await sync(first);
  first.close();
  const second = await replicator(db, d1, { sourceId: 'second' });
  await assert.rejects(
    second.start(),
    (e) => e instanceof D1SyncError && e.code === 'CONFIG' && /uninstall/.test(e.message),
  );
  await second.uninstall();
  assert.equal(localValue(db, OURS), 0);
  second.close();
  const fresh = await env.fresh();
  const third = await replicator(db, fresh, { sourceId: 'second' });
  await sync(third);
  run(db, 'UPDATE t SET v = 2');
  await third.flush();
  await expectSame(assert, db, fresh, 't');
  third.close();
});
