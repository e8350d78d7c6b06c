// npm run bench -- [--quick | --full] [--scale] [--profile] [--remote-only] [--rounds N]
//                  [--delays 0,10,40]
//                  [--remote-rows 100000,1000000] [--contenders id,id,...]
// Runs bench/worker.js in Miniflare (workerd) and compares, against the same local D1 binding and
// the same upsert form: d1sync initial sync and incremental replication from a SQLite-backed
// Durable Object, (a) one row per bound statement, (b) ORM-style floor(100/columns) rows per
// bound statement, (c) the limit: pre-built literal VALUES and json_each batches. Also capture
// overhead on local writes, engine time, .wasm size, instantiate time and WASM heap.
// The same initial sync from @sqlite.org/sqlite-wasm runs in Node, through Miniflare's D1 proxy,
// next to the limit applied through that same proxy. --profile adds CPU profiles of workerd's
// isolates during the DO initial sync (WASM built with function names). Last, the command
// line: `d1sync push` of a file against `.dump` in 85 KB requests, over the D1 REST API
// stand-in with 20 ms per request (bench/cli.mjs; skipped when build/d1sync is missing). Then
// verify() of the equal table and hydrate() of a new database from D1 (bench/verify.mjs).
// Then D1 in a second process (bench/remote.mjs): every contender through one binding-shaped
// proxy to a second Miniflare, at 0, 10 and 40 ms per round trip, in interleaved rounds;
// `--remote-only` runs that section alone and writes bench/results-remote.json / .md.
// With --full (or --scale, after a quick run's sections), last, 100,000, 1,000,000 and
// 10,000,000 rows of a narrow table synced from a DO into local D1 (bench/scale.mjs): rows/s,
// WASM heap and workerd RSS per size.
// Writes bench/results.json and bench/results.md (bench/markdown.mjs, which also writes the
// README's tables: node bench/readme.mjs). A command, not a test: nothing here fails on a slow
// machine.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { wasmFigures } from '../tools/wasm_figures.mjs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import {
  createReplicator,
  sqliteWasmSource,
  d1BindingTarget,
  httpTarget,
} from '../js/entry-node.js';
import {
  COLUMNS as COLUMN_NAMES,
  TABLE_DDL,
  SEED_SQL,
  literalBatches,
  jsonBatches,
  applyBatches,
  timed,
} from './forms.js';
import { profiled } from './profile.mjs';
import { benchCli, cliPath, cliTargets } from './cli.mjs'; // the command line's section
import { benchVerify, verifyTargets } from './verify.mjs'; // verify and hydrate
import { benchRemote, remoteTargets, REMOTE_DELAYS, REMOTE_ROUNDS } from './remote.mjs'; // D1 in a second process
import { benchScale, scaleTargets, SCALE_SIZES } from './scale.mjs'; // 10M rows, --full
import { startMiniflare as startBenchMiniflare, workerdMemory, benchClient } from './workerd.mjs';
import { markdown } from './markdown.mjs'; // results.md; the README's blocks (bench/readme.mjs)

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const full = process.argv.includes('--full');
// The scale section alone, after a quick run's (a few minutes: it seeds and syncs 10M rows).
const withScale = process.argv.includes('--scale');
const profile = process.argv.includes('--profile');
const sizes = full ? [100000, 1000000] : [100000];
const COLUMNS = COLUMN_NAMES.length;
const INSPECTOR_PORT = 9239;
// The out-of-process section's switches (bench/remote.mjs).
const remoteOnly = process.argv.includes('--remote-only');
function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const numbers = (text) => text.split(',').map((x) => Number(x.trim()));
const remoteDelays = argValue('--delays') ? numbers(argValue('--delays')) : REMOTE_DELAYS;
const remoteRounds = Math.max(1, Number(argValue('--rounds') ?? REMOTE_ROUNDS));
// The in-process section's rounds: as many as the remote section's.
const sizeRounds = remoteRounds;
const HOT_KEYS = 100;
const remoteSizes = argValue('--remote-rows') ? numbers(argValue('--remote-rows')) : sizes;
const remoteOnlyIds = argValue('--contenders')
  ?.split(',')
  .map((x) => x.trim());

