// The package as users get it: `npm pack`, installed into an empty folder, imported from Node
// (replicating a real sqlite-wasm database into a real local D1), and bundled into a Worker by
// `wrangler deploy --dry-run` with the engine as a WebAssembly module, and bundled for a browser
// page, which Chromium loads with the .wasm beside it; a copy of worker-template/ with it
// installed assembles its page's assets and type-checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  symlinkSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  mkdirSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
const bin = (name) => join(repo, 'node_modules/.bin', name);
const run = (cmd, args, cwd, env = {}) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });

const work = mkdtempSync(join(tmpdir(), 'd1sync-pack-'));
const tarball = run('npm', ['pack', '--silent', '--pack-destination', work], repo)
  .trim()
  .split('\n')
  .pop();
const app = join(work, 'app');
mkdirSync(app);
writeFileSync(
  join(app, 'package.json'),
  JSON.stringify({ name: 'app', private: true, type: 'module' }),
);
run('npm', ['install', '--no-audit', '--no-fund', '--offline', join(work, tarball)], app);

test('the tarball ships the engine, the glue, the JS and the types, and nothing else', () => {
  const files = run('tar', ['-tzf', join(work, tarball)], work)
    .trim()
    .split('\n')
    .sort();
  for (const f of [
    'package/dist/d1sync_engine.wasm',
    'package/dist/d1sync_engine.js',
    'package/js/index.d.ts',
    'package/js/entry-node.js',
    'package/js/entry-workerd.js',
    'package/js/entry-browser.js',
    'package/package.json',
  ]) {
    assert.ok(files.includes(f), `${f} missing from ${files.join(', ')}`);
  }
  assert.ok(
    !files.some((f) => /\.(cpp|hpp)$|^package\/(tests|wasm|tools)\//.test(f)),
    files.join('\n'),
  );
});

test('an installed copy replicates sqlite-wasm into local D1 from Node', () => {
  const script = `
    import { Miniflare } from ${JSON.stringify(join(repo, 'node_modules/miniflare/dist/src/index.js'))};
    import sqlite3InitModule from ${JSON.stringify(join(repo, 'node_modules/@sqlite.org/sqlite-wasm/dist/node.mjs'))};
    import { createReplicator, sqliteWasmSource, d1BindingTarget, D1SyncError } from 'd1sync';
    const mf = new Miniflare({ modules: true, script: 'export default {}', d1Databases: ['DB'],
                               compatibilityDate: '2026-04-26' });
    const d1 = await mf.getD1Database('DB');
    const sqlite3 = await sqlite3InitModule();
    const db = new sqlite3.oo1.DB(':memory:', 'c');
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 9223372036854775807), (2, 'two')");
    const r = await createReplicator({ source: sqliteWasmSource(db), target: d1BindingTarget(d1), sourceId: 'pack' });
    await r.start();
    await r.flush();
    const rows = await d1.prepare('SELECT id, CAST(v AS TEXT) AS v FROM t ORDER BY id').all();
    let config = null;
    try { await createReplicator({ source: sqliteWasmSource(db), target: {}, sourceId: 'x' }); }
    catch (e) { config = e instanceof D1SyncError ? e.code : String(e); }
    console.log(JSON.stringify({ rows: rows.results, state: r.health().state, config }));
    r.close();
    await mf.dispose();`;
  writeFileSync(join(app, 'smoke.mjs'), script);
  const out = JSON.parse(run('node', ['smoke.mjs'], app).trim().split('\n').pop());
  assert.deepEqual(out.rows, [
    { id: 1, v: '9223372036854775807' },
    { id: 2, v: 'two' },
  ]);
  assert.equal(out.state, 'idle');
  assert.equal(out.config, 'CONFIG');
});

test('wrangler bundles a Worker importing d1sync with the engine as a WebAssembly module', () => {
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(
    join(app, 'src/index.js'),
    `
    import { createReplicator, durableObjectSource, d1BindingTarget } from 'd1sync';
    import { DurableObject } from 'cloudflare:workers';
    export class Room extends DurableObject {
      async fetch() {
        const sync = await createReplicator({ source: durableObjectSource(this.ctx.storage),
          target: d1BindingTarget(this.env.DB), sourceId: 'room' });
        await sync.start();
        return Response.json(sync.health());
      }
    }
    export default { fetch: (req, env) => env.ROOM.get(env.ROOM.idFromName('a')).fetch(req) };`,
  );
  writeFileSync(
    join(app, 'wrangler.toml'),
    `
name = "pack-smoke"
main = "src/index.js"
compatibility_date = "2026-04-26"
[[durable_objects.bindings]]
name = "ROOM"
class_name = "Room"
[[migrations]]
tag = "v1"
new_sqlite_classes = ["Room"]
[[d1_databases]]
binding = "DB"
database_name = "pack-smoke"
database_id = "00000000-0000-0000-0000-000000000000"
`,
  );
  const out = join(app, 'out');
  run(bin('wrangler'), ['deploy', '--dry-run', '--outdir', out], app, {
    WRANGLER_SEND_METRICS: 'false',
    CI: 'true',
    NO_UPDATE_NOTIFIER: '1',
  });
  const files = readdirSync(out);
  const wasm = files.filter((f) => f.endsWith('.wasm'));
  assert.equal(wasm.length, 1, files.join(', '));
  const bundle = readFileSync(join(out, 'index.js'), 'utf8');
  assert.match(bundle, new RegExp(`from "\\.\\/${wasm[0].replace('.', '\\.')}"`));
  assert.ok(!/new Function\(|\beval\(/.test(bundle), 'the bundle must not need eval');
});

test('the browser export, bundled for a page, loads the .wasm next to it in Chromium', async () => {
  const web = join(app, 'web');
  mkdirSync(join(web, 'dist'), { recursive: true });
  // The engine's own option check answering proves the .wasm was fetched, compiled and run.
  writeFileSync(
    join(web, 'main.js'),
    `
    import { createReplicator, httpTarget } from 'd1sync';
    const source = { kind: 'test', exec: () => ({ ok: true, error: '', columns: 0, cells: '' }),
      transaction: (fn) => fn() };
    window.result = createReplicator({ source, target: httpTarget('/d1sync'), sourceId: 's',
      flushRetryMs: -1 }).then(() => 'created', (e) => e.code + ': ' + e.message);`,
  );
  // esbuild as wrangler pins it; a bundler keeps new URL('../dist/…', import.meta.url) as is.
  run(
    bin('esbuild'),
    ['main.js', '--bundle', '--format=esm', '--platform=browser', '--outfile=js/main.js'],
    web,
  );
  const bundle = readFileSync(join(web, 'js/main.js'), 'utf8');
  assert.match(bundle, /\.\.\/dist\/d1sync_engine\.wasm/);
  copyFileSync(
    join(app, 'node_modules/d1sync/dist/d1sync_engine.wasm'),
    join(web, 'dist/d1sync_engine.wasm'),
  );
  writeFileSync(join(web, 'index.html'), '<script type="module" src="/js/main.js"></script>');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createServer((req, res) => {
    const file = join(web, new URL(req.url, 'http://x').pathname);
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
  try {
    const page = await browser.newPage();
    const fetched = [];
    page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
    await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
    const result = await page.evaluate(() => window.result);
    assert.match(result, /^CONFIG: flushRetryMs must be/);
    assert.ok(fetched.includes('/dist/d1sync_engine.wasm'), fetched.join(', '));
  } finally {
    await browser.close();
    server.close();
  }
});

// A copy of worker-template/ as a user has it after `npm install`: this tarball as d1sync, and
// the other packages as the repository pins them.
const copy = join(work, 'template-copy');
cpSync(join(repo, 'worker-template'), copy, {
  recursive: true,
  filter: (src) => !/(^|\/)(node_modules|assets|\.wrangler|\.dev\.vars)$/.test(src),
});
mkdirSync(join(copy, 'node_modules/@sqlite.org'), { recursive: true });
mkdirSync(join(copy, 'node_modules/@cloudflare'), { recursive: true });
symlinkSync(join(app, 'node_modules/d1sync'), join(copy, 'node_modules/d1sync'));
for (const pkg of [
  '@sqlite.org/sqlite-wasm',
  'jose',
  'uplot',
  'vitest',
  '@cloudflare/vitest-pool-workers',
]) {
  symlinkSync(join(repo, 'node_modules', pkg), join(copy, 'node_modules', pkg));
}

test("a copy of worker-template/ assembles its page's assets with its own build step", () => {
  const toml = readFileSync(join(copy, 'wrangler.toml'), 'utf8');
  const command = JSON.parse(/\[build\]\s*command = (".*")/.exec(toml)[1]);
  run('sh', ['-c', command], copy);
  const assets = join(copy, 'assets');
  for (const f of [
    'index.html',
    'app.js',
    'sync-worker.js',
    'dashboard.html',
    'lib/d1sync/dist/d1sync_engine.wasm',
    'lib/uplot/uPlot.min.css',
  ]) {
    assert.ok(existsSync(join(assets, f)), `${f} missing from the copy's assets`);
  }
  // Every module the page imports is there, at the path it imports it from.
  for (const page of ['app.js', 'sync-worker.js', 'dashboard.js']) {
    const source = readFileSync(join(assets, page), 'utf8');
    for (const [, spec] of source.matchAll(/from '(\.[^']+)'/g)) {
      assert.ok(existsSync(join(assets, spec)), `${page} imports ${spec}, which is missing`);
    }
  }
  assert.ok(existsSync(join(assets, 'lib/d1sync/js/entry-browser.js')));
  assert.ok(existsSync(join(assets, 'lib/sqlite-wasm/sqlite3.wasm')));
});

test('a copy of worker-template/ type-checks against the installed d1sync', () => {
  const quiet = { WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_UPDATE_NOTIFIER: '1' };
  // `npm run check`: `wrangler types` writes its Env, then tsc --noEmit on src/ and on test/
  // passes with `d1sync` resolved to the tarball's types.
  run(bin('wrangler'), ['types'], copy, quiet);
  assert.match(
    readFileSync(join(copy, 'worker-configuration.d.ts'), 'utf8'),
    /ROOMS: DurableObjectNamespace<import\("\.\/src\/index"\)\.Room>/,
  );
  run(bin('tsc'), ['--noEmit', '-p', 'test'], copy);
  const files = run(bin('tsc'), ['--noEmit', '-p', '.', '--listFiles'], copy);
  const d1syncTypes = files.split('\n').filter((f) => f.endsWith('/js/index.d.ts'));
  assert.deepEqual(
    d1syncTypes.map((f) => f.startsWith(join(work, 'app/node_modules/d1sync/'))),
    [true],
    d1syncTypes.join('\n'),
  );
});

test.after(() => rmSync(work, { recursive: true, force: true }));
