// The `log` option: one JSON event per line (batch, retry, fenced, quarantined, schema change
// followed, initial-sync progress by tenths), through console by default, and never a row's
// value or key in any of them, whatever D1 says in its errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startD1,
  openLocal,
  run,
  replicator,
  d1BindingTarget,
  seq,
  D1SyncError,
  expectSame,
  d1Value,
  localValue,
} from './helpers.mjs';

let env;
before(async () => {
  env = await startD1(8);
});
after(() => env.mf.dispose());

// Values that must never reach a log line: a text, a key, a number, a blob's hex.
const SECRET_TEXT = 'alice.secret@example.org';
const SECRET_KEY = 'key-of-bob-7f3a';
const SECRET_NUMBER = '8675309123457';
const SECRET_HEX = 'C0FFEE15DEADBEEF';
const SECRETS = [SECRET_TEXT, SECRET_KEY, SECRET_NUMBER, SECRET_HEX];

function assertNoValues(lines) {
  for (const line of lines) {
    for (const s of SECRETS) {
      assert.ok(
        !line.toUpperCase().includes(s.toUpperCase()),
        `a row value in a log line: ${line}`,
      );
    }
  }
}

// A D1 target whose first `failures` batches fail with a message quoting a row, as D1's own
// errors can (a statement fragment near a syntax error, a value in a constraint message).
function quotingFailures(d1, failures) {
  const inner = d1BindingTarget(d1);
  let left = failures;
  return {
    ...inner,
    batch(statements) {
      if (left-- > 0) {
        return Promise.reject(
          new Error(`D1_ERROR: Network connection lost near '${SECRET_TEXT}' (${SECRET_NUMBER})`),
        );
      }
      return inner.batch(statements);
    },
  };
}

function people(db, from, to, extra = '') {
  run(
    db,
    `${seq(from, to)} INSERT INTO people SELECT
        CASE WHEN i = 1 THEN '${SECRET_KEY}' ELSE 'k' || i END,
        '${SECRET_TEXT}', ${SECRET_NUMBER}, x'${SECRET_HEX}'${extra} FROM n;`,
  );
}

test('every event is one JSON line with a level and a name, and none carries a row value', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, 'CREATE TABLE people(email TEXT PRIMARY KEY, name TEXT, phone INTEGER, photo BLOB)');
  people(db, 1, 2000);
  run(db, `INSERT INTO people VALUES ('huge', '${SECRET_TEXT}', 1, randomblob(2000001))`);
  const events = [];
  const lines = [];
  const r = await replicator(db, quotingFailures(d1, 2), {
    limits: { copyPageRows: 150 },
    log: (e) => {
      events.push(e);
      lines.push(JSON.stringify(e));
    },
  });
  await r.start();
  await r.flush();
  // A schema change followed, then changes streamed.
  run(db, 'ALTER TABLE people ADD COLUMN city TEXT');
  people(db, 3000, 3100, ', NULL');
  run(db, `UPDATE people SET city = '${SECRET_TEXT}' WHERE email = '${SECRET_KEY}'`);
  await r.flush();
  // Everything but the quarantined row is in D1, the ALTER's column included.
  assert.equal(await d1Value(d1, 'SELECT count(*) FROM people'), 2000 + 101);
  assert.equal(
    await d1Value(d1, `SELECT city FROM people WHERE email = '${SECRET_KEY}'`),
    SECRET_TEXT,
  );

  for (const e of events) {
    assert.ok(['warn', 'info', 'debug'].includes(e.level), JSON.stringify(e));
    assert.equal(typeof e.event, 'string');
    assert.equal(e.sourceId, 'src-1');
  }
  const named = (name) => events.filter((e) => e.event === name);

  const retries = named('retry');
  assert.equal(retries.length, 2, JSON.stringify(retries));
  for (const e of retries) {
    assert.equal(e.level, 'warn');
    assert.equal(e.code, 'D1_TRANSIENT');
    assert.ok(Number.isInteger(e.delayMs) && e.delayMs > 0, JSON.stringify(e));
  }
  assert.deepEqual(
    retries.map((e) => e.attempt),
    [1, 2],
  );

  const quarantined = named('quarantined');
  assert.equal(quarantined.length, 1, JSON.stringify(quarantined));
  assert.deepEqual(
    { table: quarantined[0].table, code: quarantined[0].code },
    { table: 'people', code: 'D1_LIMIT' },
  );
  // The key (here the rowid) is in the quarantine, not in the log.
  assert.equal(
    r.quarantined()[0].key,
    String(localValue(db, "SELECT rowid FROM people WHERE email = 'huge'")),
  );

  const batches = named('batch');
  assert.ok(batches.length >= 10, `${batches.length} batch events`);
  assert.equal(
    batches.reduce((n, e) => n + e.rows, 0),
    r.health().rowsReplicated,
  );
  for (const e of batches) {
    assert.ok(['schema', 'copy', 'changes'].includes(e.kind), JSON.stringify(e));
    assert.ok(e.statements > 0 && e.bytes > 0 && e.ms >= 0, JSON.stringify(e));
    // `debug` (a function gets every level) adds each statement's size.
    assert.equal(e.statementBytes.length, e.statements);
    assert.equal(
      e.statementBytes.reduce((a, b) => a + b, 0),
      e.bytes,
    );
  }
  assert.ok(batches.some((e) => e.kind === 'changes' && e.rows >= 101));

  const progress = named('progress').filter((e) => e.table === 'people');
  const percents = progress.map((e) => e.percent);
  assert.equal(percents.at(-1), 100, JSON.stringify(progress));
  assert.ok(percents.length >= 8, `progress each tenth: ${percents}`);
  for (let i = 1; i < percents.length; i++) assert.ok(percents[i] > percents[i - 1], `${percents}`);
  assert.equal(progress.at(-1).copied, progress.at(-1).total);

  const schema = named('schema');
  assert.ok(
    schema.some((e) => e.tables.includes('people')),
    `the initial schema and the ALTER: ${JSON.stringify(schema)}`,
  );
  assert.ok(schema.length >= 2, JSON.stringify(schema));
  assert.equal(named('claimed').length, 1);

  assertNoValues(lines);
  // The values really were there to leak: D1's errors quoted them, and D1 holds them.
  assert.match(r.health().lastError ?? '', /./);
  r.close();
});

