// The bench's scale section: the d1sync initial sync (start() + flush(), as the in-process
// section's Durable Object contender) of a narrow table, `narrow(id INTEGER PRIMARY KEY,
// v INTEGER NOT NULL)`, seeded in a SQLite-backed Durable Object under Miniflare, into local D1,
// at 100,000, 1,000,000 and 10,000,000 rows, each size in a fresh Miniflare. Per size: rows/s,
// start() and flush() apart, requests, batches and statements, D1's billing (health()'s
// d1RowsWritten / d1RowsRead), the engine module's WASM heap (HEAP8.length: after start() and
// after every request, the high-water mark), workerd's RSS after the seeding and after the sync
// and its peak. The engine's memory must stay flat: heap at 10M ≤ 1.2× at 100k.
//
// The seeding: one recursive-CTE INSERT per SEED_CHUNK rows, each its own request (SQLite
// streams the CTE; a request's writes are one transaction). The flush: requests of
// flush({ maxBatches }) calls until the sync is done or the request's budget (budgetMs) is
// spent, so no request runs for minutes; a request that fails (workerd resetting the object)
// is sent again, and the object picks its replicator up from the persisted state (#resume in
// bench/worker.js; its start() is timed with the flush). The time is the wall clock around
// start() and every flush request, failed ones included, as Node sees it; the Durable Object's
// own sum (start() + every flush request + every resume) is kept beside it.
//
// Run by bench/run.mjs with --full, or alone for a quick check:
//   node bench/scale.mjs [ROWS ...] [--max-batches N] [--budget-ms N] [--look-ahead 0|1]
//                        [--reset-every N]
// (default 100000 1000000 10000000), which writes bench/results-scale.json and prints the
// section's markdown. On 2 cores the three sizes take about 40 s (10M: seeding ~6 s, sync
// ~30 s; workerd peaks near 320 MB).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startMiniflare, workerdMemory, benchClient } from './workerd.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SCALE_SIZES = [100000, 1000000, 10000000];
export const NARROW_TABLE = 'narrow(id INTEGER PRIMARY KEY, v INTEGER NOT NULL)';
const SEED_CHUNK = 1000000; // rows per seeding request
const MAX_BATCHES = 20; // batches per flush() call
const BUDGET_MS = 10000; // flush() calls per request until this much time has passed
const MAX_FAILURES = 5; // failed requests in a row before the size is given up

const defaultLog = (...args) =>
  console.error(`[bench scale ${new Date().toISOString().slice(11, 19)}]`, ...args);

