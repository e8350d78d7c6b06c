// Assembles the template's static assets: worker-template/public/ plus the browser files it
// imports, copied from where they are built or installed (never committed):
//   lib/d1sync/js/*.js, lib/d1sync/dist/d1sync_engine.{js,wasm}   this package
//   lib/sqlite-wasm/*                                            @sqlite.org/sqlite-wasm's dist/
//   lib/uplot/uPlot.esm.js, uPlot.min.css                        uplot's dist/ (the dashboard)
// The d1sync files keep their relative layout: js/entry-browser.js fetches
// ../dist/d1sync_engine.wasm next to itself.
//
//   node tools/build_assets.mjs [outDir]     default: worker-template/assets (gitignored)
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const defaultAssetsDir = path.join(repoRoot, 'worker-template/assets');

const ENGINE_FILES = ['d1sync_engine.js', 'd1sync_engine.wasm'];
// What a page needs of sqlite-wasm: the module, its .wasm, and the proxy its "opfs" VFS
// starts (opfs-sahpool does not use it).
const SQLITE_FILES = ['index.mjs', 'sqlite3.wasm', 'sqlite3-opfs-async-proxy.js'];

const UPLOT_FILES = ['uPlot.esm.js', 'uPlot.min.css'];

function packageDist(name) {
  const require = createRequire(path.join(repoRoot, 'package.json'));
  return path.join(path.dirname(require.resolve(`${name}/package.json`)), 'dist');
}

// Writes the assets into `outDir` (emptied first); returns outDir.
export function buildAssets(outDir = defaultAssetsDir) {
  for (const file of ENGINE_FILES) {
    if (!existsSync(path.join(repoRoot, 'dist', file))) {
      throw new Error(`dist/${file} is missing: run \`npm run build\` first`);
    }
  }
  rmSync(outDir, { recursive: true, force: true });
  cpSync(path.join(repoRoot, 'worker-template/public'), outDir, { recursive: true });

  const jsOut = path.join(outDir, 'lib/d1sync/js');
  mkdirSync(jsOut, { recursive: true });
  for (const file of readdirSync(path.join(repoRoot, 'js'))) {
    if (file.endsWith('.js')) cpSync(path.join(repoRoot, 'js', file), path.join(jsOut, file));
  }
  const distOut = path.join(outDir, 'lib/d1sync/dist');
  mkdirSync(distOut, { recursive: true });
  for (const file of ENGINE_FILES) {
    cpSync(path.join(repoRoot, 'dist', file), path.join(distOut, file));
  }

  for (const [name, dir, files] of [
    ['@sqlite.org/sqlite-wasm', 'sqlite-wasm', SQLITE_FILES],
    ['uplot', 'uplot', UPLOT_FILES],
  ]) {
    const out = path.join(outDir, 'lib', dir);
    mkdirSync(out, { recursive: true });
    for (const file of files) cpSync(path.join(packageDist(name), file), path.join(out, file));
  }
  return outDir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = buildAssets(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  console.log(`assets written to ${path.relative(process.cwd(), out) || '.'}`);
}
