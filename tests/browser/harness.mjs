// Shared setup for tests/browser/*.test.mjs: the worker-template bundled as `wrangler deploy`
// bundles it, served by workerd (Miniflare) with its static assets on a real localhost port
// (OPFS needs a secure context, and localhost is one), and Debian's Chromium driven headless
// by playwright-core with a profile directory of its own, so OPFS survives a relaunch.
//
// A page's origin includes the port: keep one server running for everything that must see the
// same OPFS (a reload, a relaunch).
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { bundle, serve, repoRoot } from '../../tools/template.mjs';
import { buildAssets } from '../../tools/build_assets.mjs';
import { DEV_SECRET, mintToken } from '../../tools/mint-token.mjs';
import { sleep, waitFor as pollUntil } from '../template/helpers.mjs';

export { repoRoot };

// A sync token for the page: the template's JWT (sub = the browser's client id, which is its
// sourceId; tenant = its partition of D1's tasks, room_id = tenant), valid for a day.
export function tokenFor(tenant, sub) {
  return mintToken({ tenant, sub, ttl: 24 * 60 * 60, secret: DEV_SECRET });
}

export const CHROMIUM = process.env.D1SYNC_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

export function tempDir(prefix) {
  return mkdtempSync(path.join(tmpdir(), `d1sync-${prefix}-`));
}

// For a describe(): the template served once for its tests, and the browser profile folders
// they make, all removed after them. `served.server` is set once before() ran.
export function servedTemplate() {
  const served = {
    server: null,
    profiles: [],
    profile() {
      const dir = tempDir('profile');
      served.profiles.push(dir);
      return dir;
    },
  };
  before(async () => {
    served.server = await startServer();
  });
  after(async () => {
    await served.server?.dispose();
    for (const dir of served.profiles) rmSync(dir, { recursive: true, force: true });
  });
  return served;
}

// The template (or a fixture that wraps it) with freshly assembled assets, listening on
// 127.0.0.1, its AUTH_SECRET the one tokenFor() signs with. Returns { url, mf, d1, dispose }.
export async function startServer({ entry = 'worker-template/src/index.ts', persistDir } = {}) {
  if (!existsSync(path.join(repoRoot, 'dist/d1sync_engine.wasm'))) {
    throw new Error('dist/d1sync_engine.wasm is missing: run `npm run build` first');
  }
  const assets = buildAssets(tempDir('assets'));
  const { dir, script } = bundle(entry);
  const mf = await serve(script, {
    assets,
    port: 0,
    persistDir,
    bindings: { AUTH_SECRET: DEV_SECRET },
  });
  const url = (await mf.ready).href;
  return {
    url,
    mf,
    d1: await mf.getD1Database('DB'),
    async dispose() {
      await mf.dispose();
      rmSync(dir, { recursive: true, force: true });
      rmSync(assets, { recursive: true, force: true });
    },
  };
}