export async function benchScale({
  rows,
  maxBatches = MAX_BATCHES,
  budgetMs = BUDGET_MS,
  options, // createReplicator() options (a resume after a reset starts without them)
  resetEvery = 0, // every Nth flush request resets the object at its end (the resume's check)
  log = defaultLog,
}) {
  const mf = await startMiniflare();
  try {
    const call = benchClient(mf, `scale-${rows}`);

    // Seeding, not part of the sync.
    log(`${rows} rows: seeding ${NARROW_TABLE} in the DO`);
    const seed = { requests: 0, doMs: 0, chunkRows: SEED_CHUNK };
    let t = performance.now();
    for (let from = 1; from <= rows; from += SEED_CHUNK) {
      const to = Math.min(rows, from + SEED_CHUNK - 1);
      const r = await call('seedNarrow', { from, to, count: to === rows });
      ++seed.requests;
      seed.doMs += r.ms;
      if (to === rows && r.rows !== rows) throw new Error(`seeded ${r.rows} rows, not ${rows}`);
    }
    seed.ms = performance.now() - t;
    const workerdAfterSeed = workerdMemory();
    log(`${rows} rows: seeded in ${(seed.ms / 1000).toFixed(1)} s; initial sync`);

    // The initial sync: start(), then flush requests until it is done.
    const sourceId = `scale-${rows}`;
    const stats = { engineMs: 0, localSqlMs: 0, targetBatchMs: 0 };
    const add = (s) => {
      stats.engineMs += s.txnMs - s.execMs;
      stats.localSqlMs += s.execMs;
      stats.targetBatchMs += s.batchMs;
    };
    t = performance.now();
    const started = await call('syncStart', { sourceId, tables: ['narrow'], options });
    const startWallMs = performance.now() - t;
    add(started.stats);
    const heaps = [{ copied: 0, heap: started.heap }];
    let flushMs = 0;
    let resumeMs = 0;
    let requests = 0;
    let resumes = 0;
    let failures = 0;
    let inARow = 0;
    let last = null;
    for (;;) {
      let r;
      try {
        const abort = resetEvery > 0 && (requests + failures + 1) % resetEvery === 0;
        r = await call('syncFlush', { sourceId, maxBatches, budgetMs, abort });
      } catch (e) {
        ++failures;
        log(`${rows} rows: flush request failed (${String(e.message).split('\n')[0]}); again`);
        if (++inARow >= MAX_FAILURES) throw e;
        continue;
      }
      inARow = 0;
      ++requests;
      flushMs += r.ms;
      if (r.resumed) {
        ++resumes;
        resumeMs += r.resumeMs;
      }
      add(r.stats);
      const copied = r.health.initialSync.tables.narrow?.copied ?? null;
      heaps.push({ copied, heap: r.heap });
      last = r;
      if (r.done) break;
      if (requests % 10 === 0) log(`${rows} rows: ${copied} copied, heap ${r.heap} bytes`);
    }
    const wallMs = performance.now() - t;
    const workerdAfterSync = workerdMemory();
    const memory = await call('memory');
    const d1Rows = (await call('count', { table: 'narrow' })).n;
    const h = last.health;
    const doMs = started.ms + resumeMs + flushMs;
    const heap = Math.max(memory.heapHigh, ...heaps.map((x) => x.heap ?? 0));
    log(
      `${rows} rows: ${Math.round(rows / (wallMs / 1000))} rows/s (${(wallMs / 1000).toFixed(1)} s), ` +
        `${h.batchesSent} batches, heap ${heap} bytes, D1 holds ${d1Rows}`,
    );
    return {
      rows,
      table: NARROW_TABLE,
      seed,
      maxBatches,
      budgetMs,
      ...(options ? { options } : {}),
      ...(resetEvery ? { resetEvery } : {}),
      ms: wallMs,
      rowsPerSec: rows / (wallMs / 1000),
      doMs,
      doRowsPerSec: rows / (doMs / 1000),
      startMs: started.ms,
      startWallMs,
      flushMs,
      flushRowsPerSec: rows / (flushMs / 1000),
      resumeMs,
      requests,
      resumes,
      failures,
      startRoundTrips: started.health.totalSyncs, // the claim's included
      batchCalls: h.batchesSent,
      statements: h.statementsSent,
      bytesSent: h.bytesSent,
      d1RowsWritten: h.d1RowsWritten,
      d1RowsRead: h.d1RowsRead,
      rowsWrittenPerRow: h.d1RowsWritten / rows,
      rowsReadPerBatch: h.d1RowsRead / h.batchesSent,
      lookAhead: h.lookAhead,
      ...stats,
      heapAfterStart: started.heap,
      heap,
      heaps,
      workerdAfterSeed,
      workerdAfterSync,
      d1Rows,
      ok: d1Rows === rows && h.pendingChanges === 0,
    };
  } finally {
    await mf.dispose();
  }
}

const fmt = (x, d = 0) =>
  x === undefined || x === null || Number.isNaN(x)
    ? '—'
    : Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const mib = (bytes, d = 2) => fmt(bytes / 1048576, d);

// The target: the engine's WASM heap high-water at 10M rows ≤ 1.2× at 100k.
export function scaleTargets(list, { fullMode = true } = {}) {
  const target = 'WASM heap high-water at 10M rows ≤ 1.2× at 100k (narrow table, initial sync)';
  const ok = (list ?? []).filter((s) => !s.error);
  const small = ok.find((s) => s.rows === 100000);
  const big = ok.find((s) => s.rows === 10000000);
  if (!small || !big) {
    const failed = (list ?? []).filter((s) => s.error);
    return [
      {
        target,
        measured: failed.length
          ? `failed: ${failed.map((s) => `${fmt(s.rows)} rows: ${s.error}`).join('; ')}`
          : fullMode
            ? 'not measured (needs 100,000 and 10,000,000 rows)'
            : 'not run (--full)',
        met: failed.length ? false : null,
      },
    ];
  }
  const ratio = big.heap / small.heap;
  return [
    {
      target,
      measured: `${mib(big.heap)} MiB vs ${mib(small.heap)} MiB = ${ratio.toFixed(2)}×`,
      met: ratio <= 1.2,
    },
  ];
}

