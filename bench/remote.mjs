// The bench's out-of-process section: D1 in a second workerd, as production has it on another
// machine. In `npm run bench`'s other sections the Durable Object and local D1 share one workerd
// thread, so D1's work and the DO's add up; here D1 is bench/d1-server.js in a Miniflare of its
// own, and every contender reaches it through the same binding-shaped proxy
// (bench/remote-d1.js) over a local socket, each round trip held `delayMs` by the D1 process
// (half on the way there, half on the way back). Per delay (0, 10 and 40 ms), at least three
// rounds, interleaved: a round runs every contender once, in a rotated order, before the next
// begins. Contenders:
//   d1sync initial sync (DO → D1): a fresh Durable Object seeded per round, the D1 table dropped
//     first, a fresh sourceId; start() and flush() timed apart; D1's billing (rows written per
//     row, rows read per batch) from health()'s d1RowsWritten / d1RowsRead
//   d1sync initial sync, look-ahead 1 and 0 (when createReplicator() accepts `lookAhead`), and
//     with pages of 12 MB and of 2 MB (the default is 4 MB)
//   d1sync incremental: a fresh DO seeded and synced (not timed), N changes in it (not timed),
//     flush() timed; D1 rows written per distinct changed row, fence rows included
//   d1sync initial sync from @sqlite.org/sqlite-wasm in Node through the same proxy
//   (a) one row per bound statement, (b) ORM-style, (c1)/(c2) the pre-built limit
// The fence's share of D1's row counts comes from bench/forms.js timed()'s meter (the
// statements on `_d1sync_` tables); D1's busy time and the characters sent, from the D1 process.
// Run by bench/run.mjs after its other sections, or alone (often, while tuning the pipeline):
//   node bench/run.mjs --remote-only [--quick | --full] [--rounds N] [--delays 0,10,40]
//                      [--remote-rows 100000,1000000] [--contenders id,id,...]
// which writes bench/results-remote.json and bench/results-remote.md. A command, not a test.
// On 2 cores: ~4 minutes for 100k rows × 3 delays × 3 rounds, most of it (a) (100 round trips
// per run); --full adds 1M rows, ~3 minutes per round and delay at 0 ms (1,000 round trips of
// (a): +40 s per run at 40 ms). The short loop for the pipeline: `--delays 40 --contenders
// d1sync-initial,d1sync-initial-lookahead0,d1sync-incremental` (ids as in results; the (c) pair,
// the limit, always runs).
// node bench/remote-check.mjs checks the plumbing: the delay, the proxy against the binding,
// a DO computing while its batch is in flight.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Miniflare } from 'miniflare';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { createReplicator, sqliteWasmSource, d1BindingTarget } from '../js/entry-node.js';
import { COLUMNS, TABLE_DDL, SEED_SQL, timed } from './forms.js';
import { remoteD1 } from './remote-d1.js';
import { startMiniflare, benchClient } from './workerd.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const COMPATIBILITY_DATE = '2026-04-26';
export const REMOTE_DELAYS = [0, 10, 40];
export const REMOTE_ROUNDS = 3;
const HOT_KEYS = 100;
const SMALL_PAGE_CHANGES = 5000;
const PING_ROUND_TRIPS = 50;

const defaultLog = (...args) => console.error('[bench remote]', ...args);

// The D1 process: a Miniflare of its own (its own workerd) serving bench/d1-server.js.
export async function startD1Server({ delayMs = 0 } = {}) {
  const mf = new Miniflare({
    modules: true,
    modulesRoot: here, // module names relative to bench/, whatever the working directory
    scriptPath: path.join(here, 'd1-server.js'),
    compatibilityDate: COMPATIBILITY_DATE,
    d1Databases: ['DB'],
    bindings: { DELAY_MS: delayMs },
  });
  const url = await mf.ready;
  return { mf, url: url.href, address: `${url.hostname}:${url.port}` };
}

// The bench Worker (bench/worker.js) with D1_REMOTE, a service binding to the D1 process's
// socket: workerd connects to it directly, with no Node in between. Its own env.DB stays (the
// Worker's sync endpoint uses it) but no contender touches it.
export function startBenchWorker({ d1Address }) {
  return startMiniflare({
    serviceBindings: { D1_REMOTE: { external: { address: d1Address, http: {} } } },
  });
}

function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const perSec = (rows, ms) => rows / (ms / 1000);

// What the D1 process did since the last call (bench/d1-server.js): requests, time inside its
// env.DB calls, characters in and out.
async function takeD1Stats(d1Url) {
  const res = await fetch(d1Url, { method: 'POST', body: '{"stats":"take"}' });
  return res.json();
}