// Chromium with the profile in `profileDir` (created by the caller; reuse it to relaunch the
// same browser). Messages the page and its workers log are kept in `log` for failures.
export async function launchBrowser(profileDir) {
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  // Generous, never a measure: a wait that ends here is a hang, not a slow run.
  context.setDefaultTimeout(10 * 60 * 1000);
  const log = [];
  const watch = (page) => {
    page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    page.on('worker', (w) => log.push(`worker started: ${w.url()}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return {
    context,
    log,
    async close() {
      await context.close();
    },
  };
}

// Opens the task list at `url` in the browser's first tab and waits until its database worker
// has opened the OPFS database. With `token`, the page gets it as `#token=` and replicates (it
// keeps the token in localStorage, so later loads replicate too). Returns
// { page, info, call(op, args) } where `info` is what the worker reported on opening and call()
// sends the worker a request through the page.
export async function openApp(browser, url, { token } = {}) {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  await page.goto(token ? `${url}#token=${token}` : url);
  const info = await appReady(page, browser.log);
  return { page, info, call: (op, args) => call(page, op, args) };
}

// After a load or reload: waits for the database worker's `ready` (or its failure).
export async function appReady(page, log = []) {
  await page.waitForFunction(() => window.tasksApp !== undefined, null, { polling: 50 });
  try {
    return await page.evaluate(() => window.tasksApp.ready);
  } catch (e) {
    assert.fail(`the page's database did not open: ${e.message}\n${log.join('\n')}`);
  }
}

export function call(page, op, args = {}) {
  return page.evaluate(([o, a]) => window.tasksApp.call(o, a), [op, args]);
}

export { sleep };

// Polls `probe` until it returns a truthy value (the template tests' waitFor, with a longer
// hang guard for a browser); nothing here asserts how long it took.
export function waitFor(label, probe, options = {}) {
  return pollUntil(label, probe, { every: 100, maxIterations: 6000, ...options });
}

// The OPFS entries of the page's origin, as the page itself lists them: path -> 'dir', or a
// file's size (null while another context holds it open exclusively).
export function opfsListing(page) {
  return page.evaluate(async () => {
    const out = {};
    async function walk(dir, prefix) {
      for await (const [name, handle] of dir.entries()) {
        const p = `${prefix}/${name}`;
        if (handle.kind === 'directory') {
          out[p] = 'dir';
          await walk(handle, p);
        } else {
          out[p] = await handle.getFile().then(
            (f) => f.size,
            () => null,
          );
        }
      }
    }
    await walk(await navigator.storage.getDirectory(), '');
    return out;
  });
}

// One SELECT of `table` in key order where each cell is its storage class and exact bytes:
// typeof, then hex for INTEGER, TEXT and BLOB, the double itself for REAL (REAL text differs
// between SQLite versions). The same SQL runs in the browser and in D1.
export function exactRowsSql(table, columns, { key = 'id', where = '' } = {}) {
  const q = (name) => `"${name.replaceAll('"', '""')}"`;
  const cells = columns.flatMap((c) => [
    `typeof(${q(c)})`,
    `CASE typeof(${q(c)}) WHEN 'real' THEN ${q(c)} ELSE hex(${q(c)}) END`,
  ]);
  return `SELECT ${cells.join(', ')} FROM ${q(table)}${where ? ` WHERE ${where}` : ''} ORDER BY ${q(key)}`;
}

export const TASK_COLUMNS = ['id', 'title', 'done', 'updated_at'];

// Stands between the browser and the sync endpoint (/d1sync/*), for every tab and worker of
// the browser: while `down`, a request is refused as by a server that is not running;
// `holdAfter(n)` lets n more apply requests through and keeps the ones after waiting, in
// flight, until `release()`. `ops` counts the requests let through, by op; `held` those
// waiting. Register it before the page opens (routes belong to one browser launch).
export async function endpointControl(browser) {
  let gate = null;
  let open = null;
  let allowance = Infinity;
  const ctl = {
    down: false,
    held: 0,
    refused: 0,
    ops: {},
    holdAfter(n) {
      allowance = n;
    },
    release() {
      allowance = Infinity;
      const o = open;
      gate = null;
      open = null;
      o?.();
    },
  };
  const isEndpoint = (url) => url.pathname.startsWith('/d1sync/');
  await browser.context.route(isEndpoint, async (route) => {
    const op = new URL(route.request().url()).pathname.split('/').pop();
    if (op === 'apply') {
      if (allowance <= 0) {
        gate ??= new Promise((resolve) => (open = resolve));
        ++ctl.held;
        await gate;
        --ctl.held;
      } else {
        --allowance;
      }
    }
    // The page may be gone by now (a reload): then there is nothing to answer.
    if (ctl.down) {
      ++ctl.refused;
      await route.abort('connectionrefused').catch(() => {});
      return;
    }
    ctl.ops[op] = (ctl.ops[op] ?? 0) + 1;
    await route.continue().catch(() => {});
  });
  return ctl;
}

// The page's replication health, through its worker.
export const health = (page) => call(page, 'health');

const settled = (h) => h.state === 'idle' && h.pendingChanges === 0 && h.initialSync?.done;

// Waits until the page's replicator is idle with nothing pending and its initial copy done.
export function waitSynced(page) {
  let last;
  return waitFor(
    'the page to finish replicating',
    async () => {
      last = await health(page);
      return settled(last) && last;
    },
    { describe: () => JSON.stringify(last) },
  );
}

// The tasks of `tenant` in D1, cell by cell as exactRowsSql() renders them.
export function d1TaskRows(d1, tenant) {
  const where = `room_id = '${tenant.replaceAll("'", "''")}'`;
  return d1.prepare(exactRowsSql('tasks', TASK_COLUMNS, { where })).raw();
}

export async function d1TaskCount(d1, tenant) {
  try {
    const r = await d1.prepare('SELECT count(*) FROM tasks WHERE room_id = ?').bind(tenant).raw();
    return r[0][0];
  } catch (e) {
    if (/no such table/.test(e.message)) return 0;
    throw e;
  }
}

// Asserts that D1 holds the page's tasks row for row (storage class and bytes of every cell)
// under room_id = tenant; returns the row count.
export async function expectSameInD1(d1, page, tenant) {
  const local = await call(page, 'query', { sql: exactRowsSql('tasks', TASK_COLUMNS) });
  const remote = await d1TaskRows(d1, tenant);
  const n = Math.min(local.length, remote.length);
  for (let r = 0; r < n; ++r) {
    const a = JSON.stringify(local[r]);
    const b = JSON.stringify(remote[r]);
    assert.equal(b, a, `row ${r} (in key order) differs: browser ${a}, D1 ${b}`);
  }
  assert.equal(
    remote.length,
    local.length,
    `the browser has ${local.length} rows, D1 ${remote.length}`,
  );
  return local.length;
}