export function scaleMarkdown(list) {
  if (!list?.length) return [];
  const lines = [
    '',
    '## Scale: a narrow table, initial sync (DO → local D1)',
    '',
    `- \`${NARROW_TABLE}\` seeded in a Durable Object (one recursive-CTE INSERT per ` +
      `${fmt(list.find((s) => s.seed)?.seed.chunkRows ?? SEED_CHUNK)} rows, not timed), then start() and ` +
      'flush() into local D1, each size in a fresh Miniflare; flush() in requests of ' +
      'flush({ maxBatches }) calls until done or the request has run its budget; seconds and rows/s: ' +
      "Node's wall clock around start() and every flush request (the Durable Object's own sum beside it); " +
      "WASM heap: the engine module's HEAP8.length after start() and its high-water mark; workerd RSS " +
      "after the seeding, after the sync, and its peak (the DO's SQLite and the local D1 live in that process)",
    '',
    '| rows | seconds | rows/s | DO time s (rows/s) | start() / flush() s | requests | batches | statements | D1 rows written per row | D1 rows read per batch | WASM heap after start() / high-water | workerd RSS after seed / after sync / peak | seeding s |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of list) {
    if (s.error) {
      lines.push(`| ${fmt(s.rows)} | failed: ${s.error} |${' |'.repeat(11)}`);
      continue;
    }
    const a = s.workerdAfterSeed;
    const b = s.workerdAfterSync;
    lines.push(
      `| ${fmt(s.rows)}${s.ok ? '' : ' (**D1 row count wrong**)'} | ${fmt(s.ms / 1000, 2)} | ${fmt(s.rowsPerSec)} | ` +
        `${fmt(s.doMs / 1000, 2)} (${fmt(s.doRowsPerSec)}) | ${fmt(s.startMs / 1000, 2)} / ${fmt(s.flushMs / 1000, 2)} | ` +
        `${fmt(s.requests)} | ${fmt(s.batchCalls)} | ${fmt(s.statements)} | ${fmt(s.rowsWrittenPerRow, 3)} | ` +
        `${fmt(s.rowsReadPerBatch, 1)} | ${mib(s.heapAfterStart)} / ${mib(s.heap)} MiB | ` +
        (a && b
          ? `${mib(a.rssBytes, 0)} / ${mib(b.rssBytes, 0)} / ${mib(b.hwmBytes, 0)} MiB`
          : 'n/a') +
        ` | ${fmt(s.seed.ms / 1000, 1)} |`,
    );
  }
  lines.push('');
  for (const s of list.filter((x) => !x.error)) {
    lines.push(
      `- ${fmt(s.rows)} rows: engine ${fmt(s.engineMs / 1000, 2)} s (${fmt((s.engineMs * 1000) / s.rows, 2)} µs/row), ` +
        `local SQL reads ${fmt(s.localSqlMs / 1000, 2)} s, D1 batch() ${fmt(s.targetBatchMs / 1000, 2)} s; ` +
        `flush() alone ${fmt(s.flushRowsPerSec)} rows/s; ${fmt(s.rows / s.batchCalls)} rows and ` +
        `${fmt(s.bytesSent / s.batchCalls / 1024, 0)} KiB per batch; D1 billing ${fmt(s.d1RowsWritten)} rows written, ` +
        `${fmt(s.d1RowsRead)} read; look-ahead ${fmt(s.lookAhead?.used)} of ${fmt(s.lookAhead?.prepared)} prepared batches used; ` +
        `${fmt(s.maxBatches)} batches per flush() call, ${fmt(s.budgetMs / 1000)} s per request; ` +
        `${s.failures ? `${fmt(s.failures)} failed requests${s.resetEvery ? ` (one request in ${s.resetEvery} reset the object on purpose)` : ''}, ` : 'no failed request, '}` +
        `${s.resumes ? `${fmt(s.resumes)} resumes (${fmt(s.resumeMs / 1000, 2)} s)` : 'no resume'}`,
    );
  }
  lines.push('');
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'max-batches': { type: 'string' },
      'budget-ms': { type: 'string' },
      'look-ahead': { type: 'string' },
      'reset-every': { type: 'string' },
    },
  });
  const sizes = positionals.length ? positionals.map(Number) : SCALE_SIZES;
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) {
    console.error(
      'usage: node bench/scale.mjs [ROWS ...] [--max-batches N] [--budget-ms N] [--look-ahead 0|1] [--reset-every N]',
    );
    process.exit(2);
  }
  const list = [];
  for (const rows of sizes) {
    list.push(
      await benchScale({
        rows,
        maxBatches: values['max-batches'] ? Number(values['max-batches']) : MAX_BATCHES,
        budgetMs: values['budget-ms'] ? Number(values['budget-ms']) : BUDGET_MS,
        options:
          values['look-ahead'] === undefined
            ? undefined
            : { lookAhead: Number(values['look-ahead']) },
        resetEvery: Number(values['reset-every'] ?? 0),
      }),
    );
  }
  const targets = scaleTargets(list);
  writeFileSync(
    path.join(here, 'results-scale.json'),
    JSON.stringify({ date: new Date().toISOString(), scale: list, targets }, null, 2) + '\n',
  );
  const md = [
    ...scaleMarkdown(list),
    '| target | measured | met |',
    '| --- | --- | --- |',
    ...targets.map(
      (x) => `| ${x.target} | ${x.measured} | ${x.met === null ? 'n/a' : x.met ? 'yes' : 'NO'} |`,
    ),
  ];
  process.stdout.write(md.join('\n') + '\n');
}