// The fence's share of D1's row counts, over the batches timed()'s meter kept (bench/forms.js):
// per batch on average, in the first and the last batch, and the most in one batch.
function fenceFigures(batches = []) {
  if (!batches.length) return {};
  const reads = batches.map((b) => b.fenceRead);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  return {
    fenceReadsPerBatch: sum(reads) / batches.length,
    fenceReadsFirst: reads[0],
    fenceReadsLast: reads[reads.length - 1],
    fenceReadsMax: Math.max(...reads),
    fenceWritesPerBatch: sum(batches.map((b) => b.fenceWritten)) / batches.length,
    meteredBatches: batches.length,
  };
}
const ratio = (x, y) => (x !== undefined && y ? x / y : null);

// The D1 process's share of a timed run: its busy time and the characters that crossed.
function d1Side(d1, rows) {
  return {
    d1BusyMs: d1.appliedMs,
    d1Requests: d1.requests,
    charsInPerRow: d1.charsIn / rows,
    charsOutPerRow: d1.charsOut / rows,
  };
}

// Where D1's process was while a flush() ran, from the wall-clock spans of its env.DB calls
// (bench/d1-server.js) and the flush's own start and end (both processes read this machine's
// clock): inside a call (the union of the spans: a batch sent ahead waits inside D1 for the one
// before it), or with none open, split into before the first call (the first page read,
// rendered and sent), between calls (a request received and parsed, or the DO not ready with
// the next) and after the last (its answer back to the DO and taken in).
function d1Timeline(spans = [], from, to) {
  const s = spans.filter(([a]) => a >= from && a <= to).sort((x, y) => x[0] - y[0]);
  if (!s.length || !Number.isFinite(from) || !Number.isFinite(to)) return {};
  let inside = 0;
  let between = 0;
  let [start, end] = s[0];
  for (const [a, b] of s.slice(1)) {
    if (a > end) {
      inside += end - start;
      between += a - end;
      [start, end] = [a, b];
    } else {
      end = Math.max(end, b);
    }
  }
  inside += end - start;
  return {
    d1InsideMs: inside,
    d1BeforeMs: s[0][0] - from,
    d1BetweenMs: between,
    d1AfterMs: Math.max(0, to - end),
  };
}

// ---- one run of each contender; each returns { ms, rows, rowsPerSec, ... } ----

// The limits of the large-pages contender: a page of rows, its batch and the statements.
const LARGE_PAGES = { pageBytes: 12000000, copyPageRows: 60000, batchBytes: 13000000 };
const SMALL_PAGES = { pageBytes: 2000000 };

// d1sync initial sync in a fresh DO: D1's table dropped, rows seeded, start() + flush().
async function initialSync({ mf, d1Url, name, rows, sourceId, options }) {
  const call = benchClient(mf, name);
  await call('dropTable', { table: 'items' });
  await call('seed', { rows });
  await takeD1Stats(d1Url);
  const started = await call('syncStart', { sourceId, options });
  const flushed = await call('syncFlush', { sourceId });
  const d1 = await takeD1Stats(d1Url);
  const d1Rows = (await call('count', { table: 'items' })).n;
  await call('wipe');
  await call('dropTable', { table: 'items' });
  const h0 = started.health;
  const h = flushed.health;
  const ms = started.ms + flushed.ms;
  const stats = {
    txnMs: started.stats.txnMs + flushed.stats.txnMs,
    execMs: started.stats.execMs + flushed.stats.execMs,
    batchMs: started.stats.batchMs + flushed.stats.batchMs,
  };
  return {
    ...initialFigures({
      rows,
      ms,
      startMs: started.ms,
      d1Rows,
      busy: d1,
      roundTrips: started.stats.batches + flushed.stats.batches, // target.batch() calls
      h0,
      h,
      stats,
    }),
    flushRowsReadPerBatch:
      (h.d1RowsRead - h0.d1RowsRead) / Math.max(1, h.batchesSent - h0.batchesSent),
    ...fenceFigures(flushed.metered), // flush()'s batches: the copy
    ...d1Timeline(d1.spans, flushed.wallStart, flushed.wallEnd),
  };
}

// What an initial sync's run reports, from its times, D1's side and the replicator's health
// before (after start()) and after the flush.
function initialFigures({ rows, ms, startMs, d1Rows, busy, roundTrips, h0, h, stats }) {
  return {
    ms,
    rows,
    rowsPerSec: perSec(rows, ms),
    d1Rows,
    ok: d1Rows === rows,
    ...d1Side(busy, rows),
    startMs,
    flushMs: ms - startMs,
    flushRowsPerSec: perSec(rows, ms - startMs),
    roundTrips,
    batchCalls: h.batchesSent,
    startRoundTrips: h0.totalSyncs, // the claim's included
    statements: h.statementsSent,
    engineMs: stats.txnMs - stats.execMs,
    localSqlMs: stats.execMs,
    targetBatchMs: stats.batchMs,
    d1RowsWritten: h.d1RowsWritten,
    d1RowsRead: h.d1RowsRead,
    rowsWrittenPerRow: h.d1RowsWritten / rows,
    rowsReadPerBatch: h.d1RowsRead / h.batchesSent,
  };
}

