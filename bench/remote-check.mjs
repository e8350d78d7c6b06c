// Checks the out-of-process bench mode's plumbing (a command: it prints what it measured and
// what differs, and exits 1 only when the proxy answers differently from a D1 binding):
//   1. the delay is real wall-clock time: 50 trivial round trips at 40 ms, from Node and from
//      the Durable Object (through its service binding), take ≥ 2 s;
//   2. the proxy answers as the binding does: the same statements through bench/remote-d1.js to
//      one D1 process and through Miniflare's own binding to a twin D1 process give the same
//      rows (BLOBs as arrays of numbers), the same meta counts, the same error messages and
//      causes. (Inside workerd the binding binds a view's elements as bytes, a DataView as an
//      empty BLOB, and the proxy does the same; Miniflare's Node-side binding differs for
//      views, so only Uint8Array, subarrays and ArrayBuffer are compared here.)
//   3. a DO can compute while a proxied batch is in flight: one round trip held 300 ms by the
//      D1 process and 300 ms of computing, with a timer yield after sending, take ~300 ms, not
//      ~600 (without the yield the request waits for the computation); a plain await of a
//      batch takes the delay and little more.
//   node bench/remote-check.mjs
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { messageOf } from '../js/errors.js';
import { remoteD1 } from './remote-d1.js';
import { startD1Server, startBenchWorker } from './remote.mjs';
import { benchClient } from './workerd.mjs';

let differences = 0;
function same(what, actual, expected) {
  try {
    assert.deepEqual(actual, expected);
    console.log(`  same: ${what}`);
  } catch {
    ++differences;
    console.log(
      `  DIFFERENT: ${what}\n    proxy:   ${JSON.stringify(actual)}\n    binding: ${JSON.stringify(expected)}`,
    );
  }
}

// What a comparison ignores: meta fields that vary from call to call.
function stable(result) {
  if (result && typeof result === 'object' && 'count' in result && 'duration' in result) {
    return { count: result.count }; // exec()
  }
  const strip = (r) => {
    if (!r || typeof r !== 'object' || !r.meta) return r;
    const { duration, served_by, size_after, ...meta } = r.meta;
    return { ...r, meta };
  };
  return Array.isArray(result) && result.every((r) => r && r.meta)
    ? result.map(strip)
    : strip(result);
}

async function outcome(fn) {
  try {
    return { value: stable(await fn()) };
  } catch (e) {
    return {
      error: { name: e.name, message: e.message, cause: e.cause?.message, messageOf: messageOf(e) },
    };
  }
}

// 1. The delay.
{
  console.log('1. 50 trivial round trips at 40 ms');
  const d1 = await startD1Server({ delayMs: 40 });
  const mf = await startBenchWorker({ d1Address: d1.address });
  try {
    const db = remoteD1(fetch, d1.url);
    const t = performance.now();
    for (let i = 0; i < 50; ++i) await db.prepare('SELECT 1 AS one').first('one');
    const fromNode = performance.now() - t;
    const fromDO = (await benchClient(mf, 'check')('pingD1', { n: 50 })).ms;
    console.log(
      `  from Node ${fromNode.toFixed(0)} ms, from the DO ${fromDO.toFixed(0)} ms (≥ 2000 expected)`,
    );
  } finally {
    await mf.dispose();
    await d1.mf.dispose();
  }
}

