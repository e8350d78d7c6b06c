// The target seam against real local D1 (Miniflare): d1BindingTarget hands back D1's own row
// counts (each batch() result's meta), the binding sums them into the BatchResult, and health()
// and metrics() report exactly what D1 said. Mirrors tests/native/test_target.cpp.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1,
  openLocal,
  run,
  expectSame,
  replicator,
  sync,
  seq,
  d1BindingTarget,
} from './helpers.mjs';

let env;
before(async () => {
  env = await startD1(8);
});
after(async () => {
  await env?.dispose();
});

// A D1 binding that sums the meta of every batch() whose results it hands back, independently
// of d1BindingTarget. `loseNext()` makes the next batch commit and then throw, as a lost answer
// does: its counts never reach the engine, so they are not summed either.
function meteredD1(d1) {
  const m = {
    rowsRead: 0,
    rowsWritten: 0,
    lost: 0,
    loseNext: () => ++m.lost,
    prepare: (sql) => d1.prepare(sql),
    async batch(statements) {
      const results = await d1.batch(statements);
      if (m.lost > 0) {
        --m.lost;
        throw new Error('Network connection lost.');
      }
      for (const r of results) {
        m.rowsRead += r.meta.rows_read;
        m.rowsWritten += r.meta.rows_written;
      }
      return results;
    },
  };
  return m;
}

// The value of one sample in Prometheus text.
function sample(text, name, source = 'src-1') {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{source="${source}"} `));
  assert.ok(line, `${name} is missing from:\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

test("d1BindingTarget returns D1's rows read and written per statement", async () => {
  const d1 = await env.fresh();
  const results = await d1BindingTarget(d1).batch([
    'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)',
    "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    'SELECT id, v FROM t ORDER BY id',
  ]);
  assert.equal(results.length, 3);
  for (const r of results) {
    assert.ok(Number.isSafeInteger(r.rowsRead) && r.rowsRead >= 0, JSON.stringify(r));
    assert.ok(Number.isSafeInteger(r.rowsWritten) && r.rowsWritten >= 0, JSON.stringify(r));
  }
  assert.ok(results[1].rowsWritten >= 3, JSON.stringify(results[1]));
  assert.ok(results[2].rowsRead >= 3, JSON.stringify(results[2]));
  assert.equal(results[2].rowsWritten, 0);
});

test("metrics() and health() report the rows D1's meta reported, and no others", async () => {
  const N = 400;
  const d1 = await env.fresh();
  const metered = meteredD1(d1);
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE pairs(a TEXT NOT NULL, b INTEGER NOT NULL, PRIMARY KEY(a, b));
    ${seq(1, N / 2)} INSERT INTO items SELECT i, 'item ' || i FROM n;
    ${seq(1, N / 2)} INSERT INTO pairs SELECT 'k' || (i % 7), i FROM n;`,
  );
  const r = await replicator(db, d1BindingTarget(metered), { limits: { copyPageRows: 90 } });
  let h = await sync(r);
  await expectSame(assert, db, d1, 'items');
  await expectSame(assert, db, d1, 'pairs');
  assert.ok(metered.rowsWritten >= N, `D1 reported ${metered.rowsWritten} rows written`);
  let m = r.metrics();
  assert.match(m, /^# TYPE d1sync_d1_rows_written_total counter$/m);
  assert.match(m, /^# TYPE d1sync_d1_rows_read_total counter$/m);
  assert.equal(sample(m, 'd1sync_d1_rows_written_total'), metered.rowsWritten);
  assert.equal(sample(m, 'd1sync_d1_rows_read_total'), metered.rowsRead);
  assert.equal(h.d1RowsWritten, metered.rowsWritten);
  assert.equal(h.d1RowsRead, metered.rowsRead);

  // Streaming, with one answer lost after D1 committed: what D1 reported for it never
  // arrived, so neither side counts it.
  run(db, `UPDATE items SET name = 'renamed' WHERE id % 3 = 0; DELETE FROM pairs WHERE b % 5 = 0;`);
  metered.loseNext();
  await r.flush();
  await expectSame(assert, db, d1, 'items');
  await expectSame(assert, db, d1, 'pairs');
  h = r.health();
  m = r.metrics();
  assert.equal(metered.lost, 0, 'the answer was lost once');
  assert.ok(h.syncErrors >= 1, JSON.stringify(h));
  assert.equal(sample(m, 'd1sync_d1_rows_written_total'), metered.rowsWritten);
  assert.equal(sample(m, 'd1sync_d1_rows_read_total'), metered.rowsRead);
  assert.equal(h.d1RowsWritten, metered.rowsWritten);
  r.close();
  db.close();
});

test('a target that reports no row counts (or junk) counts as 0', async () => {
  const d1 = await env.fresh();
  const real = d1BindingTarget(d1);
  const db = await openLocal();
  run(
    db,
    `CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); ${seq(1, 50)} INSERT INTO t SELECT i, 'v' || i FROM n;`,
  );
  let calls = 0;
  const target = {
    kind: 'counts-unknown',
    async batch(statements) {
      const results = await real.batch(statements);
      ++calls;
      // Alternately absent and junk: neither is a count.
      return results.map(({ columns, cells }) =>
        calls % 2 ? { columns, cells } : { columns, cells, rowsRead: -3, rowsWritten: NaN },
      );
    },
  };
  const r = await replicator(db, target);
  const h = await sync(r);
  await expectSame(assert, db, d1, 't');
  assert.ok(calls >= 2, `${calls} batches`);
  assert.equal(h.d1RowsRead, 0);
  assert.equal(h.d1RowsWritten, 0);
  assert.equal(sample(r.metrics(), 'd1sync_d1_rows_written_total'), 0);
  r.close();
  db.close();
});