// d1sync incremental: a fresh DO seeded and synced (not timed), N changes, flush() timed.
async function incremental({ mf, d1Url, name, rows, sourceId, changesN, options }) {
  const call = benchClient(mf, name);
  await call('dropTable', { table: 'items' });
  await call('seed', { rows });
  await call('syncStart', { sourceId, options });
  await call('syncFlush', { sourceId });
  await call('incLimitCopy', { table: 'items_inc' });
  const ch = await call('changes', { n: changesN, hotKeys: HOT_KEYS, rows, sourceId });
  await takeD1Stats(d1Url);
  const inc = await call('syncFlush', { sourceId });
  const d1 = await takeD1Stats(d1Url);
  const d1Rows = (await call('count', { table: 'items' })).n;
  // The same changes, coalesced and pre-built, into D1's copy of the table from before them.
  const limit = await call('incLimit', { table: 'items_inc' });
  if (limit.rows !== d1Rows)
    throw new Error(`the incremental limit left ${limit.rows} rows, d1sync ${d1Rows}`);
  await call('wipe');
  await call('dropTable', { table: 'items' });
  const h0 = inc.health0;
  const h = inc.health;
  const batches = h.batchesSent - h0.batchesSent;
  const written = h.d1RowsWritten - h0.d1RowsWritten;
  const read = h.d1RowsRead - h0.d1RowsRead;
  return {
    ms: inc.ms,
    rows: changesN,
    rowsPerSec: perSec(changesN, inc.ms), // changes per second, as in the in-process section
    distinct: ch.distinct,
    distinctRowsPerSec: perSec(ch.distinct, inc.ms),
    changeMix: ch.counts,
    d1Rows,
    ok: d1Rows === ch.localRows && h.pendingChanges === 0,
    ...d1Side(d1, changesN),
    roundTrips: inc.stats.batches,
    batchCalls: batches,
    lookAheadUsed: h.lookAhead.used - h0.lookAhead.used,
    statements: h.statementsSent - h0.statementsSent,
    rowsReplicated: h.rowsReplicated - h0.rowsReplicated,
    outboxRowsBeforeFlush: inc.outboxRows,
    engineMs: inc.stats.txnMs - inc.stats.execMs,
    localSqlMs: inc.stats.execMs,
    targetBatchMs: inc.stats.batchMs,
    d1RowsWritten: written,
    d1RowsRead: read,
    rowsWrittenPerDistinct: written / ch.distinct,
    rowsReadPerBatch: read / Math.max(1, batches),
    ...fenceFigures(inc.metered),
    incLimitMs: limit.ms,
    incLimitRowsPerSec: perSec(changesN, limit.ms), // the same changes per second, pre-built
    incLimitBatchCalls: limit.batchCalls,
  };
}

// d1sync initial sync from @sqlite.org/sqlite-wasm in Node, through the same proxy (Node's
// fetch to the D1 process).
async function sqliteWasmInitial({ sqlite3, d1Url, rows, sourceId }) {
  const d1 = remoteD1(fetch, d1Url);
  await d1.batch([d1.prepare('DROP TABLE IF EXISTS items')]);
  const db = new sqlite3.oo1.DB(':memory:');
  try {
    db.exec(TABLE_DDL('items'));
    db.exec(SEED_SQL('items', rows));
    await takeD1Stats(d1Url);
    const { stats, meter, source, target } = timed(sqliteWasmSource(db), d1BindingTarget(d1), {
      meter: true,
    });
    const t = performance.now();
    const r = await createReplicator({ source, target, sourceId });
    await r.start();
    const startMs = performance.now() - t;
    const h0 = r.health();
    const flushFrom = meter.batches.length;
    await r.flush();
    const ms = performance.now() - t;
    const h = r.health();
    const busy = await takeD1Stats(d1Url);
    r.close();
    const d1Rows = (await d1.prepare('SELECT count(*) AS n FROM items').first()).n;
    await d1.batch([d1.prepare('DROP TABLE IF EXISTS items')]);
    return {
      ...initialFigures({
        rows,
        ms,
        startMs,
        d1Rows,
        busy,
        roundTrips: stats.batches,
        h0,
        h,
        stats,
      }),
      ...fenceFigures(meter.batches.slice(flushFrom)),
    };
  } finally {
    db.close();
  }
}