function log(...args) {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);
}

const startMiniflare = () =>
  startBenchMiniflare({ inspectorPort: profile ? INSPECTOR_PORT : undefined });

async function benchSize(rows) {
  const changesN = full ? 100000 : 20000;
  const capN = 20000;
  const mf = await startMiniflare();
  const out = { rows, contenders: [] };
  try {
    const first = benchClient(mf, `size-${rows}-0`);
    let lastCall = null;
    log(`${rows} rows: seeding the DO`);
    const seed = await first('seed', { rows });
    out.seed = seed;
    // Median of three: the floor is small, so one noisy reading would move the ceiling.
    const floors = [];
    for (let i = 0; i < 3; ++i) floors.push(await first('readFloor', { pageRows: 20000 }));
    if (floors.some((f) => f.rows !== rows))
      throw new Error(`readFloor read ${floors.map((f) => f.rows)} rows, not ${rows}`);
    out.readFloorMs = floors.map((f) => f.ms).sort((x, y) => x - y)[1];

    // Each round seeds a fresh Durable Object with the same rows and runs every contender
    // once, starting at a different one, so each meets every part of the run; the median run
    // is reported with the others' times beside it.
    const runs = new Map();
    const record = (c) => {
      if (!runs.has(c.id)) runs.set(c.id, []);
      runs.get(c.id).push(c);
    };
    let last = null; // the final round's readings, for the memory figures
    const steps = [
      // d1sync initial sync (start() + flush(), engine-inclusive), then the incremental on
      // the same object: N changes in the DO, flush() timed to drain them.
      async (call, round) => {
        const sourceId = `bench-${rows}-${round}`;
        await call('dropTable', { table: 'items' });
        const sync = async () => {
          const started = await call('syncStart', { sourceId });
          const flushed = await call('syncFlush', { sourceId });
          return { started, flushed };
        };
        let started, flushed;
        if (profile && rows === sizes[0] && round === 0) {
          const p = await profiled(INSPECTOR_PORT, sync);
          ({ started, flushed } = p.result);
          out.profile = p.profiles.filter((x) =>
            x.byCategory.some((c) => c.where !== 'idle' && c.ms > 0),
          );
        } else {
          ({ started, flushed } = await sync());
        }
        const h = flushed.health;
        const st = {
          txnMs: started.stats.txnMs + flushed.stats.txnMs,
          execMs: started.stats.execMs + flushed.stats.execMs,
          batchMs: started.stats.batchMs + flushed.stats.batchMs,
        };
        record({
          id: 'd1sync-initial',
          label: 'd1sync initial sync (DO → D1)',
          rows,
          ms: started.ms + flushed.ms,
          batchCalls: h.batchesSent,
          statements: h.statementsSent,
          d1Rows: (await call('count', { table: 'items' })).n,
          engineMs: st.txnMs - st.execMs,
          localSqlMs: st.execMs,
          targetBatchMs: st.batchMs,
          startMs: started.ms,
          flushMs: flushed.ms,
        });
        const ch = await call('changes', { n: changesN, hotKeys: HOT_KEYS, rows, sourceId });
        const inc = await call('syncFlush', { sourceId });
        const captured = inc.health0.capturedSeq - flushed.health.capturedSeq;
        record({
          id: 'd1sync-incremental',
          label: `d1sync incremental (${changesN} changes, half on ${HOT_KEYS} hot keys)`,
          rows: changesN,
          ms: inc.ms,
          batchCalls: inc.health.batchesSent - inc.health0.batchesSent,
          statements: inc.health.statementsSent - inc.health0.statementsSent,
          outboxRowsPerChange: captured / changesN,
          capturedSeqDelta: captured,
          outboxRowsBeforeFlush: inc.outboxRows,
          changeMix: ch.counts,
          rowsReplicatedDelta: inc.health.rowsReplicated - inc.health0.rowsReplicated,
          engineMs: inc.stats.txnMs - inc.stats.execMs,
          localSqlMs: inc.stats.execMs,
          targetBatchMs: inc.stats.batchMs,
          d1Rows: (await call('count', { table: 'items' })).n,
          pendingAfter: inc.health.pendingChanges,
        });
        last = { started, flushed, inc };
      },
      // Baselines, each into its own freshly created D1 table.
      ...[
        ['a', '(a) one row per bound statement'],
        ['b', `(b) ORM-style: ${Math.floor(100 / COLUMNS)} rows per bound statement`],
        ['c1', '(c) limit: literal VALUES, pre-built'],
        ['c2', '(c) limit: json_each(?1), pre-built'],
      ].map(([kind, label]) => async (call) => {
        const prep = await call('prepare', { kind, rows });
        const run = await call('run', { kind });
        const n = (await call('count', { table: `items_${kind}` })).n;
        record({
          id: `baseline-${kind}`,
          label,
          rows: n,
          ms: run.ms,
          batchCalls: run.batchCalls,
          statements: run.statements,
          d1Rows: n,
          prebuildMs: prep.buildMs,
        });
      }),
    ];
    for (let round = 0; round < sizeRounds; ++round) {
      const call = round === 0 ? first : benchClient(mf, `size-${rows}-${round}`);
      if (round > 0) await call('seed', { rows });
      const shift = round % steps.length;
      log(`round ${round + 1}/${sizeRounds}`);
      for (const step of [...steps.slice(shift), ...steps.slice(0, shift)]) {
        await step(call, round);
      }
      if (round === 0) out.workerdRss = workerdMemory();
      if (round < sizeRounds - 1) await call('wipe');
      else lastCall = call;
    }
    for (const list of runs.values()) {
      const sorted = [...list].sort((x, y) => x.ms - y.ms);
      const median = sorted[(sorted.length - 1) >> 1];
      out.contenders.push({ ...median, runsMs: list.map((c) => c.ms) });
    }
    const { started, flushed, inc } = last;
    out.heapAfterInitial = flushed.heap;
    out.heapAfterIncremental = inc.heap;

    // WASM memory never shrinks: the largest length seen is the high-water mark (the object
    // may have been reset in between, hence the maximum over every reading).
    out.heap = Math.max(
      started.heap ?? 0,
      flushed.heap ?? 0,
      inc.heap ?? 0,
      (await lastCall('memory')).heapHigh,
    );
    out.heapAfterInitialSync = Math.max(started.heap ?? 0, flushed.heap ?? 0);
    out.workerdRssAfter = workerdMemory();

    // Local write cost, capture on vs off (a separate DO, cap_on captured by d1sync).
    log('capture on vs off');
    const cap = benchClient(mf, `cap-${rows}`);
    out.captureSetup = (await cap('capSetup', { sourceId: `cap-${rows}` })).triggers;
    const capture = {};
    for (const kind of ['insert', 'update', 'delete']) {
      capture[kind] = { on: [], off: [] };
    }
    const ROUNDS = 5;
    // Each round writes fresh ids in both tables, alternating them every 2,000 statements.
    for (let round = 0; round < ROUNDS; ++round) {
      const r = await cap('capRound', {
        n: capN,
        base: round * capN + 1,
        chunk: 2000,
        offFirst: round & 1,
      });
      for (const kind of ['insert', 'update', 'delete']) {
        capture[kind].on.push(r.ms.on[kind]);
        capture[kind].off.push(r.ms.off[kind]);
      }
    }
    out.capture = {
      n: capN,
      ...Object.fromEntries(
        Object.entries(capture).map(([k, v]) => {
          const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
          const on = median(v.on);
          const off = median(v.off);
          return [k, { onMs: on, offMs: off, ratio: on / off, onRuns: v.on, offRuns: v.off }];
        }),
      ),
    };
  } finally {
    await mf.dispose();
  }
  return out;
}

