// REALs bit for bit from sqlite-wasm into Miniflare's real local D1 (SQLite 3.47, whose decimal
// parser misreads over a quarter of random-bit doubles' quote() texts): 20,000 random-bit
// doubles plus the edge cases, in columns of every affinity and as keys, copied and then
// streamed, compared as JS numbers with Object.is (infinities and -0.0 named in SQL first,
// since D1's answers travel as JSON).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1,
  openLocal,
  run,
  localRows,
  replicator,
  sync,
  PENDING_OUTBOX,
  localValue,
} from './helpers.mjs';
import { SCHEMA, edgeDoubles, expectIdentical, randomDoubles } from './reals-data.mjs';

let env;
before(async () => {
  env = await startD1(4);
});
after(async () => {
  await env?.dispose();
});

function fill(db, values, shift) {
  const n = values.length;
  run(db, 'BEGIN');
  for (let i = 0; i < n; ++i) {
    run(db, 'INSERT OR REPLACE INTO v(id, r, n, i, b, x) VALUES (?, ?, ?, ?, ?, ?)', [
      i,
      values[i],
      values[(i + shift + 1) % n],
      values[(i + shift + 2) % n],
      values[(i + shift + 3) % n],
      values[(i + shift + 4) % n],
    ]);
  }
  run(db, 'COMMIT');
}

test('Issue 10: 20,000 random-bit doubles reach local D1 bit for bit, copied and streamed', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  for (const s of SCHEMA) run(db, s);
  const values = [...edgeDoubles(), ...randomDoubles(20000, 2026)];
  fill(db, values, 0);
  run(db, 'BEGIN');
  for (let i = 0; i < values.length; ++i) {
    run(db, 'INSERT OR IGNORE INTO kr(k, v) VALUES (?, ?)', [
      values[i],
      values[(i + 7) % values.length],
    ]);
    run(db, 'INSERT OR IGNORE INTO kw(k, j, v) VALUES (?, ?, ?)', [
      values[i],
      i % 3,
      values[(i + 11) % values.length],
    ]);
  }
  run(db, 'COMMIT');
  // The yardstick: local D1 misreads many of these doubles' quote() texts.
  await d1.prepare('CREATE TABLE probe(v REAL)').run();
  const sample = randomDoubles(2000, 7).filter((d) => Number.isFinite(d));
  const insert = d1.prepare('INSERT INTO probe VALUES (?)');
  await d1.batch(sample.map((d) => insert.bind(d)));
  const misread = (
    await d1.prepare('SELECT count(*) FROM probe WHERE CAST(quote(v) AS REAL) <> v').raw()
  )[0][0];
  assert.ok(misread > 100, `local D1 misreads ${misread} of 2,000 quote() texts`);

  const r = await replicator(db, d1, { sourceId: 'reals' });
  const h = await sync(r);
  assert.equal(h.syncErrors, 0, h.lastError ?? '');
  await expectIdentical((sql) => localRows(db, sql), d1, 'initial copy');

  const next = randomDoubles(20000, 4242);
  fill(db, next, 3);
  run(db, 'BEGIN');
  run(db, 'UPDATE kr SET v = -v WHERE rowid % 3 = 0');
  for (let i = 0; i < next.length; i += 2) {
    run(db, 'UPDATE OR IGNORE kr SET k = ? WHERE rowid = ?', [next[i], i + 1]);
  }
  run(db, 'DELETE FROM kr WHERE rowid % 5 = 0');
  run(db, 'DELETE FROM kw WHERE j = 2');
  for (let i = 0; i < next.length; i += 3) {
    run(db, 'INSERT OR REPLACE INTO kw(k, j, v) VALUES (?, ?, ?)', [
      next[i],
      i % 4,
      next[(i + 5) % next.length],
    ]);
  }
  run(db, 'UPDATE OR IGNORE kw SET k = -k WHERE j = 1');
  run(db, 'COMMIT');
  await r.flush();
  const h2 = r.health();
  assert.equal(h2.syncErrors, 0, h2.lastError ?? '');
  assert.equal(h2.quarantined, 0);
  assert.equal(localValue(db, PENDING_OUTBOX), 0);
  await expectIdentical((sql) => localRows(db, sql), d1, 'streamed changes');
  r.close();
});