// A baseline from the seeded base DO: its D1 table recreated (and, for (c), the batches built)
// before the clock, applied, counted, dropped.
async function baseline({ mf, d1Url, kind, rows }) {
  const call = benchClient(mf, 'remote-base');
  const table = `items_${kind}`;
  const prep = await call('prepare', { kind, rows });
  await takeD1Stats(d1Url);
  const run = await call('run', { kind });
  const d1 = await takeD1Stats(d1Url);
  const d1Rows = (await call('count', { table })).n;
  await call('dropTable', { table });
  return {
    ms: run.ms,
    rows,
    rowsPerSec: perSec(rows, run.ms),
    d1Rows,
    ok: d1Rows === rows,
    ...d1Side(d1, rows),
    roundTrips: run.batchCalls,
    batchCalls: run.batchCalls,
    statements: run.statements,
    prebuildMs: prep.buildMs,
  };
}

// ---- one delay, one size: every contender, `rounds` interleaved rounds ----
export async function benchRemote({
  rows,
  delayMs,
  rounds = REMOTE_ROUNDS,
  changesN = 20000,
  only, // contender ids to run (the (c) pair always runs: it is the limit); default all
  log = defaultLog,
}) {
  const d1 = await startD1Server({ delayMs });
  let mf = null;
  const notes = [];
  try {
    mf = await startBenchWorker({ d1Address: d1.address });
    const base = benchClient(mf, 'remote-base');
    // The delay, measured: trivial round trips one after the other, from the DO and from Node.
    const ping = (await base('pingD1', { n: PING_ROUND_TRIPS })).ms;
    const node = remoteD1(fetch, d1.url);
    const t = performance.now();
    for (let i = 0; i < PING_ROUND_TRIPS; ++i) await node.prepare('SELECT 1 AS one').first('one');
    const pingNode = performance.now() - t;
    log(
      `delay ${delayMs} ms, ${rows} rows: ${PING_ROUND_TRIPS} trivial round trips take ` +
        `${pingNode.toFixed(0)} ms from Node, ${ping.toFixed(0)} ms from the DO`,
    );
    const lookAhead = (await base('supports', { option: 'lookAhead' })).supported;
    if (!lookAhead) {
      notes.push(
        'createReplicator() does not accept `lookAhead` in this build (CONFIG "unknown option \'lookAhead\'"): ' +
          'the look-ahead 1 and 0 contenders were skipped',
      );
    }
    await base('seed', { rows });
    const sqlite3 = await sqlite3InitModule();
    const tag = `${delayMs}-${rows}-${Date.now().toString(36)}`;
    const ormRows = Math.floor(100 / COLUMNS.length);
    const contenders = [
      {
        id: 'd1sync-initial',
        label: 'd1sync initial sync (DO → D1)',
        run: (r) =>
          initialSync({
            mf,
            d1Url: d1.url,
            name: `ini-${tag}-${r}`,
            rows,
            sourceId: `ini-${tag}-${r}`,
          }),
      },
      ...(lookAhead
        ? [
            {
              // One batch in flight: the next one read while it is, sent after its answer.
              id: 'd1sync-initial-lookahead1',
              label: 'd1sync initial sync, look-ahead 1 (DO → D1)',
              run: (r) =>
                initialSync({
                  mf,
                  d1Url: d1.url,
                  name: `la1-${tag}-${r}`,
                  rows,
                  sourceId: `la1-${tag}-${r}`,
                  options: { lookAhead: 1 },
                }),
            },
            {
              id: 'd1sync-initial-lookahead0',
              label: 'd1sync initial sync, look-ahead 0 (DO → D1)',
              run: (r) =>
                initialSync({
                  mf,
                  d1Url: d1.url,
                  name: `la0-${tag}-${r}`,
                  rows,
                  sourceId: `la0-${tag}-${r}`,
                  options: { lookAhead: 0 },
                }),
            },
          ]
        : []),
      {
        // Pages (and so batches) three times the default: fewer round trips for more memory.
        id: 'd1sync-initial-large',
        label: 'd1sync initial sync, 12 MB pages (DO → D1)',
        run: (r) =>
          initialSync({
            mf,
            d1Url: d1.url,
            name: `big-${tag}-${r}`,
            rows,
            sourceId: `big-${tag}-${r}`,
            options: { limits: LARGE_PAGES },
          }),
      },
      {
        // Half the default: twice the round trips, and half the first page, which nothing
        // overlaps (D1 has nothing to do until it arrives).
        id: 'd1sync-initial-small',
        label: 'd1sync initial sync, 2 MB pages (DO → D1)',
        run: (r) =>
          initialSync({
            mf,
            d1Url: d1.url,
            name: `small-${tag}-${r}`,
            rows,
            sourceId: `small-${tag}-${r}`,
            options: { limits: SMALL_PAGES },
          }),
      },
      {
        id: 'd1sync-incremental',
        label: `d1sync incremental (${changesN} changes, half on ${HOT_KEYS} hot keys)`,
        run: (r) =>
          incremental({
            mf,
            d1Url: d1.url,
            name: `inc-${tag}-${r}`,
            rows,
            sourceId: `inc-${tag}-${r}`,
            changesN,
          }),
      },
      {
        // Only when named (--contenders): the same changes in pages of 5,000, so each page's
        // read overlaps the batch before it — what splitting the one batch would buy.
        id: 'd1sync-incremental-small-pages',
        optional: true,
        label: `d1sync incremental, ${SMALL_PAGE_CHANGES}-change pages`,
        run: (r) =>
          incremental({
            mf,
            d1Url: d1.url,
            name: `incs-${tag}-${r}`,
            rows,
            sourceId: `incs-${tag}-${r}`,
            changesN,
            options: { limits: { pageChanges: SMALL_PAGE_CHANGES } },
          }),
      },
      {
        id: 'd1sync-initial-sqlite-wasm',
        label: 'd1sync initial sync (sqlite-wasm in Node → D1)',
        run: (r) =>
          sqliteWasmInitial({ sqlite3, d1Url: d1.url, rows, sourceId: `wasm-${tag}-${r}` }),
      },
      {
        id: 'baseline-a',
        label: '(a) one row per bound statement',
        run: () => baseline({ mf, d1Url: d1.url, kind: 'a', rows }),
      },
      {
        id: 'baseline-b',
        label: `(b) ORM-style: ${ormRows} rows per bound statement`,
        run: () => baseline({ mf, d1Url: d1.url, kind: 'b', rows }),
      },
      {
        id: 'baseline-c1',
        label: '(c) limit: literal VALUES, pre-built',
        run: () => baseline({ mf, d1Url: d1.url, kind: 'c1', rows }),
      },
      {
        id: 'baseline-c2',
        label: '(c) limit: json_each(?1), pre-built',
        run: () => baseline({ mf, d1Url: d1.url, kind: 'c2', rows }),
      },
    ];
    const keep = only
      ? new Set([...only, 'baseline-c1', 'baseline-c2'])
      : new Set(contenders.filter((c) => !c.optional).map((c) => c.id));
    if (only) {
      const unknown = only.filter((id) => !contenders.some((c) => c.id === id));
      if (unknown.length) log(`unknown contender(s) ${unknown.join(', ')}: ignored`);
    }
    contenders.splice(0, contenders.length, ...contenders.filter((c) => keep.has(c.id)));
    const runs = new Map(contenders.map((c) => [c.id, []]));
    // Round r starts at a different contender, so each one meets every part of the run.
    const step = Math.max(1, Math.floor(contenders.length / rounds));
    for (let r = 0; r < rounds; ++r) {
      const shift = (r * step) % contenders.length;
      const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
      for (const [position, c] of order.entries()) {
        const run = await c.run(r);
        if (!run.ok) {
          log(`WARNING ${c.id} round ${r}: D1 holds ${run.d1Rows} rows, not what was expected`);
        }
        runs.get(c.id).push({ round: r, position, ...run });
        log(
          `delay ${delayMs} ms, round ${r + 1}/${rounds}: ${c.id} ` +
            `${Math.round(run.rowsPerSec)} rows/s (${(run.ms / 1000).toFixed(2)} s, ` +
            `${run.roundTrips} round trips)`,
        );
      }
    }
    await base('wipe');
    const out = {
      delayMs,
      rows,
      rounds,
      changes: changesN,
      lookAheadSupported: lookAhead,
      notes,
      pingRoundTrips: PING_ROUND_TRIPS,
      pingMsFromDO: ping,
      pingMsFromNode: pingNode,
      contenders: contenders.map(({ id, label }) => summarize(id, label, runs.get(id))),
    };
    const rate = (id) => out.contenders.find((c) => c.id === id)?.median;
    out.limitRowsPerSec = Math.max(rate('baseline-c1'), rate('baseline-c2'));
    for (const c of out.contenders) c.ratioToLimit = ratio(c.median, out.limitRowsPerSec);
    out.ratios = {
      initialToLimit: ratio(rate('d1sync-initial'), out.limitRowsPerSec),
      initialToOneRow: ratio(rate('d1sync-initial'), rate('baseline-a')),
      initialToOrm: ratio(rate('d1sync-initial'), rate('baseline-b')),
      incrementalToLimit: ratio(rate('d1sync-incremental'), out.limitRowsPerSec),
    };
    return out;
  } finally {
    await mf?.dispose();
    await d1.mf.dispose();
  }
}

