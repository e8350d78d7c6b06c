// The command line's benchmark: `d1sync push` of a SQLite file into D1 over the REST API,
// against what people do without it: `sqlite3 FILE .dump`, its CREATE TABLE and INSERT lines
// packed into requests of at most 85 KB of SQL, POSTed one after the other to the API's /query
// (as a shell script with curl would; each request is one atomic batch).
//
//   node bench/cli.mjs [ROWS ...] [--runs N] [--delay-ms N]    (default: 100000 rows)
//
// prints the results (one object per ROWS) as JSON on stdout. bench/run.mjs runs it too and
// adds the "Command line" section and its targets to bench/results.md.
//
// Both contenders talk to one D1 REST API stand-in (tools/d1-rest-standin.mjs: Miniflare's real
// D1 behind the API's envelope) that adds a fixed `delayMs` (default 20 ms) to every request, in
// place of the network. Each run uses a database of its own, freshly created, and d1sync a
// fresh copy of the generated file (its first push installs change capture in the file). The
// runs alternate (d1sync, .dump, d1sync, .dump, ...) and the figures are the medians: 2 runs
// each up to 100,000 rows; 1 run each above (a 1M-row run takes minutes per contender), unless
// --runs says otherwise. Each side's clock is wall time: the whole `d1sync push` process, and
// for the baseline the .dump and every request. The stand-in serves in this process, so both
// sides are measured with the same server; its first multi-statement request (which loads
// wrangler's SQL splitter) is made before any clock starts. The stand-in's own cost per
// statement is not D1's (see the floor below), so the baseline's figures come with its floor:
// the same run as if every request had taken exactly delayMs.
//
// Not modelled: the real API's rate limit (1,200 requests per 5 minutes). d1sync paces itself
// to that budget (--rate); the baseline here is not held to it, as a real script would be.
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startStandin } from '../tools/d1-rest-standin.mjs';
import { COLUMNS, TABLE_DDL } from './forms.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
export const cliPath = path.join(repoRoot, 'build/d1sync');
export const DUMP_REQUEST_BYTES = 85000; // the baseline's SQL per request
const TABLE = 'items';

const defaultLog = (...args) =>
  console.error(`[bench cli ${new Date().toISOString().slice(11, 19)}]`, ...args);

// `count` hex-looking 8-digit fields from the row number i: deterministic, varied content.
function hexOfRow(count, salt) {
  const fields = Array.from(
    { length: count },
    (_, j) => `(i * ${2654435761 + 40503 * (j + 16 * salt)} + ${j + salt}) % 4294967291`,
  );
  return `printf('${'%08x'.repeat(count)}', ${fields.join(', ')})`;
}

// bench/forms.js's table and row shape (id, name ~100 B, price REAL, data 64-byte BLOB, note
// NULL in 10% of rows), with deterministic content instead of randomblob().
export function generateFile(file, rows) {
  rmSync(file, { force: true });
  execFileSync('sqlite3', ['-bail', file], {
    input: `${TABLE_DDL(TABLE)};
      WITH RECURSIVE s(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM s WHERE i < ${rows})
      INSERT INTO ${TABLE}(${COLUMNS.join(', ')})
        SELECT i, 'item ' || printf('%08d', i) || ' ' || substr(${hexOfRow(11, 0)}, 1, 86),
          i * 0.25 + 0.01, CAST(${hexOfRow(8, 1)} AS BLOB),
          CASE WHEN i % 10 = 0 THEN NULL ELSE 'note ' || i END FROM s;`,
    encoding: 'utf8',
  });
}

async function countRows(api, name) {
  return (await api.d1(name).prepare(`SELECT count(*) AS n FROM ${TABLE}`).first()).n;
}

// One `d1sync push FILE --database UUID -q --json`, its clock around the whole process.
function pushWithD1sync(api, uuid, file) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('CLOUDFLARE_')) delete env[k];
  env.CLOUDFLARE_API_TOKEN = api.token;
  env.CLOUDFLARE_ACCOUNT_ID = api.account;
  env.CLOUDFLARE_API_BASE_URL = `${api.url}/client/v4`;
  return new Promise((resolve, reject) => {
    const t = performance.now();
    // Through a small shell that forks it: d1sync's maxRssKb is getrusage()'s ru_maxrss, which
    // Linux carries across execve() from the forked copy of the parent, so spawned straight
    // from this process (hundreds of MB after a baseline run) it would report this process's
    // size. `; exit $?` keeps the shell from exec'ing d1sync in its own place.
    const args = [cliPath, 'push', file, '--database', uuid, '-q', '--json'];
    const child = spawn('/bin/sh', ['-c', '"$@"; exit $?', 'sh', ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - t;
      if (code !== 0) {
        return reject(
          new Error(`d1sync push exited ${code ?? signal}: ${stderr.trim() || stdout.trim()}`),
        );
      }
      try {
        resolve({ ms, json: JSON.parse(stdout) });
      } catch {
        reject(new Error(`d1sync push printed no JSON: ${stdout.slice(0, 500)}`));
      }
    });
  });
}