// The initial sync from @sqlite.org/sqlite-wasm (in Node, in memory) through Miniflare's D1
// proxy, and the limit through the same proxy.
async function benchSqliteWasm(rows) {
  const mf = await startMiniflare();
  const out = { rows, contenders: [] };
  const sqlite3 = await sqlite3InitModule();
  const db = new sqlite3.oo1.DB(':memory:');
  try {
    const d1 = await mf.getD1Database('DB');
    log(`${rows} rows: sqlite-wasm → D1 proxy`);
    db.exec(TABLE_DDL('items'));
    db.exec(SEED_SQL('items', rows));
    const { stats, source, target } = timed(sqliteWasmSource(db), d1BindingTarget(d1));
    const t = performance.now();
    const r = await createReplicator({ source, target, sourceId: `wasm-${rows}` });
    await r.start();
    await r.flush();
    const ms = performance.now() - t;
    const h = r.health();
    r.close();
    const n = (await d1.prepare('SELECT count(*) AS n FROM items').first()).n;
    out.contenders.push({
      id: 'd1sync-initial',
      label: 'd1sync initial sync (sqlite-wasm → D1 proxy)',
      rows,
      ms,
      batchCalls: h.batchesSent,
      statements: h.statementsSent,
      d1Rows: n,
      engineMs: stats.txnMs - stats.execMs,
      localSqlMs: stats.execMs,
      targetBatchMs: stats.batchMs,
    });
    const raw = db.exec({
      sql: `SELECT ${COLUMN_NAMES.join(',')} FROM items ORDER BY id`,
      rowMode: 'array',
      returnValue: 'resultRows',
    });
    for (const [kind, label, build] of [
      ['c1', '(c) limit: literal VALUES, pre-built', literalBatches],
      ['c2', '(c) limit: json_each(?1), pre-built', jsonBatches],
    ]) {
      const table = `items_${kind}`;
      await d1.batch([d1.prepare(`DROP TABLE IF EXISTS ${table}`), d1.prepare(TABLE_DDL(table))]);
      const run = await applyBatches(d1, build(table, raw));
      const count = (await d1.prepare(`SELECT count(*) AS n FROM ${table}`).first()).n;
      out.contenders.push({
        id: `baseline-${kind}`,
        label,
        rows: count,
        ms: run.ms,
        batchCalls: run.batchCalls,
        statements: run.statements,
        d1Rows: count,
      });
    }
  } finally {
    db.close();
    await mf.dispose();
  }
  for (const c of out.contenders) c.rowsPerSec = c.rows / (c.ms / 1000);
  out.limitRowsPerSec = Math.max(
    ...out.contenders.filter((c) => c.id.startsWith('baseline-')).map((c) => c.rowsPerSec),
  );
  return out;
}