// Per contender: the runs, and the median and spread of rows/s; medians of the rest.
function summarize(id, label, runs) {
  const rates = runs.map((r) => r.rowsPerSec);
  const s = {
    id,
    label,
    rows: runs[0].rows,
    runs,
    median: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
    medianMs: median(runs.map((r) => r.ms)),
    allOk: runs.every((r) => r.ok),
  };
  for (const key of [
    'roundTrips',
    'batchCalls',
    'statements',
    'startMs',
    'flushMs',
    'flushRowsPerSec',
    'startRoundTrips',
    'engineMs',
    'localSqlMs',
    'targetBatchMs',
    'rowsWrittenPerRow',
    'rowsReadPerBatch',
    'flushRowsReadPerBatch',
    'distinct',
    'distinctRowsPerSec',
    'incLimitMs',
    'incLimitRowsPerSec',
    'incLimitBatchCalls',
    'rowsReplicated',
    'rowsWrittenPerDistinct',
    'd1RowsWritten',
    'd1RowsRead',
    'prebuildMs',
    'fenceReadsPerBatch',
    'fenceReadsFirst',
    'fenceReadsLast',
    'fenceReadsMax',
    'fenceWritesPerBatch',
    'meteredBatches',
    'd1InsideMs',
    'd1BeforeMs',
    'd1BetweenMs',
    'd1AfterMs',
    'd1BusyMs',
    'd1Requests',
    'charsInPerRow',
    'charsOutPerRow',
  ]) {
    if (runs.every((r) => typeof r[key] === 'number')) s[key] = median(runs.map((r) => r[key]));
  }
  return s;
}

