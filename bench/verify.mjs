// The bench's verify and hydrate section: sqlite-wasm (Node) against Miniflare's local D1.
//   verify of an equal table: rows read on each side (D1's own meta.rows_read), requests,
//     seconds; beside it what checking by hand costs: every row of D1 read back in 10,000-row
//     pages and compared with the local rows.
//   hydrate of a fresh sqlite-wasm database from D1: rows/s, beside the initial sync's.
// Run by bench/run.mjs (100,000 rows; 1,000,000 with --full), or alone:
//   node bench/verify.mjs [rows...]
import { performance } from 'node:perf_hooks';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Miniflare } from 'miniflare';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { createReplicator, sqliteWasmSource, d1BindingTarget } from '../js/entry-node.js';
import { COLUMNS, TABLE_DDL, SEED_SQL } from './forms.js';

const defaultLog = (m) => process.stderr.write(`[bench] ${m}\n`);

// Requests and the time spent waiting for D1 (the rest of a verify is the local side).
function countingTarget(d1) {
  const inner = d1BindingTarget(d1);
  const t = {
    requests: 0,
    ms: 0,
    async batch(statements) {
      const t0 = performance.now();
      try {
        return await inner.batch(statements);
      } finally {
        t.requests += 1;
        t.ms += performance.now() - t0;
      }
    },
  };
  return t;
}

// The hand-written check: read D1's rows back in pages and compare them with the local ones.
async function readBackAndCompare(db, d1, rows) {
  const t0 = performance.now();
  let rowsRead = 0;
  let requests = 0;
  let differing = 0;
  const cols = COLUMNS.join(',');
  for (let after = 0; ;) {
    const page = await d1
      .prepare(`SELECT ${cols} FROM items WHERE id > ? ORDER BY id LIMIT 10000`)
      .bind(after)
      .run();
    requests += 1;
    rowsRead += page.meta.rows_read;
    if (!page.results.length) break;
    const last = page.results[page.results.length - 1].id;
    const local = db.exec({
      sql: `SELECT ${cols} FROM items WHERE id > ? AND id <= ? ORDER BY id`,
      bind: [after, last],
      rowMode: 'object',
      returnValue: 'resultRows',
    });
    page.results.forEach((r, i) => {
      const l = local[i];
      if (!l || COLUMNS.some((c) => String(l[c]) !== String(r[c]))) differing += 1;
    });
    after = last;
    if (page.results.length < 10000) break;
  }
  return { ms: performance.now() - t0, rowsRead, requests, differing, rows };
}

export async function benchVerify({ rows, log = defaultLog }) {
  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response("") } }',
    d1Databases: ['DB'],
    compatibilityDate: '2026-04-26',
  });
  await mf.ready;
  const sqlite3 = await sqlite3InitModule();
  const db = new sqlite3.oo1.DB(':memory:');
  const fresh = new sqlite3.oo1.DB(':memory:');
  try {
    const d1 = await mf.getD1Database('DB');
    log(`verify/hydrate: ${rows} rows`);
    db.exec(TABLE_DDL('items'));
    db.exec(SEED_SQL('items', rows));
    const target = countingTarget(d1);
    let t = performance.now();
    const r = await createReplicator({
      source: sqliteWasmSource(db),
      target,
      sourceId: `verify-${rows}`,
    });
    await r.start();
    await r.flush();
    const syncMs = performance.now() - t;

    const before = { requests: target.requests, ms: target.ms };
    t = performance.now();
    const report = await r.verify();
    const verifyMs = performance.now() - t;
    if (!report.equal) throw new Error(`verify of equal tables said: ${JSON.stringify(report)}`);
    const verify = {
      ms: verifyMs,
      rowsReadD1: report.rowsReadD1,
      d1Ms: target.ms - before.ms,
      rowsReadLocal: report.rowsReadLocal,
      requests: target.requests - before.requests,
      statements: report.statements,
    };
    r.close();
    const readBack = await readBackAndCompare(db, d1, rows);

    t = performance.now();
    const h = await createReplicator({
      source: sqliteWasmSource(fresh),
      target: d1BindingTarget(d1),
      sourceId: `verify-${rows}`,
      hydrate: true,
      takeover: true,
    });
    await h.start();
    const hydrateMs = performance.now() - t;
    const hydrated = h.health().rowsHydrated;
    h.close();
    if (hydrated !== rows) throw new Error(`hydrate wrote ${hydrated} rows of ${rows}`);
    return {
      rows,
      initialSync: { ms: syncMs, rowsPerSec: rows / (syncMs / 1000) },
      verify,
      readBack,
      hydrate: { ms: hydrateMs, rowsPerSec: rows / (hydrateMs / 1000) },
    };
  } finally {
    db.close();
    fresh.close();
    await mf.dispose();
  }
}

const fmt = (x, d = 0) =>
  Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

export function verifyTargets(list) {
  const out = [];
  const small = list.find((v) => v.rows === 100000 && !v.error);
  if (small) {
    out.push({
      target: 'verify of 100k equal rows: ≤ 1.1× rows read in D1, ≤ 12 requests',
      measured: `${fmt(small.verify.rowsReadD1)} rows read (${(small.verify.rowsReadD1 / small.rows).toFixed(3)}×), ${small.verify.requests} requests`,
      met: small.verify.rowsReadD1 <= 1.1 * small.rows && small.verify.requests <= 12,
    });
  }
  return out;
}

export function verifyMarkdown(list) {
  if (!list.length) return [];
  const lines = [
    '',
    '## verify and hydrate (sqlite-wasm in Node ↔ local D1)',
    '',
    '| rows | what | requests | D1 rows read | local rows read | seconds | rows/s |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const v of list) {
    if (v.error) {
      lines.push(`| ${fmt(v.rows)} | failed: ${v.error} | | | | | |`);
      continue;
    }
    const s = (ms) => (ms / 1000).toFixed(2);
    lines.push(
      `| ${fmt(v.rows)} | initial sync (for comparison) | | | | ${s(v.initialSync.ms)} | ${fmt(v.initialSync.rowsPerSec)} |`,
      `| ${fmt(v.rows)} | \`verify()\`, equal | ${v.verify.requests} | ${fmt(v.verify.rowsReadD1)} | ${fmt(v.verify.rowsReadLocal)} | ${s(v.verify.ms)} | ${fmt(v.rows / (v.verify.ms / 1000))} |`,
      `| ${fmt(v.rows)} | read D1 back in 10,000-row pages and compare | ${v.readBack.requests} | ${fmt(v.readBack.rowsRead)} | ${fmt(v.rows)} | ${s(v.readBack.ms)} | ${fmt(v.rows / (v.readBack.ms / 1000))} |`,
      `| ${fmt(v.rows)} | hydrate a new database from D1 | | | | ${s(v.hydrate.ms)} | ${fmt(v.hydrate.rowsPerSec)} |`,
    );
  }
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const sizes = process.argv.slice(2).map(Number);
  const list = [];
  for (const rows of sizes.length ? sizes : [100000]) list.push(await benchVerify({ rows }));
  process.stdout.write(verifyMarkdown(list).join('\n') + '\n');
}
