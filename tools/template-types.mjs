// The template's TypeScript, checked the way a copy of it checks itself (`npm run check`):
//
//   node tools/template-types.mjs --check   `wrangler types` generates Env (and the runtime's
//                                           types) from wrangler.toml, then `tsc --noEmit` the
//                                           template's src/ and test/
//   node tools/template-types.mjs           also copies the generated
//                                           worker-configuration.d.ts into worker-template/
//                                           (git ignores it), for an editor
//
// Both run in a scratch copy of worker-template/, because `wrangler types` runs the template's
// [build] command (it copies node_modules/d1sync and sqlite-wasm into assets/) before it reads
// the entry's exports, and without the entry Env loses the Room class behind ROOMS. The copy's
// node_modules/d1sync is this checkout (package.json and js/, so `d1sync` resolves to
// js/index.d.ts), with an empty dist/: the engine is not needed to type-check, and the WASM
// build may not have run yet. The generated file is never committed: it is wrangler's output,
// most of it workerd's own type definitions.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const template = path.join(repoRoot, 'worker-template');
const TYPES = 'worker-configuration.d.ts';
const check = process.argv.includes('--check');

const work = mkdtempSync(path.join(tmpdir(), 'd1sync-template-types-'));
const run = (tool, args) =>
  execFileSync(path.join(repoRoot, 'node_modules/.bin', tool), args, {
    cwd: work,
    encoding: 'utf8',
    stdio: 'pipe',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_UPDATE_NOTIFIER: '1' },
  });

try {
  cpSync(template, work, {
    recursive: true,
    filter: (src) => !/(^|\/)(node_modules|assets|\.wrangler|\.dev\.vars)$/.test(src),
  });
  const d1sync = path.join(work, 'node_modules/d1sync');
  mkdirSync(path.join(d1sync, 'dist'), { recursive: true });
  writeFileSync(
    path.join(d1sync, 'package.json'),
    readFileSync(path.join(repoRoot, 'package.json')),
  );
  symlinkSync(path.join(repoRoot, 'js'), path.join(d1sync, 'js'));
  // The template's other packages, as this repository pins them (the tools run from here).
  const pkg = JSON.parse(readFileSync(path.join(template, 'package.json'), 'utf8'));
  for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
    if (['d1sync', 'wrangler', 'typescript'].includes(name)) continue;
    mkdirSync(path.dirname(path.join(work, 'node_modules', name)), { recursive: true });
    symlinkSync(path.join(repoRoot, 'node_modules', name), path.join(work, 'node_modules', name));
  }
  try {
    run('wrangler', ['types']);
    if (!readFileSync(path.join(work, TYPES), 'utf8').includes('import("./src/index").Room')) {
      throw new Error(`wrangler types left the Room class out of Env (did the [build] step fail?)`);
    }
    run('tsc', ['--noEmit', '-p', '.']);
    run('tsc', ['--noEmit', '-p', 'test']);
    if (!check) {
      copyFileSync(path.join(work, TYPES), path.join(template, TYPES));
      console.log(`worker-template/${TYPES} generated`);
    }
  } catch (e) {
    process.stderr.write(`${e.stdout ?? ''}${e.stderr ?? ''}${e.stdout ? '' : `${e.message}\n`}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