const fmt = (x, d = 0) =>
  x === undefined || x === null || Number.isNaN(x)
    ? '—'
    : Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

// The targets this section measures (bench/run.mjs appends them to its list).
export function remoteTargets(remote, { fullMode = false } = {}) {
  if (!remote?.length) return [];
  const out = [];
  // Issue 14's speed targets, per delay: medians over the interleaved rounds.
  const perDelay = (label, value, goal, note = () => '') => {
    const rows = remote.map((e) => ({ e, v: value(e) })).filter((x) => Number.isFinite(x.v));
    if (!rows.length) return;
    out.push({
      target: `${label} (D1 in a second process)`,
      measured: rows
        .map((x) => `${fmt(x.v, 2)}× at ${x.e.delayMs} ms (${fmt(x.e.rows)})${note(x.e)}`)
        .join('; '),
      met: rows.every((x) => x.v >= goal),
    });
  };
  const find = (e, id) => e.contenders.find((c) => c.id === id);
  const med = (e, id) => find(e, id)?.median;
  perDelay(
    'initial sync ≥ 0.85× the limit',
    (e) => med(e, 'd1sync-initial') / e.limitRowsPerSec,
    0.85,
    (e) => {
      const c = find(e, 'd1sync-initial');
      return c ? `, flush() alone ${fmt(c.flushRowsPerSec / e.limitRowsPerSec, 2)}×` : '';
    },
  );
  perDelay(
    'incremental ≥ 0.7× the initial sync (changes/s against rows/s)',
    (e) => med(e, 'd1sync-incremental') / med(e, 'd1sync-initial'),
    0.7,
    (e) => {
      const c = find(e, 'd1sync-incremental');
      return c?.incLimitRowsPerSec
        ? `, ${fmt(c.median / c.incLimitRowsPerSec, 2)}× the same changes pre-built`
        : '';
    },
  );
  // What the limit itself reaches against the same baseline: d1sync matching the limit would
  // reach no more.
  const limitAgainst = (id) => (e) =>
    med(e, id) ? `, the limit itself ${fmt(e.limitRowsPerSec / med(e, id), 2)}×` : '';
  perDelay(
    'initial sync ≥ 10× one row per statement',
    (e) => med(e, 'd1sync-initial') / med(e, 'baseline-a'),
    10,
    limitAgainst('baseline-a'),
  );
  perDelay(
    'initial sync ≥ 3× ORM chunking',
    (e) => med(e, 'd1sync-initial') / med(e, 'baseline-b'),
    3,
    limitAgainst('baseline-b'),
  );
  const inc = remote
    .map((e) => ({ e, c: e.contenders.find((c) => c.id === 'd1sync-incremental') }))
    .filter((x) => x.c);
  if (inc.length) {
    const worst = Math.max(...inc.map((x) => x.c.rowsWrittenPerDistinct));
    out.push({
      target:
        'incremental: D1 rows written ≤ 1.05 per distinct changed row, fence rows included (D1 in a second process)',
      measured: inc
        .map((x) => `${fmt(x.c.rowsWrittenPerDistinct, 3)} (${x.e.delayMs} ms, ${fmt(x.e.rows)})`)
        .join('; '),
      met: worst <= 1.05,
    });
  }
  // The fence's reads must not grow with the number of batches: D1's rows read by the
  // statements on d1sync's own tables, per batch of the initial sync's flush(), in its first and
  // its last batch, and per batch at 100k against 1M rows (10× the batches), per delay.
  const ini = (e) => e.contenders.find((c) => c.id === 'd1sync-initial');
  const withFence = remote.filter((e) => ini(e)?.fenceReadsPerBatch !== undefined);
  if (withFence.length) {
    const small = withFence.filter((e) => e.rows === 100000);
    const large = withFence.filter((e) => e.rows === 1000000);
    const pairs = small
      .map((s) => [s, large.find((l) => l.delayMs === s.delayMs)])
      .filter(([, l]) => l);
    const flat = withFence.every((e) =>
      ini(e).runs.every((r) => r.fenceReadsLast <= r.fenceReadsFirst),
    );
    const across = pairs.every(
      ([s, l]) => ini(l).fenceReadsPerBatch <= 1.1 * ini(s).fenceReadsPerBatch,
    );
    const perSize = (rows) => {
      const es = withFence.filter((e) => e.rows === rows);
      if (!es.length) return null;
      const c = ini(es[0]);
      return (
        `${fmt(c.fenceReadsPerBatch, 2)} fence rows read per batch at ${fmt(rows)} rows ` +
        `(${fmt(c.meteredBatches)} batches; first ${fmt(c.fenceReadsFirst)}, last ${fmt(c.fenceReadsLast)}, ` +
        `most ${fmt(c.fenceReadsMax)})`
      );
    };
    out.push({
      target:
        "fence reads do not grow with the number of batches (initial sync's flush(), D1 rows read by d1sync's own statements)",
      measured:
        [perSize(100000), perSize(1000000) ?? (fullMode ? null : '1M not run (--full)')]
          .filter(Boolean)
          .join('; ') + `; ${withFence[0].delayMs} ms delay shown, every delay and round checked`,
      met: flat && across,
    });
  }
  return out;
}