test('a second database with the same sourceId logs "fenced" with the reason', async () => {
  const d1 = await env.fresh();
  const first = await openLocal();
  run(first, 'CREATE TABLE people(email TEXT PRIMARY KEY, name TEXT, phone INTEGER, photo BLOB)');
  people(first, 1, 10);
  const a = await replicator(first, d1, { log: false });
  await a.start();
  await a.flush();
  const second = await openLocal();
  run(second, 'CREATE TABLE people(email TEXT PRIMARY KEY, name TEXT, phone INTEGER, photo BLOB)');
  people(second, 1, 10);
  const events = [];
  const b = await replicator(second, d1, { log: (e) => events.push(e) });
  await assert.rejects(b.start(), (e) => e instanceof D1SyncError && e.code === 'FENCED');
  const fenced = events.filter((e) => e.event === 'fenced');
  assert.equal(fenced.length, 1, JSON.stringify(events));
  assert.equal(fenced[0].level, 'warn');
  assert.equal(fenced[0].code, 'FENCED');
  assert.match(fenced[0].message, /owned by another database/);
  assertNoValues(events.map((e) => JSON.stringify(e)));
  a.close();
  b.close();
});

// console.warn / console.info replaced for the duration of `work`; what each received.
async function captureConsole(work) {
  const seen = { warn: [], info: [], other: [] };
  const saved = { warn: console.warn, info: console.info, log: console.log, debug: console.debug };
  console.warn = (...a) => seen.warn.push(a.join(' '));
  console.info = (...a) => seen.info.push(a.join(' '));
  console.log = console.debug = (...a) => seen.other.push(a.join(' '));
  try {
    await work();
  } finally {
    Object.assign(console, saved);
  }
  return seen;
}

async function consoleRun(log) {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, 'CREATE TABLE people(email TEXT PRIMARY KEY, name TEXT, phone INTEGER, photo BLOB)');
  people(db, 1, 300);
  const r = await replicator(db, quotingFailures(d1, 1), log === undefined ? {} : { log });
  const seen = await captureConsole(async () => {
    await r.start();
    await r.flush();
  });
  r.close();
  return seen;
}

test('by default warnings go to console.warn as JSON lines; info and debug are opt-in', async () => {
  const byDefault = await consoleRun(undefined);
  assert.equal(byDefault.warn.length, 1, JSON.stringify(byDefault));
  assert.equal(JSON.parse(byDefault.warn[0]).event, 'retry');
  assert.deepEqual(byDefault.info, []);
  assert.deepEqual(byDefault.other, []);

  const info = await consoleRun('info');
  const infoEvents = info.info.map((l) => JSON.parse(l));
  assert.ok(infoEvents.some((e) => e.event === 'batch'));
  assert.ok(infoEvents.every((e) => e.level === 'info' && !('statementBytes' in e)));
  assert.equal(info.warn.length, 1);

  const debug = await consoleRun('debug');
  const debugBatch = debug.info.map((l) => JSON.parse(l)).find((e) => e.event === 'batch');
  assert.ok(Array.isArray(debugBatch.statementBytes), JSON.stringify(debugBatch));

  const off = await consoleRun(false);
  assert.deepEqual(off, { warn: [], info: [], other: [] });
  for (const seen of [byDefault, info, debug]) assertNoValues([...seen.warn, ...seen.info]);
});

test('a bad log option is a CONFIG error naming it; a log function that throws stops nothing', async () => {
  const d1 = await env.fresh();
  const db = await openLocal();
  run(db, 'CREATE TABLE people(email TEXT PRIMARY KEY, name TEXT, phone INTEGER, photo BLOB)');
  for (const log of ['verbose', true, 3, null, {}]) {
    await assert.rejects(
      replicator(db, d1, { log }),
      (e) => e instanceof D1SyncError && e.code === 'CONFIG' && /^log must be/.test(e.message),
      String(log),
    );
  }
  people(db, 1, 50);
  let calls = 0;
  const r = await replicator(db, d1, {
    log: () => {
      calls++;
      throw new Error('a broken log sink');
    },
  });
  const seen = await captureConsole(async () => {
    await r.start();
    await r.flush();
  });
  assert.ok(calls > 0);
  assert.equal(seen.other.length + seen.warn.length + seen.info.length, 0);
  await expectSame(assert, db, d1, 'people');
  r.close();
});
