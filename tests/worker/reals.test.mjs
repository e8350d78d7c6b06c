// REALs bit for bit from a Durable Object's SQLite inside workerd into local D1: 20,000
// random-bit doubles plus the edge cases, in columns of every affinity and as keys, copied and
// then streamed, compared as numbers with Object.is (tests/node/reals-data.mjs).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { room, startMiniflare } from './harness.mjs';
import { SCHEMA, edgeDoubles, expectIdentical, randomDoubles } from '../node/reals-data.mjs';

let mf;
let r;
before(async () => {
  mf = await startMiniflare();
  r = room(mf, 'reals');
  await r.configure({ sourceId: 'reals', schema: SCHEMA, start: false });
});
after(async () => {
  await mf?.dispose();
});

// Runs parameterised statements in the DO, a few thousand per request, each request one
// transaction.
async function execAll(statements) {
  for (let i = 0; i < statements.length; i += 4000)
    await r.execTx(...statements.slice(i, i + 4000));
}

function fill(values, shift) {
  const n = values.length;
  return values.map((d, i) => ({
    sql: 'INSERT OR REPLACE INTO v(id, r, n, i, b, x) VALUES (?, ?, ?, ?, ?, ?)',
    params: [
      i,
      d,
      values[(i + shift + 1) % n],
      values[(i + shift + 2) % n],
      values[(i + shift + 3) % n],
      values[(i + shift + 4) % n],
    ],
  }));
}

async function expectSameInD1(label) {
  const d1 = await mf.getD1Database('DB');
  await expectIdentical(async (sql) => (await r.exec(sql))[0], d1, label);
}

test('Issue 10: 20,000 random-bit doubles go from a Durable Object to D1 bit for bit, copied and streamed', async () => {
  const values = [...edgeDoubles(), ...randomDoubles(20000, 2026)];
  const keyed = values.flatMap((d, i) => [
    {
      sql: 'INSERT OR IGNORE INTO kr(k, v) VALUES (?, ?)',
      params: [d, values[(i + 7) % values.length]],
    },
    {
      sql: 'INSERT OR IGNORE INTO kw(k, j, v) VALUES (?, ?, ?)',
      params: [d, i % 3, values[(i + 11) % values.length]],
    },
  ]);
  await execAll([...fill(values, 0), ...keyed]);
  // The DO holds the doubles written (finite, non-zero ones compared).
  const [held] = await r.exec('SELECT r FROM v ORDER BY id');
  let same = 0;
  for (let i = 0; i < values.length; ++i) if (Object.is(held[i][0], values[i])) ++same;
  assert.ok(
    same >= values.length - 10,
    `the DO holds ${same} of ${values.length} doubles as written`,
  );

  const first = await r.flush();
  assert.equal(first.flushed, true, JSON.stringify(first.error));
  assert.equal(first.health.syncErrors, 0, first.health.lastError ?? '');
  await expectSameInD1('initial copy');

  const next = randomDoubles(20000, 4242);
  const changes = [...fill(next, 3), 'UPDATE kr SET v = -v WHERE rowid % 3 = 0'];
  for (let i = 0; i < next.length; i += 2) {
    changes.push({
      sql: 'UPDATE OR IGNORE kr SET k = ? WHERE rowid = ?',
      params: [next[i], i + 1],
    });
  }
  changes.push('DELETE FROM kr WHERE rowid % 5 = 0', 'DELETE FROM kw WHERE j = 2');
  for (let i = 0; i < next.length; i += 3) {
    changes.push({
      sql: 'INSERT OR REPLACE INTO kw(k, j, v) VALUES (?, ?, ?)',
      params: [next[i], i % 4, next[(i + 5) % next.length]],
    });
  }
  changes.push('UPDATE OR IGNORE kw SET k = -k WHERE j = 1');
  await execAll(changes);
  const second = await r.flush();
  assert.equal(second.flushed, true, JSON.stringify(second.error));
  assert.equal(second.health.syncErrors, 0, second.health.lastError ?? '');
  assert.equal(second.health.pendingChanges, 0);
  assert.equal(second.health.quarantined, 0);
  await expectSameInD1('streamed changes');
});