// Browser-style: the same sqlite-wasm initial sync through httpTarget() to a Worker's
// createSyncEndpoint() (over a real localhost socket into workerd) and on into the same local
// D1; the bytes on the wire per row against the rows' literal SQL (the limit's VALUES tuples).
// As many rounds as the other sections (a fresh device and tenant each); the median run is
// reported, with the fastest and slowest.
async function benchHttp(rows) {
  const mf = await startMiniflare();
  const url = await mf.ready;
  const sqlite3 = await sqlite3InitModule();
  try {
    const d1 = await mf.getD1Database('DB');
    await d1.exec(
      'CREATE TABLE items(tenant TEXT NOT NULL, id INTEGER, name TEXT, price REAL, data BLOB, ' +
        'note TEXT, PRIMARY KEY(tenant, id))',
    );
    const runs = [];
    for (let round = 0; round < sizeRounds; ++round) {
      log(
        `${rows} rows, round ${round + 1}/${sizeRounds}: sqlite-wasm → httpTarget → endpoint → D1`,
      );
      runs.push(await httpRun({ url, d1, sqlite3, rows, device: `bench-device-${round}` }));
    }
    const byRate = [...runs].sort((a, b) => a.rowsPerSec - b.rowsPerSec);
    return {
      ...byRate[Math.floor(byRate.length / 2)],
      rounds: runs.length,
      minRowsPerSec: byRate[0].rowsPerSec,
      maxRowsPerSec: byRate[byRate.length - 1].rowsPerSec,
      runs: runs.map((r) => ({ ms: r.ms, rowsPerSec: r.rowsPerSec, d1Rows: r.d1Rows })),
    };
  } finally {
    await mf.dispose();
  }
}

