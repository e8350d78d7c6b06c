// The bench Worker (bench/worker.js) in one Miniflare with a local D1, and workerd's memory:
// shared by bench/run.mjs's in-process sections and bench/scale.mjs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const wasmPath = path.join(repoRoot, 'dist/d1sync_engine.wasm');

// The Durable Object `BENCH` and the D1 binding `DB` in one workerd; `inspectorPort` for
// CPU profiles (bench/profile.mjs), `serviceBindings` for D1 in another process
// (bench/remote.mjs).
export async function startMiniflare({ inspectorPort, serviceBindings } = {}) {
  if (!existsSync(wasmPath)) throw new Error(`${wasmPath} is missing: run \`npm run build\` first`);
  const mf = new Miniflare({
    modules: true,
    modulesRoot: repoRoot,
    scriptPath: path.join(here, 'worker.js'),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2026-04-26',
    durableObjects: { BENCH: { className: 'Bench', useSQLite: true } },
    d1Databases: ['DB'],
    ...(inspectorPort ? { inspectorPort } : {}),
    ...(serviceBindings ? { serviceBindings } : {}),
  });
  await mf.ready;
  return mf;
}

// A client for one bench Durable Object: op + args in, the parsed answer out (throws on !ok).
export function benchClient(mf, name) {
  const url = `http://bench.test/bench/${encodeURIComponent(name)}`;
  return async (op, args = {}) => {
    const res = await mf.dispatchFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ op, ...args }),
    });
    const text = await res.text();
    let r;
    try {
      r = JSON.parse(text);
    } catch {
      throw new Error(`${op}: HTTP ${res.status}: ${text}`);
    }
    if (!r.ok) throw new Error(`${op} failed: ${r.error.message}\n${r.error.stack ?? ''}`);
    return r;
  };
}

// workerd's resident memory (VmRSS now, VmHWM its peak) from /proc: the local databases live
// in that process. Linux only; null elsewhere.
export function workerdMemory() {
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let status;
      try {
        status = readFileSync(`/proc/${pid}/status`, 'utf8');
      } catch {
        continue;
      }
      if (
        !/^Name:\s*workerd/m.test(status) ||
        !new RegExp(`^PPid:\\s*${process.pid}$`, 'm').test(status)
      )
        continue;
      const kb = (k) =>
        Number(status.match(new RegExp(`^${k}:\\s*(\\d+) kB`, 'm'))?.[1] ?? NaN) * 1024;
      return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
    }
  } catch {}
  return null;
}
