// Bundles worker-template/ the way `wrangler deploy` does (esbuild through wrangler, the engine
// as a WebAssembly module) and serves it in Miniflare: used by the demo and the tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// `main` is the entry to bundle (the template, or a test fixture that wraps it).
export function bundle(main = 'worker-template/src/index.ts') {
  const dir = mkdtempSync(path.join(tmpdir(), 'd1sync-template-'));
  const config = path.join(dir, 'wrangler.toml');
  writeFileSync(
    config,
    `name = "d1sync-rooms"
main = ${JSON.stringify(path.resolve(repoRoot, main))}
compatibility_date = "2026-04-26"
[alias]
"d1sync" = ${JSON.stringify(path.join(repoRoot, 'js/entry-workerd.js'))}
[[durable_objects.bindings]]
name = "ROOMS"
class_name = "Room"
[[migrations]]
tag = "v1"
new_sqlite_classes = ["Room"]
[[d1_databases]]
binding = "DB"
database_name = "d1sync-rooms"
database_id = "00000000-0000-0000-0000-000000000000"
`,
  );
  const out = path.join(dir, 'out');
  execFileSync(
    path.join(repoRoot, 'node_modules/.bin/wrangler'),
    ['deploy', '--dry-run', '--config', config, '--outdir', out],
    {
      cwd: dir,
      stdio: 'pipe',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    },
  );
  // wrangler names the bundle after the entry file.
  return { dir, script: path.join(out, path.basename(main).replace(/\.[cm]?[jt]s$/, '.js')) };
}

// `bindings` are the Worker's plain variables and secrets, as AUTH_SECRET from .dev.vars or
// `wrangler secret put` would be. `assets`: a directory of static assets
// (tools/build_assets.mjs) served in front of the Worker, as `[assets]` in wrangler.toml: a
// request no file matches goes to the Worker, and /d1sync/* always does. `port`: listen on
// 127.0.0.1 (0: any free port; `mf.ready` resolves to the URL); without it, reach the Worker
// with `mf.dispatchFetch`.
export async function serve(script, { persistDir, bindings = {}, assets, port, stdio } = {}) {
  const options = {
    bindings,
    modules: true,
    scriptPath: script,
    modulesRoot: path.dirname(script),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2026-04-26',
    durableObjects: { ROOMS: { className: 'Room', useSQLite: true } },
    d1Databases: { DB: 'd1sync-rooms' },
  };
  if (assets) {
    options.assets = {
      directory: assets,
      routerConfig: { has_user_worker: true, static_routing: { user_worker: ['/d1sync/*'] } },
    };
  }
  if (port !== undefined) {
    options.host = '127.0.0.1';
    options.port = port;
  }
  if (persistDir) {
    options.durableObjectsPersist = path.join(persistDir, 'do');
    options.d1Persist = path.join(persistDir, 'd1');
  }
  // `stdio(stdout, stderr)`: the Worker's console output instead of this process's.
  if (stdio) options.handleRuntimeStdio = stdio;
  const mf = new Miniflare(options);
  await mf.ready;
  return mf;
}