// 2. The proxy against the binding, on one D1.
{
  console.log('2. the proxy against the binding');
  const d1 = await startD1Server({ delayMs: 0 });
  const twin = await startD1Server({ delayMs: 0 });
  try {
    const proxy = remoteD1(fetch, d1.url);
    const binding = await twin.mf.getD1Database('DB');
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const cases = [
      [
        'exec DDL',
        (db) =>
          db.exec(
            'CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, b BLOB, s TEXT UNIQUE, r REAL)',
          ),
      ],
      [
        'batch with bound values',
        (db, k) =>
          db.batch([
            db.prepare('INSERT INTO t VALUES (?, ?, ?, ?)').bind(k + 1, bytes, `s${k}`, 1.5),
            db.prepare('INSERT INTO t VALUES (?, ?, ?, ?)').bind(k + 2, bytes.buffer, null, -2),
            db
              .prepare('INSERT INTO t VALUES (?, ?, ?, ?)')
              .bind(k + 3, bytes.subarray(3, 8), 'é\u0000x', 2 ** 53),
            db.prepare("INSERT INTO t VALUES (?, X'00ff', ?, 9e999)").bind(k + 4, `t${k}`),
          ]),
      ],
      [
        'all() with BLOBs and ±Infinity',
        (db, k) => db.prepare('SELECT * FROM t WHERE id > ? ORDER BY id').bind(k).all(),
      ],
      [
        'raw()',
        (db, k) => db.prepare('SELECT id, b FROM t WHERE id > ? ORDER BY id').bind(k).raw(),
      ],
      [
        'raw({ columnNames: true })',
        (db, k) =>
          db
            .prepare('SELECT id, s FROM t WHERE id > ? ORDER BY id')
            .bind(k)
            .raw({ columnNames: true }),
      ],
      [
        'first()',
        (db, k) =>
          db
            .prepare('SELECT * FROM t WHERE id = ?')
            .bind(k + 1)
            .first(),
      ],
      [
        "first('s')",
        (db, k) =>
          db
            .prepare('SELECT * FROM t WHERE id = ?')
            .bind(k + 1)
            .first('s'),
      ],
      ['first() of no row', (db) => db.prepare('SELECT * FROM t WHERE id = -1').first()],
      ['run()', (db, k) => db.prepare('UPDATE t SET r = r + 1 WHERE id > ?').bind(k).run()],
      [
        'UNIQUE failure rolls the batch back',
        (db, k) =>
          db.batch([
            db.prepare('INSERT INTO t(id, s) VALUES (?, ?)').bind(k + 9, 'fresh'),
            db.prepare('INSERT INTO t(id, s) VALUES (?, ?)').bind(k + 10, `s${k}`),
          ]),
      ],
      [
        'the batch above left nothing',
        (db, k) =>
          db
            .prepare('SELECT count(*) AS n FROM t WHERE id = ?')
            .bind(k + 9)
            .first('n'),
      ],
      ['no such table', (db) => db.batch([db.prepare('SELECT * FROM nope')])],
      [
        "the fence's failure",
        (db) => db.batch([db.prepare("SELECT json_extract('{}','$d1sync: FENCED')")]),
      ],
      [
        'too many SQL variables',
        (db) =>
          db
            .prepare(`SELECT ${Array(101).fill('?').join(',')}`)
            .bind(...Array(101).fill(1))
            .all(),
      ],
      ['exec() failure', (db) => db.exec('SELECT * FROM nope2')],
      ['BigInt', (db) => db.prepare('SELECT ?').bind(1n).all()],
      ['undefined', (db) => db.prepare('SELECT ?').bind(undefined).all()],
      ['unknown column in first()', (db) => db.prepare('SELECT 1 AS a').first('b')],
    ];
    for (const [what, fn] of cases) {
      same(what, await outcome(() => fn(proxy, 100)), await outcome(() => fn(binding, 100)));
    }
  } finally {
    await d1.mf.dispose();
    await twin.mf.dispose();
  }
}

// 3. Overlap: a DO computing while its batch is in flight.
{
  console.log('3. a 300 ms round trip and 300 ms of computing in the DO');
  const d1 = await startD1Server({ delayMs: 300 });
  const mf = await startBenchWorker({ d1Address: d1.address });
  try {
    const r = await benchClient(mf, 'check')('overlap', { cpuMs: 300 });
    console.log(
      `  timer yield after sending: ${r.timerYield.toFixed(0)} ms (overlapped: ~300); ` +
        `no yield: ${r.noYield.toFixed(0)} ms (one after the other: ~600); ` +
        `a plain await of the batch alone: ${r.plainAwait.toFixed(0)} ms (~300)`,
    );
  } finally {
    await mf.dispose();
    await d1.mf.dispose();
  }
}

console.log(differences ? `${differences} difference(s)` : 'the proxy answered as the binding did');
process.exit(differences ? 1 : 0);