// One browser-style run: a device's database seeded, replicated into its tenant's rows.
async function httpRun({ url, d1, sqlite3, rows, device }) {
  const db = new sqlite3.oo1.DB(':memory:');
  try {
    db.exec(TABLE_DDL('items'));
    db.exec(SEED_SQL('items', rows));
    const wire = { requests: 0, bytes: 0 };
    const caller = JSON.stringify({ clientId: device, tenant: device });
    const send = async (input, init) => {
      wire.requests++;
      wire.bytes += typeof init.body === 'string' ? init.body.length : init.body.byteLength;
      const headers = new Headers(init.headers);
      headers.set('x-bench-caller', caller);
      return fetch(input, { ...init, headers });
    };
    const { stats, source } = timed(sqliteWasmSource(db), d1BindingTarget(d1));
    const target = httpTarget(new URL('/d1sync', url), { fetch: send });
    const t = performance.now();
    const r = await createReplicator({ source, target, sourceId: device });
    await r.start();
    await r.flush();
    const ms = performance.now() - t;
    r.close();
    const n = (
      await d1.prepare('SELECT count(*) AS n FROM items WHERE tenant = ?').bind(device).first()
    ).n;
    const raw = db.exec({
      sql: `SELECT ${COLUMN_NAMES.join(',')} FROM items ORDER BY id`,
      rowMode: 'array',
      returnValue: 'resultRows',
    });
    // The rows' own SQL: each one's literal tuple, as the limit's VALUES statements carry it.
    const literalBytes = literalBatches('items', raw)
      .flat()
      .reduce((sum, s) => sum + s.length, 0);
    return {
      rows,
      ms,
      rowsPerSec: rows / (ms / 1000),
      d1Rows: n,
      requests: wire.requests,
      wireBytes: wire.bytes,
      literalBytes,
      engineMs: stats.txnMs - stats.execMs,
      localSqlMs: stats.execMs,
    };
  } finally {
    db.close();
  }
}

// The commit the run measured, `-dirty` when tracked files differ from it; null outside git.
function commitOf() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    return (
      git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '-uno') ? '-dirty' : '')
    );
  } catch {
    return null;
  }
}