async function postQuery(api, uuid, sql) {
  const body = JSON.stringify({ sql });
  const res = await fetch(
    `${api.url}/client/v4/accounts/${api.account}/d1/database/${uuid}/query`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body,
    },
  );
  const text = await res.text();
  let answer = null;
  try {
    answer = JSON.parse(text);
  } catch {}
  if (!res.ok || !answer?.success) {
    throw new Error(`/query answered ${res.status}: ${text.slice(0, 500)}`);
  }
  return Buffer.byteLength(body);
}

// The baseline: `sqlite3 FILE .dump`, read as it comes; the table's CREATE TABLE and its INSERT
// lines (.dump writes one statement per line; this table's values hold no newline), packed in
// order, joined by ";\n", into requests of at most DUMP_REQUEST_BYTES of SQL, sent one at a time.
async function pushWithDump(api, uuid, file) {
  const t = performance.now();
  const child = spawn('sqlite3', ['-readonly', file, '.dump']);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const wanted = [
    `CREATE TABLE ${TABLE}(`,
    `CREATE TABLE "${TABLE}"(`,
    `INSERT INTO ${TABLE} `,
    `INSERT INTO "${TABLE}" `,
  ];
  let requests = 0;
  let bytes = 0;
  let statements = 0;
  let requestMs = 0;
  let parts = [];
  let size = 0;
  const send = async () => {
    if (parts.length === 0) return;
    const r = performance.now();
    bytes += await postQuery(api, uuid, parts.join(';\n'));
    requestMs += performance.now() - r;
    requests += 1;
    parts = [];
    size = 0;
  };
  const take = async (line) => {
    if (!wanted.some((w) => line.startsWith(w))) return;
    const stmt = line.endsWith(';') ? line.slice(0, -1) : line;
    const n = Buffer.byteLength(stmt);
    if (parts.length > 0 && size + 2 + n > DUMP_REQUEST_BYTES) await send();
    size += (parts.length > 0 ? 2 : 0) + n;
    parts.push(stmt);
    statements += 1;
  };
  let rest = '';
  child.stdout.setEncoding('utf8');
  for await (const chunk of child.stdout) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) await take(line);
  }
  if (rest) await take(rest);
  await send();
  const code = await exited;
  const ms = performance.now() - t;
  if (code !== 0) throw new Error(`sqlite3 .dump exited ${code}: ${stderr.trim()}`);
  return { ms, requests, bytes, statements, requestMs };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export async function benchCli({ rows, delayMs = 20, log = defaultLog, runs }) {
  if (!existsSync(cliPath)) {
    throw new Error(`${cliPath} is missing: cmake --build build --target d1sync`);
  }
  runs ??= rows > 100000 ? 1 : 2;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'd1sync-bench-cli-'));
  const names = ['warm'];
  for (let i = 0; i < runs; ++i) names.push(`d1sync-${i}`, `baseline-${i}`);
  const api = await startStandin({
    databases: Object.fromEntries(names.map((n) => [n, randomUUID()])),
    delayMs,
  });
  const uuid = (name) => api.databases.find((d) => d.name === name).uuid;
  try {
    const file = path.join(dir, 'source.db');
    log(`${rows} rows: writing the file with the sqlite3 shell`);
    generateFile(file, rows);
    await postQuery(api, uuid('warm'), 'SELECT 1; SELECT 2');

    const d1syncRuns = [];
    const baselineRuns = [];
    for (let i = 0; i < runs; ++i) {
      const copy = path.join(dir, `push-${i}.db`);
      copyFileSync(file, copy);
      log(`${rows} rows, run ${i + 1}/${runs}: d1sync push`);
      api.resetStats();
      const d = await pushWithD1sync(api, uuid(`d1sync-${i}`), copy);
      const ds = api.stats();
      const dn = await countRows(api, `d1sync-${i}`);
      if (dn !== rows) throw new Error(`d1sync push left ${dn} rows in D1, not ${rows}`);
      d1syncRuns.push({
        ms: d.ms,
        requests: ds.requests,
        rowsPerSec: rows / (d.ms / 1000),
        maxRssKb: d.json.maxRssKb,
        bytes: ds.bytesIn,
        statements: ds.statements,
        // d1sync's own figures, from its --json output.
        reported: {
          rows: d.json.rows,
          requests: d.json.requests,
          bytesSent: d.json.bytesSent,
          seconds: d.json.seconds,
          rowsPerSecond: d.json.rowsPerSecond,
        },
      });
      rmSync(copy, { force: true });
      rmSync(`${copy}-wal`, { force: true });
      rmSync(`${copy}-shm`, { force: true });

      log(`${rows} rows, run ${i + 1}/${runs}: .dump in ${DUMP_REQUEST_BYTES}-byte requests`);
      api.resetStats();
      const b = await pushWithDump(api, uuid(`baseline-${i}`), file);
      const bs = api.stats();
      const bn = await countRows(api, `baseline-${i}`);
      if (bn !== rows) throw new Error(`the .dump baseline left ${bn} rows in D1, not ${rows}`);
      // The floor: the same run as if every request had taken exactly delayMs (a server that
      // takes no time). The stand-in's own time per statement is far from D1's: its D1 binding is
      // Miniflare's Node proxy, which prepares each statement of a request in a round trip to
      // workerd (~1-2 ms each, ~300 statements in an 85 KB request of .dump lines).
      const floorMs = b.ms - b.requestMs + b.requests * delayMs;
      baselineRuns.push({
        ms: b.ms,
        requests: bs.requests,
        rowsPerSec: rows / (b.ms / 1000),
        bytes: bs.bytesIn,
        statements: bs.statements,
        requestMs: b.requestMs,
        floorMs,
        floorRowsPerSec: rows / (floorMs / 1000),
      });
      log(
        `  d1sync ${Math.round(d.ms)} ms, ${ds.requests} requests; ` +
          `.dump ${Math.round(b.ms)} ms, ${bs.requests} requests`,
      );
    }
    const pick = (list, keys) =>
      Object.fromEntries(keys.map((k) => [k, median(list.map((r) => r[k]))]));
    const d1sync = {
      ...pick(d1syncRuns, ['ms', 'requests', 'rowsPerSec', 'maxRssKb', 'bytes']),
      runs: d1syncRuns,
    };
    const baseline = {
      ...pick(baselineRuns, [
        'ms',
        'requests',
        'rowsPerSec',
        'bytes',
        'floorMs',
        'floorRowsPerSec',
      ]),
      requestBytes: DUMP_REQUEST_BYTES,
      runs: baselineRuns,
    };
    return {
      rows,
      delayMs,
      d1sync,
      baseline,
      ratios: {
        fewerRequests: baseline.requests / d1sync.requests,
        faster: d1sync.rowsPerSec / baseline.rowsPerSec,
        fasterThanFloor: d1sync.rowsPerSec / baseline.floorRowsPerSec,
      },
    };
  } finally {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- bench/run.mjs's use: its targets and its markdown section --------------------------------

const fmt = (x, d = 0) =>
  x === undefined || x === null || Number.isNaN(x)
    ? '—'
    : Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

// The targets, measured at the largest size that ran (the goal is stated for 1,000,000 rows).
// `list` holds benchCli() results, or {rows, error} for a size that failed.
export function cliTargets(list, { fullMode }) {
  const fewer =
    'command line: ≥ 5× fewer requests than .dump in 85 KB requests (20 ms per request)';
  const faster = 'command line: ≥ 3× the rows/s of .dump in 85 KB requests';
  const rss = 'command line: RSS at 1M ≤ 1.2× at 100k';
  if (!list || list.length === 0) {
    return [fewer, faster, rss].map((target) => ({
      target,
      measured: `not run (${path.relative(repoRoot, cliPath)} missing)`,
      met: null,
    }));
  }
  const ok = list.filter((r) => !r.error);
  const failed = list.filter((r) => r.error);
  const last = list[list.length - 1];
  const each = (f) =>
    list.map((r) => `${fmt(r.rows)} rows: ${r.error ? `failed (${r.error})` : f(r)}`).join('; ');
  const targets = [
    {
      target: fewer,
      measured: each(
        (r) =>
          `${r.ratios.fewerRequests.toFixed(1)}× (${fmt(r.baseline.requests)} vs ${fmt(r.d1sync.requests)})`,
      ),
      met: last.error ? false : last.ratios.fewerRequests >= 5,
    },
    {
      target: faster,
      measured: each(
        (r) =>
          `${r.ratios.faster.toFixed(2)}× (${fmt(r.d1sync.rowsPerSec)} vs ${fmt(r.baseline.rowsPerSec)} rows/s; ` +
          `${r.ratios.fasterThanFloor.toFixed(2)}× the baseline's floor, every request exactly ${r.delayMs} ms)`,
      ),
      met: last.error ? false : last.ratios.faster >= 3,
    },
  ];
  const small = ok.find((r) => r.rows === 100000);
  const big = ok.find((r) => r.rows === 1000000);
  if (small && big) {
    const ratio = big.d1sync.maxRssKb / small.d1sync.maxRssKb;
    targets.push({
      target: rss,
      measured: `${fmt(big.d1sync.maxRssKb / 1024, 1)} MiB vs ${fmt(small.d1sync.maxRssKb / 1024, 1)} MiB = ${ratio.toFixed(2)}×`,
      met: ratio <= 1.2,
    });
  } else {
    targets.push({
      target: rss,
      measured: !fullMode
        ? 'not run (--full)'
        : failed.length
          ? `failed: ${failed.map((r) => `${fmt(r.rows)} rows: ${r.error}`).join('; ')}`
          : 'not measured (needs 100,000 and 1,000,000 rows)',
      met: fullMode && failed.length ? false : null,
    });
  }
  return targets;
}

export function cliMarkdown(list) {
  if (!list || list.length === 0) return [];
  const lines = ['## Command line: `d1sync push` over the D1 REST API', ''];
  const r0 = list.find((r) => !r.error);
  lines.push(
    `- the file: bench/forms.js's table, written by the sqlite3 shell; D1: the REST API ` +
      `stand-in (Miniflare's D1) with ${r0 ? r0.delayMs : 20} ms added to every request; ` +
      `baseline: \`sqlite3 FILE .dump\`, its CREATE TABLE and INSERT statements in requests of ` +
      `at most ${fmt(DUMP_REQUEST_BYTES)} bytes of SQL, one request at a time; wall time, ` +
      `medians of the runs shown; RSS: d1sync's peak (maxRssKb). The stand-in spends ~1-2 ms ` +
      `per statement (Miniflare's Node proxy prepares each one in a round trip to workerd), ` +
      `which real D1 does not: it weighs on the baseline's ~300 statements per request, hence ` +
      `its floor below`,
    '',
  );
  lines.push('| rows | contender | runs | requests | seconds | rows/s | RSS |');
  lines.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of list) {
    if (r.error) {
      lines.push(`| ${fmt(r.rows)} | failed: ${r.error} | | | | | |`);
      continue;
    }
    const row = (label, c, rss) =>
      `| ${fmt(r.rows)} | ${label} | ${c.runs.length} | ${fmt(c.requests)} | ` +
      `${fmt(c.ms / 1000, 2)} | ${fmt(c.rowsPerSec)} | ${rss} |`;
    lines.push(row('d1sync push', r.d1sync, `${fmt(r.d1sync.maxRssKb / 1024, 1)} MiB`));
    lines.push(row('.dump in 85 KB requests', r.baseline, '—'));
  }
  lines.push('');
  for (const r of list.filter((x) => !x.error)) {
    lines.push(
      `- ${fmt(r.rows)} rows: ${r.ratios.fewerRequests.toFixed(1)}× fewer requests, ` +
        `${r.ratios.faster.toFixed(2)}× the rows/s; against the baseline's floor (the same run ` +
        `with every request taking exactly ${r.delayMs} ms: ${fmt(r.baseline.floorMs / 1000, 2)} s, ` +
        `${fmt(r.baseline.floorRowsPerSec)} rows/s) ${r.ratios.fasterThanFloor.toFixed(2)}×; ` +
        `bytes sent per row ${fmt(r.d1sync.bytes / r.rows, 1)} vs ${fmt(r.baseline.bytes / r.rows, 1)}; ` +
        `per request ${fmt(r.d1sync.bytes / r.d1sync.requests / 1048576, 2)} MiB vs ` +
        `${fmt(r.baseline.bytes / r.baseline.requests / 1024, 1)} KiB`,
    );
  }
  lines.push('');
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { runs: { type: 'string' }, 'delay-ms': { type: 'string' } },
  });
  const sizes = positionals.length ? positionals.map(Number) : [100000];
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) {
    console.error('usage: node bench/cli.mjs [ROWS ...] [--runs N] [--delay-ms N]');
    process.exit(2);
  }
  const out = [];
  for (const rows of sizes) {
    out.push(
      await benchCli({
        rows,
        delayMs: values['delay-ms'] === undefined ? 20 : Number(values['delay-ms']),
        runs: values.runs === undefined ? undefined : Number(values.runs),
      }),
    );
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}
