// The native randomized fault harness at small scale inside workerd: per seed, rounds of random
// writes in a SQLite-backed Durable Object (inserts, updates, deletes, primary-key updates,
// OR REPLACE through the primary key and a UNIQUE column, NULLs, NUL text, big values) on a table
// with an INTEGER PRIMARY KEY and one with a composite TEXT key, D1 failing transiently through
// the fixture's wrapped binding, flushes bounded by maxBatches, and Miniflare disposed and
// recreated over the persisted DO and D1: in the middle of the initial sync in early rounds,
// in the middle of streaming later. Afterwards D1 must equal the DO row for row, with nothing
// pending and D1's watermark at the last captured sequence.
//
// Deterministic: every write, fault and restart decision comes from a seeded PRNG (the only
// nondeterminism left is the engine's backoff jitter, which can change how far a faulty flush
// gets, never what must hold at the end). Replay one seed with
//   D1SYNC_RESTART_SEEDS=2 node --test tests/worker/restart-streaming.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertReplicated, dumpD1, room, startMiniflare, tempDir } from './harness.mjs';

const SEEDS = process.env.D1SYNC_RESTART_SEEDS
  ? process.env.D1SYNC_RESTART_SEEDS.split(',').map(Number)
  : [1, 2, 3];
const ROUNDS = 8;
const LIMITS = { copyPageRows: 10, pageChanges: 15 };
// Long enough to absorb one backoff (125-250 ms) inside flush(), too short for two in a row:
// some faulty flushes recover inside the call, others return D1_TRANSIENT.
const FLUSH_RETRY_MS = 300;
const TRANSIENT = ['D1 DB is overloaded. Too many requests queued.', 'Network connection lost.'];
const ITEMS = { table: 'items', columns: ['id', 'n', 'r', 't', 'b', 'u'] };
const PAIRS = { table: 'pairs', columns: ['a', 'b', 'v', 'w'], orderBy: ['a', 'b'] };

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Random SQL over the two tables; values are SQL literals so they are exact (64-bit integers,
// NUL bytes, blobs) and independent of JSON.
class Workload {
  constructor(seed) {
    this.rand = mulberry32(seed);
  }

  int(n) {
    return Math.floor(this.rand() * n);
  }

  chance(p) {
    return this.rand() < p;
  }

  pick(list) {
    return list[this.int(list.length)];
  }

  hex(bytes) {
    let s = '';
    for (let i = 0; i < bytes; ++i) s += this.int(256).toString(16).padStart(2, '0');
    return s.toUpperCase();
  }

  int64() {
    const v = (BigInt(this.int(2 ** 32)) << 32n) | BigInt(this.int(2 ** 32));
    return BigInt.asIntN(64, v).toString();
  }

  integer() {
    switch (this.int(5)) {
      case 0:
        return this.int64();
      case 1:
        return this.pick(['9223372036854775807', '-9223372036854775808', '0', '-1']);
      case 2:
        return '9007199254740993';
      default:
        return String(this.int(1000) - 100);
    }
  }

  real() {
    switch (this.int(8)) {
      case 0:
        return this.pick(['-0.0', '0.1', '1e308', '5e-324', '-1.5', '4.35']);
      case 1:
        return this.pick(['9e999', '-9e999']); // ±Infinity
      default: {
        let s = String((this.rand() - 0.5) * 10 ** (this.int(40) - 20));
        if (!/[.eE]/.test(s)) s += '.0';
        return s;
      }
    }
  }

  // Big values are built by SQL from a short random unit: a Durable Object refuses statements
  // over 100,000 bytes, so literals that long cannot be written.
  repeated(unit, count) {
    return `replace(printf('%.*c', ${count}, 'x'), 'x', '${unit}')`;
  }

  bigText() {
    // 2-40 KB mostly, now and then over D1's 100,000-byte statement limit.
    const size = this.chance(0.25) ? 100000 + this.int(40000) : 2000 + this.int(38000);
    let unit = '';
    for (let i = 0; i < 61; ++i) unit += String.fromCharCode(97 + this.int(26));
    unit += 'é😀';
    return `substr(${this.repeated(unit, Math.ceil(size / 63))}, 1, ${size}) || '${this.int(1000)}'`;
  }

  bigBlob() {
    if (this.chance(0.4)) return `zeroblob(${20000 + this.int(110000)})`;
    return `unhex('${this.hex(1 + this.int(20))}' || ${this.repeated(this.hex(32), 500 + this.int(3500))})`;
  }

  text() {
    switch (this.int(8)) {
      case 0:
        return `'it''s ${this.int(1000)}'`;
      case 1:
        return `'a' || char(0) || 'b${this.int(9)}'`;
      case 2:
        return `'😀 ${this.int(50)} Ünïcødé'`;
      case 3:
        return "''";
      case 4:
        return this.chance(0.3) ? this.bigText() : `'t${this.int(100)}'`;
      default:
        return `'row ${this.int(10000)}'`;
    }
  }

  blob() {
    switch (this.int(5)) {
      case 0:
        return "X''";
      case 1:
        return this.chance(0.3) ? this.bigBlob() : `X'${this.hex(1 + this.int(64))}'`;
      case 2:
        return 'NULL';
      default:
        return `X'${this.hex(this.int(8))}'`;
    }
  }

  // Any storage class, for the columns without a declared affinity worth respecting.
  value() {
    switch (this.int(6)) {
      case 0:
        return 'NULL';
      case 1:
        return this.integer();
      case 2:
        return this.real();
      case 3:
        return this.blob();
      default:
        return this.text();
    }
  }

  nullable(make) {
    return this.chance(0.2) ? 'NULL' : make();
  }

  id() {
    if (this.chance(0.05))
      return this.pick(['-3', '0', '9223372036854775807', '9223372036854775806']);
    return String(1 + this.int(80));
  }

  unique() {
    return this.chance(0.4) ? 'NULL' : `'u${this.int(15)}'`;
  }

  itemRow(id = this.id()) {
    return (
      `(${id}, ${this.nullable(() => this.integer())}, ${this.nullable(() => this.real())}, ` +
      `${this.nullable(() => this.text())}, ${this.blob()}, ${this.unique()})`
    );
  }

  keyA() {
    if (this.chance(0.05)) return `'n' || char(0) || 'ul'`;
    return this.pick(["'k0'", "'k1'", "'k2'", "'k3'", "'it''s'", "'é'", "'😀'", "''"]);
  }

  keyB() {
    return `'b${this.int(8)}'`;
  }

  pairRow(a = this.keyA(), b = this.keyB()) {
    return `(${a}, ${b}, ${this.value()}, ${this.blob()})`;
  }

  itemStatement() {
    const id = this.id();
    const small = 1 + this.int(80);
    switch (this.int(13)) {
      case 0:
      case 1:
        return `INSERT OR REPLACE INTO items(id, n, r, t, b, u) VALUES ${this.itemRow(id)}`;
      case 2:
        return `INSERT INTO items(id, n, r, t, b, u) VALUES ${this.itemRow(id)}
                ON CONFLICT DO UPDATE SET n = excluded.n, t = excluded.t`;
      case 3:
        return `INSERT OR IGNORE INTO items(id, n, r, t, b, u) VALUES ${this.itemRow(id)}`;
      case 4:
        return `UPDATE items SET ${this.pick(['n', 'r', 't', 'b'])} = ${this.value()} WHERE id = ${id}`;
      case 5:
        return `UPDATE items SET t = ${this.nullable(() => this.text())}, r = ${this.real()}
                WHERE id BETWEEN ${small} AND ${small + this.int(10)}`;
      case 6:
        return `DELETE FROM items WHERE id = ${id}`;
      case 7:
        return `DELETE FROM items WHERE id BETWEEN ${small} AND ${small + this.int(4)}`;
      case 8:
      case 9:
        // Key change, evicting whatever holds the new key.
        return `UPDATE OR REPLACE items SET id = ${this.id()} WHERE id = ${id}`;
      case 10:
        // Several keys shift at once; collisions are skipped row by row.
        return `UPDATE OR IGNORE items SET id = id + ${1 + this.int(100)}
                WHERE id BETWEEN ${small} AND ${small + this.int(6)}`;
      case 11:
        // OR REPLACE through the UNIQUE column: the row holding that u is removed.
        return `UPDATE OR REPLACE items SET u = 'u${this.int(15)}' WHERE id = ${id}`;
      default:
        return `INSERT OR REPLACE INTO items(id, n, r, t, b, u) VALUES ${this.itemRow()}, ${this.itemRow()}`;
    }
  }

  pairStatement() {
    const a = this.keyA();
    const b = this.keyB();
    switch (this.int(10)) {
      case 0:
      case 1:
        return `INSERT OR REPLACE INTO pairs(a, b, v, w) VALUES ${this.pairRow(a, b)}`;
      case 2:
        return `UPDATE pairs SET v = ${this.value()} WHERE a = ${a} AND b = ${b}`;
      case 3:
        return `UPDATE pairs SET w = ${this.blob()}, v = ${this.value()} WHERE a = ${a}`;
      case 4:
        return `DELETE FROM pairs WHERE a = ${a} AND b = ${b}`;
      case 5:
        return `DELETE FROM pairs WHERE b = ${b}`;
      case 6:
        return `UPDATE OR REPLACE pairs SET a = ${this.keyA()} WHERE a = ${a} AND b = ${b}`;
      case 7:
        return `UPDATE OR IGNORE pairs SET b = ${this.keyB()} WHERE b = ${b}`;
      case 8:
        return `UPDATE OR REPLACE pairs SET a = ${this.keyA()} WHERE a = ${a}`;
      default:
        return `INSERT OR IGNORE INTO pairs(a, b, v, w) VALUES ${this.pairRow()}, ${this.pairRow()}`;
    }
  }

  statements(count) {
    return Array.from({ length: count }, () =>
      this.chance(0.55) ? this.itemStatement() : this.pairStatement(),
    );
  }
}

// Odd seeds make pairs a WITHOUT ROWID table, even seeds a rowid table keyed by (a, b).
function schema(seed) {
  const withoutRowid = seed % 2 === 1;
  return {
    withoutRowid,
    statements: [
      'CREATE TABLE items(id INTEGER PRIMARY KEY, n INTEGER, r REAL, t TEXT, b BLOB, u TEXT UNIQUE)',
      `CREATE TABLE pairs(a TEXT NOT NULL, b TEXT NOT NULL, v, w BLOB, PRIMARY KEY(a, b))` +
        (withoutRowid ? ' WITHOUT ROWID' : ''),
    ],
  };
}

// Seed rows written before the replicator exists: they travel through the initial copy.
function seedRows(w) {
  const items = [];
  for (let id = 1; id <= 45; ++id) items.push(w.itemRow(String(id)));
  const pairs = [];
  for (const a of ["'k0'", "'k1'", "'k2'", "'it''s'"]) {
    for (let b = 0; b < 8; ++b) pairs.push(w.pairRow(a, `'b${b}'`));
  }
  return [
    // u is UNIQUE: OR REPLACE lets later rows evict earlier ones, as in the rounds.
    `INSERT OR REPLACE INTO items(id, n, r, t, b, u) VALUES ${items.join(', ')}`,
    `INSERT OR REPLACE INTO pairs(a, b, v, w) VALUES ${pairs.join(', ')}`,
  ];
}

// A flush answer is fine when it succeeded or D1 failed transiently (the fixture's answer is
// ok: false when the replicator's start() itself gave up on D1). Anything else is a failure.
function checkFlush(res, where) {
  if (!res.ok) {
    assert.equal(res.error?.code, 'D1_TRANSIENT', `${where}: ${JSON.stringify(res.error)}`);
    return null;
  }
  if (!res.flushed) {
    assert.equal(res.error.code, 'D1_TRANSIENT', `${where}: ${JSON.stringify(res.error)}`);
    assert.ok(
      TRANSIENT.some((m) => (res.error.d1Message ?? res.error.message).includes(m)),
      `${where}: ${JSON.stringify(res.error)}`,
    );
  }
  assert.notEqual(res.health.state, 'error', `${where}: ${JSON.stringify(res.health)}`);
  assert.equal(res.health.quarantined, 0, `${where}: transient faults quarantine nothing`);
  return res.health;
}

// `pipelined`: the application also writes while batches are in flight, before and after the
// replicator reads the next page ahead. `lookAhead`: the replicator's option.
async function runSeed(seed, trace, { pipelined = false, lookAhead } = {}) {
  const w = new Workload(seed);
  const tmp = tempDir(`d1sync-restart-${seed}-`);
  const name = `restart-streaming-${seed}`;
  let mf;
  const restart = async () => {
    await mf.dispose();
    mf = undefined;
    mf = await startMiniflare({ persistDir: tmp.dir });
    return room(mf, name);
  };
  try {
    mf = await startMiniflare({ persistDir: tmp.dir });
    let r = room(mf, name);
    const { statements, withoutRowid } = schema(seed);
    trace.push(`seed ${seed}: pairs ${withoutRowid ? 'WITHOUT ROWID' : 'rowid table'}`);
    await r.exec(...statements, ...seedRows(w));
    await r.configure({
      sourceId: name,
      limits: LIMITS,
      flushRetryMs: FLUSH_RETRY_MS,
      lookAhead,
      start: false,
    });

    const restarts = { copy: 0, streaming: 0, idle: 0, other: 0 };
    let aheadUsed = 0; // the most batches one replicator sent as read ahead
    let aheadPrepared = 0;
    let aheadSent = 0; // the most sent before the answer to the one before (lookAhead 2)
    let faultsInjected = 0;
    for (let round = 0; round < ROUNDS; ++round) {
      const line = [`round ${round}:`];
      const writes = w.statements(round === 0 ? 1 + w.int(4) : 5 + w.int(25));
      if (w.chance(0.3)) await r.execTx(...writes);
      else await r.exec(...writes);
      line.push(`${writes.length} writes`);

      // No fault in round 0: its restart must land in the middle of the initial copy.
      if (round > 0 && w.chance(0.45)) {
        const count = 1 + w.int(2);
        const message = w.pick(TRANSIENT);
        await r.fault(count, message);
        faultsInjected += count;
        line.push(`fault ${count}x '${message}'`);
      }
      if (pipelined) {
        const groups = [];
        for (let g = 1 + w.int(4); g > 0; --g)
          groups.push({ statements: w.statements(1 + w.int(4)), after: w.chance(0.5) });
        await r.call('inFlight', { groups });
        line.push(`${groups.length} groups of writes in flight`);
      }
      // Small bounded flushes while the copy runs, larger ones once it is likely done.
      const maxBatches = round < 3 ? 1 + w.int(2) : 2 + w.int(7);
      const res = await r.call('flush', { maxBatches });
      const health = checkFlush(res, `seed ${seed} round ${round}`);
      if (health) {
        aheadUsed = Math.max(aheadUsed, health.lookAhead.used);
        aheadPrepared = Math.max(aheadPrepared, health.lookAhead.prepared);
        aheadSent = Math.max(aheadSent, health.lookAhead.sentBeforeAnswer);
      }
      line.push(
        `flush(${maxBatches}) -> ${!res.ok ? 'start failed' : res.flushed ? 'ok' : res.error.code}` +
          (health
            ? ` [${health.state}, copy ${health.initialSync.done ? 'done' : 'running'}, ` +
              `pending ${health.pendingChanges}]`
            : ''),
      );

      // Writes captured after the flush, not sent before a restart.
      let unsent = false;
      if (w.chance(0.4)) {
        unsent = true;
        const more = w.statements(1 + w.int(10));
        await r.exec(...more);
        line.push(`+${more.length} writes`);
      }

      const restartNow = round === 0 || round === ROUNDS - 1 || w.chance(0.45);
      if (restartNow) {
        // 'other': the restarted replicator's start() gave up on D1 before this restart.
        let kind = 'other';
        if (health && !health.initialSync.done) kind = 'copy';
        else if (health && (health.pendingChanges > 0 || unsent)) kind = 'streaming';
        else if (health) kind = 'idle';
        if (round === 0) {
          assert.equal(kind, 'copy', `seed ${seed}: the first restart interrupts the initial copy`);
          assert.equal(health.state, 'initial_sync');
          const partial = await dumpD1(mf, ITEMS);
          assert.ok(
            partial.length < 45,
            `seed ${seed}: D1 holds part of items (${partial.length})`,
          );
        }
        ++restarts[kind];
        // D1's content must survive the restart untouched.
        const before = await dumpD1(mf, PAIRS);
        r = await restart();
        assert.deepEqual(
          await dumpD1(mf, PAIRS),
          before,
          `seed ${seed} round ${round}: D1 persisted`,
        );
        line.push(`RESTART (${kind})`);
        // Sometimes D1 fails right away, while the restarted replicator starts.
        if (w.chance(0.25)) {
          const count = 1 + w.int(2);
          await r.fault(count, w.pick(TRANSIENT));
          faultsInjected += count;
          line.push(`fault ${count}x after restart`);
        }
      }
      trace.push(line.join(' '));
    }

    // Faults off, then flush to completion the way the alarm would (waiting out the backoff).
    await r.fault(0);
    let drained;
    for (let attempt = 0; attempt < 5 && !drained?.ok; ++attempt) {
      // The replicator's start() can itself give up on a transient failure left over.
      drained = await r.call('drain', { maxAttempts: 30 });
    }
    assert.equal(drained.ok, true, JSON.stringify(drained.error));
    assert.equal(drained.flushed, true, JSON.stringify(drained.errors));
    assert.ok(
      drained.errors.every((e) => e.code === 'D1_TRANSIENT'),
      JSON.stringify(drained.errors),
    );
    trace.push(
      `drained in ${drained.attempts} attempt(s); restarts ${JSON.stringify(restarts)}, ` +
        `faults ${faultsInjected}`,
    );
    // Pages were read ahead and sent as read (or, with lookAhead 0, never read ahead).
    if (lookAhead === 0) assert.equal(aheadPrepared, 0, `seed ${seed}`);
    else assert.ok(aheadUsed > 0, `seed ${seed}: no batch was sent as read ahead`);
    // With lookAhead 2 (the default) some went before the answer to the batch before them.
    if (lookAhead === undefined) assert.ok(aheadSent > 0, `seed ${seed}: none sent ahead`);
    else assert.equal(aheadSent, 0, `seed ${seed}`);
    // The schedule did what it claims: restarts in the middle of the copy and of streaming.
    assert.ok(restarts.copy >= 1, `seed ${seed}: restarts ${JSON.stringify(restarts)}`);
    assert.ok(restarts.streaming >= 1, `seed ${seed}: restarts ${JSON.stringify(restarts)}`);

    const checkConverged = async (label) => {
      const health = await r.health();
      assert.equal(health.initialSync.done, true, `${label}: ${JSON.stringify(health)}`);
      assert.equal(health.pendingChanges, 0, `${label}: ${JSON.stringify(health)}`);
      assert.equal(health.appliedSeq, health.capturedSeq, `${label}: ${JSON.stringify(health)}`);
      assert.equal(health.quarantined, 0, label);
      assert.equal(health.state, 'idle', label);
      const items = await assertReplicated(mf, r, ITEMS);
      const pairs = await assertReplicated(mf, r, PAIRS);
      assert.ok(items.length > 0 && pairs.length > 0, `${label}: the comparison is not vacuous`);
      // Keys are unique in D1 too (the replica drops UNIQUE but must not double a row).
      const db = await mf.getD1Database('DB');
      const dupItems = await db
        .prepare('SELECT count(*) AS n, count(DISTINCT id) AS d FROM items')
        .first();
      assert.equal(dupItems.n, dupItems.d, `${label}: doubled items`);
      const dupPairs = await db
        .prepare(
          `SELECT count(*) AS n FROM (SELECT a, b FROM pairs GROUP BY a, b HAVING count(*) > 1)`,
        )
        .first();
      assert.equal(dupPairs.n, 0, `${label}: doubled pairs`);
      const src = await db
        .prepare('SELECT applied_seq FROM _d1sync_sources WHERE source_id = ?')
        .bind(name)
        .first();
      assert.equal(src.applied_seq, health.appliedSeq, `${label}: D1's watermark`);
      return { items: items.length, pairs: pairs.length };
    };
    const counts = await checkConverged(`seed ${seed} after the rounds`);
    const [[[biggest]]] = await r.exec(
      'SELECT max(max(coalesce(length(CAST(t AS BLOB)), 0), coalesce(length(b), 0))) FROM items',
    );
    trace.push(
      `converged: items ${counts.items}, pairs ${counts.pairs}, largest value ${biggest} bytes`,
    );

    // One more restart over the converged state: nothing pending, and streaming still works.
    r = await restart();
    await checkConverged(`seed ${seed} after a final restart`);
    await r.exec(...w.statements(10));
    const last = await r.flush();
    assert.equal(last.flushed, true, JSON.stringify(last.error));
    await checkConverged(`seed ${seed} after streaming past the final restart`);
  } finally {
    await mf?.dispose();
    tmp.remove();
  }
}

const VARIANTS = [
  { label: '', options: {} },
  // Writes land while batches are in flight, before and after the next page is read ahead.
  { label: ', writes while batches are in flight', options: { pipelined: true } },
  { label: ', writes in flight, lookAhead 1', options: { pipelined: true, lookAhead: 1 } },
  { label: ', writes in flight, lookAhead 0', options: { pipelined: true, lookAhead: 0 } },
];
for (const seed of SEEDS) {
  for (const { label, options } of VARIANTS) {
    test(`seed ${seed}${label}: random writes, transient D1 faults and restarts in the copy and in streaming converge`, async (t) => {
      const trace = [];
      try {
        await runSeed(seed, trace, options);
      } catch (e) {
        e.message += `\n${trace.join('\n')}`;
        throw e;
      } finally {
        t.diagnostic(trace.join(' | '));
      }
    });
  }
}