export function remoteMarkdown(remote) {
  if (!remote?.length) return [];
  const lines = [
    '',
    '## D1 in a second process (a second Miniflare), every contender through one proxy',
    '',
    '- D1 runs in its own workerd (bench/d1-server.js); the Durable Object, the baselines and the ' +
      'sqlite-wasm contender reach it through bench/remote-d1.js, a binding-shaped proxy, over a local ' +
      "socket (the DO through a service binding to that socket, Node through its fetch); each round trip is held the stated delay by D1's process " +
      '(half before D1 applies the statements, half after). Rounds are interleaved: round r runs every ' +
      'contender once, in a rotated order. rows/s: median and min–max over the rounds; the ratio is of ' +
      'medians, to the faster (c) median; round trips are batch() calls (median); D1 busy: the time the D1 ' +
      "process spent inside its binding's calls during the timed part (median); characters sent: the request " +
      'bodies per row (JSON; BLOBs bound by (a)/(b) as base64).',
    '- the incremental contender counts changes per second (as in the in-process section); its rows ' +
      'written are per distinct changed row (an update then a delete of one id counts once), fence included',
    '',
  ];
  for (const e of remote) {
    lines.push(`### ${fmt(e.rows)} rows, ${e.delayMs} ms per round trip`, '');
    lines.push(
      `- ${e.pingRoundTrips} trivial round trips one after the other: ${fmt(e.pingMsFromDO)} ms from the DO, ` +
        `${fmt(e.pingMsFromNode)} ms from Node (${fmt(e.pingMsFromDO / e.pingRoundTrips, 1)} / ` +
        `${fmt(e.pingMsFromNode / e.pingRoundTrips, 1)} ms each)`,
    );
    for (const n of e.notes) lines.push(`- note: ${n}`);
    lines.push('');
    lines.push(
      '| contender | rows | rows/s median | min–max | ratio to the limit | round trips | statements | seconds (median) | D1 busy s | characters sent per row |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const c of e.contenders) {
      lines.push(
        `| ${c.label}${c.allOk ? '' : ' (**D1 row count wrong**)'} | ${fmt(c.rows)} | ${fmt(c.median)} | ` +
          `${fmt(c.min)}–${fmt(c.max)} | ${fmt(c.ratioToLimit, 2)}× | ${fmt(c.roundTrips)} | ` +
          `${fmt(c.statements)} | ${fmt(c.medianMs / 1000, 2)} | ${fmt(c.d1BusyMs / 1000, 2)} | ${fmt(c.charsInPerRow, 0)} |`,
      );
    }
    lines.push('');
    lines.push(`- the limit = the faster (c) median: ${fmt(e.limitRowsPerSec)} rows/s`);
    for (const id of [
      'd1sync-initial',
      'd1sync-initial-lookahead0',
      'd1sync-initial-large',
      'd1sync-initial-small',
      'd1sync-initial-sqlite-wasm',
    ]) {
      const c = e.contenders.find((x) => x.id === id);
      if (!c) continue;
      lines.push(
        `- ${c.label}: start() ${fmt(c.startMs)} ms (${fmt(c.startRoundTrips)} round trip${c.startRoundTrips === 1 ? '' : 's'}), ` +
          `flush() ${fmt(c.flushMs)} ms = ${fmt(c.flushRowsPerSec)} rows/s for flush() alone; ` +
          `engine ${fmt(c.engineMs)} ms, local SQL ${fmt(c.localSqlMs)} ms, waiting on D1 ${fmt(c.targetBatchMs)} ms ` +
          `(D1's process busy ${fmt(c.d1BusyMs)} ms of it); ` +
          `D1 billing: ${fmt(c.rowsWrittenPerRow, 3)} rows written per row, ${fmt(c.rowsReadPerBatch, 1)} rows read per batch ` +
          `(${fmt(c.d1RowsWritten)} written, ${fmt(c.d1RowsRead)} read, ${fmt(c.batchCalls)} batches); ` +
          `the fence per flush() batch: ${fmt(c.fenceReadsPerBatch, 2)} rows read (first ${fmt(c.fenceReadsFirst)}, ` +
          `last ${fmt(c.fenceReadsLast)}), ${fmt(c.fenceWritesPerBatch, 2)} written` +
          (c.d1InsideMs === undefined
            ? ''
            : `; D1's process during flush(): inside a D1 call ${fmt(c.d1InsideMs)} ms, none open ` +
              `${fmt(c.d1BeforeMs)} ms before the first, ${fmt(c.d1BetweenMs)} ms between calls, ` +
              `${fmt(c.d1AfterMs)} ms after the last`),
      );
    }
    const inc = e.contenders.find((c) => c.id === 'd1sync-incremental');
    if (inc) {
      lines.push(
        `- ${inc.label}: ${fmt(inc.distinct)} distinct rows changed, ${fmt(inc.rowsReplicated)} rows sent; ` +
          `${fmt(inc.distinctRowsPerSec)} distinct rows/s; engine ${fmt(inc.engineMs)} ms, local SQL ${fmt(inc.localSqlMs)} ms, ` +
          `waiting on D1 ${fmt(inc.targetBatchMs)} ms (D1's process busy ${fmt(inc.d1BusyMs)} ms of it); D1 billing: ${fmt(inc.rowsWrittenPerDistinct, 3)} rows written per distinct ` +
          `changed row (${fmt(inc.d1RowsWritten)} written), ${fmt(inc.rowsReadPerBatch, 1)} rows read per batch ` +
          `(${fmt(inc.d1RowsRead)} read, ${fmt(inc.batchCalls)} batches; the fence ${fmt(inc.fenceReadsPerBatch, 2)} ` +
          `read, ${fmt(inc.fenceWritesPerBatch, 2)} written per batch); the same changes coalesced and ` +
          `pre-built, applied to D1's copy of the table from before them (the incremental limit): ` +
          `${fmt(inc.incLimitRowsPerSec)} changes/s in ${fmt(inc.incLimitBatchCalls)} batches, d1sync at ` +
          `${fmt(inc.median / inc.incLimitRowsPerSec, 2)}× of it`,
      );
    }
    const r = e.ratios;
    lines.push(
      `- ratios of medians: initial sync / limit ${fmt(r.initialToLimit, 2)}×, / one-row-per-statement ` +
        `${fmt(r.initialToOneRow, 1)}×, / ORM ${fmt(r.initialToOrm, 2)}×; incremental (changes/s) / limit ${fmt(r.incrementalToLimit, 2)}×`,
      '',
    );
  }
  lines.push('### D1 billing, d1sync (medians over the rounds)', '');
  lines.push(
    '| delay | rows | initial: rows written per row | initial: rows read per batch (batches) | initial: fence rows read per batch, first / last | incremental: distinct changed rows | rows written per distinct changed row | rows read per batch (batches) | incremental: fence rows read per batch |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const e of remote) {
    const ini = e.contenders.find((c) => c.id === 'd1sync-initial');
    const inc = e.contenders.find((c) => c.id === 'd1sync-incremental');
    lines.push(
      `| ${e.delayMs} ms | ${fmt(e.rows)} | ${fmt(ini?.rowsWrittenPerRow, 3)} | ${fmt(ini?.rowsReadPerBatch, 1)} (${fmt(ini?.batchCalls)}) | ` +
        `${fmt(ini?.fenceReadsPerBatch, 2)}, ${fmt(ini?.fenceReadsFirst)} / ${fmt(ini?.fenceReadsLast)} | ` +
        `${fmt(inc?.distinct)} | ${fmt(inc?.rowsWrittenPerDistinct, 3)} | ${fmt(inc?.rowsReadPerBatch, 1)} (${fmt(inc?.batchCalls)}) | ` +
        `${fmt(inc?.fenceReadsPerBatch, 2)} |`,
    );
  }
  lines.push('');
  return lines;
}