function versionOf(pkg) {
  try {
    const require = createRequire(import.meta.url);
    return JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')).version;
  } catch {
    try {
      return JSON.parse(
        readFileSync(path.join(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8'),
      ).version;
    } catch {
      return 'unknown';
    }
  }
}

// D1 in a second process: per size and delay, every contender in interleaved rounds.
async function remoteSection() {
  const out = [];
  for (const rows of remoteSizes) {
    for (const delayMs of remoteDelays) {
      log(`D1 in a second process: ${rows} rows, ${delayMs} ms per round trip`);
      out.push(
        await benchRemote({
          rows,
          delayMs,
          rounds: remoteRounds,
          changesN: full ? 100000 : 20000,
          only: remoteOnlyIds,
          log,
        }),
      );
    }
  }
  return out;
}

const date = new Date().toISOString();
// What every results file starts with: when, at which commit, with what, on what.
const runInfo = (mode) => ({
  mode,
  date,
  commit: commitOf(),
  node: process.version,
  miniflare: versionOf('miniflare'),
  workerd: versionOf('workerd'),
  machine: {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  },
});
if (remoteOnly) {
  log(
    `D1 in a second process only: sizes ${remoteSizes.join(', ')}; delays ${remoteDelays.join(', ')} ms; ` +
      `${remoteRounds} rounds`,
  );
  const remote = await remoteSection();
  const results = {
    ...runInfo(`remote-only, ${full ? 'full' : 'quick'}`),
    remote,
    targets: remoteTargets(remote, { fullMode: full }),
  };
  const md = markdown(results, `d1sync benchmark: D1 in a second process (${results.mode})`);
  writeFileSync(path.join(here, 'results-remote.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(path.join(here, 'results-remote.md'), md);
  process.stdout.write(md);
  process.exit(0);
}
log(`mode ${full ? 'full' : 'quick'}; sizes ${sizes.join(', ')}`);
const wasm = await wasmFigures();
const results = {
  ...runInfo(full ? 'full' : 'quick'),
  wasm,
  sizes: [],
  targets: [],
};
for (const rows of sizes) {
  const size = await benchSize(rows);
  for (const c of size.contenders) c.rowsPerSec = c.rows / (c.ms / 1000);
  const rate = (id) => size.contenders.find((c) => c.id === id).rowsPerSec;
  size.limitRowsPerSec = Math.max(rate('baseline-c1'), rate('baseline-c2'));
  size.ratios = {
    toLimit: rate('d1sync-initial') / size.limitRowsPerSec,
    toOneRow: rate('d1sync-initial') / rate('baseline-a'),
    toOrm: rate('d1sync-initial') / rate('baseline-b'),
  };
  // workerd runs the DO and the local D1 on one thread, so reading the rows and D1's work add
  // up: the limit's D1 time plus the bare read is the best a DO-reading replicator can do here.
  const limitMs = (rows / size.limitRowsPerSec) * 1000;
  size.localCeiling = limitMs / (limitMs + size.readFloorMs);
  size.oneRowCeiling = (size.localCeiling * size.limitRowsPerSec) / rate('baseline-a');
  results.sizes.push(size);
}
results.sqliteWasm = [];
for (const rows of sizes) results.sqliteWasm.push(await benchSqliteWasm(rows));
results.http = [];
for (const rows of sizes) results.http.push(await benchHttp(rows));

const s0 = results.sizes[0];
const ini0 = s0.contenders.find((c) => c.id === 'd1sync-initial');
results.targets = [
  {
    target: 'initial sync ≥ 0.85× the limit',
    measured: `${s0.ratios.toLimit.toFixed(2)}× (ceiling for reading the DO here: ${s0.localCeiling.toFixed(2)}×)`,
    met: s0.ratios.toLimit >= 0.85,
  },
  {
    target: 'initial sync ≥ 10× one-row-per-statement',
    measured: `${s0.ratios.toOneRow.toFixed(1)}× (ceiling for reading the DO here: ${s0.oneRowCeiling.toFixed(1)}×)`,
    met: s0.ratios.toOneRow >= 10,
  },
  {
    target: 'initial sync ≥ 2× ORM chunking',
    measured: `${s0.ratios.toOrm.toFixed(2)}×`,
    met: s0.ratios.toOrm >= 2,
  },
  {
    target: '≤ 10 batch() calls per 100k rows (initial sync)',
    measured: `${((ini0.batchCalls * 100000) / ini0.rows).toFixed(1)}`,
    met: (ini0.batchCalls * 100000) / ini0.rows <= 10,
  },
  {
    target: 'capture ≤ 1.5× local insert cost (updates and deletes reported)',
    measured: `insert ${s0.capture.insert.ratio.toFixed(2)}×; update ${s0.capture.update.ratio.toFixed(2)}×, delete ${s0.capture.delete.ratio.toFixed(2)}×`,
    met: s0.capture.insert.ratio <= 1.5,
  },
  {
    target: '.wasm ≤ 200 KB gzipped',
    measured: `${(wasm.gzipBytes / 1000).toFixed(1)} KB`,
    met: wasm.gzipBytes <= 200000,
  },
];
if (results.sizes.length > 1) {
  const last = results.sizes[results.sizes.length - 1];
  const ratio = last.heapAfterInitialSync / s0.heapAfterInitialSync;
  results.targets.push({
    target: 'heap high-water at 1M ≤ 1.2× at 100k (initial sync)',
    measured: `${(last.heapAfterInitialSync / 1048576).toFixed(1)} MiB vs ${(s0.heapAfterInitialSync / 1048576).toFixed(1)} MiB = ${ratio.toFixed(2)}×`,
    met: ratio <= 1.2,
  });
} else {
  results.targets.push({
    target: 'heap high-water at 1M ≤ 1.2× at 100k',
    measured: 'not run (--full)',
    met: null,
  });
}
{
  const h = results.http[0];
  const doRate = results.sizes[0].contenders.find((c) => c.id === 'd1sync-initial').rowsPerSec;
  results.targets.push(
    {
      target: 'browser-style initial sync (httpTarget → endpoint) ≥ 0.5× the DO path',
      measured: `${Math.round(h.rowsPerSec)} vs ${Math.round(doRate)} rows/s = ${(h.rowsPerSec / doRate).toFixed(2)}×`,
      met: h.rowsPerSec >= 0.5 * doRate,
    },
    {
      target: "browser-style bytes on the wire ≤ 1.3× the rows' literal SQL",
      measured: `${(h.wireBytes / h.literalBytes).toFixed(2)}×`,
      met: h.wireBytes <= 1.3 * h.literalBytes,
    },
  );
}

// ---- The command line: `d1sync push` against .dump in 85 KB requests (bench/cli.mjs) ----
results.cli = [];
if (!existsSync(cliPath)) {
  log(`${cliPath} is missing: no command line section (cmake --build build --target d1sync)`);
} else {
  for (const rows of sizes) {
    log(`command line: ${rows} rows`);
    try {
      results.cli.push(await benchCli({ rows, log }));
    } catch (e) {
      log(`command line, ${rows} rows: ${e.message}`);
      results.cli.push({ rows, error: e.message });
    }
  }
}
results.targets.push(...cliTargets(results.cli, { fullMode: full }));
// ---- end of the command line's section ----

// ---- verify and hydrate, sqlite-wasm against local D1 (bench/verify.mjs) ----
results.verify = [];
for (const rows of sizes) {
  try {
    results.verify.push(await benchVerify({ rows, log }));
  } catch (e) {
    log(`verify/hydrate, ${rows} rows: ${e.message}`);
    results.verify.push({ rows, error: e.message });
  }
}
results.targets.push(...verifyTargets(results.verify));

// ---- D1 in a second process (bench/remote.mjs) ----
results.remote = await remoteSection();
results.targets.push(...remoteTargets(results.remote, { fullMode: full }));

// ---- 10,000,000 rows of a narrow table, --full or --scale (bench/scale.mjs) ----
if (full || withScale) {
  results.scale = [];
  for (const rows of SCALE_SIZES) {
    log(`scale: ${rows} rows of a narrow table`);
    try {
      results.scale.push(await benchScale({ rows, log }));
    } catch (e) {
      log(`scale, ${rows} rows: ${e.message}`);
      results.scale.push({ rows, error: e.message });
    }
  }
}
results.targets.push(...scaleTargets(results.scale, { fullMode: full || withScale }));

const md = markdown(results);
writeFileSync(path.join(here, 'results.json'), JSON.stringify(results, null, 2) + '\n');
writeFileSync(path.join(here, 'results.md'), md);
process.stdout.write(md);
