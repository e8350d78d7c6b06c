// The engine's .wasm size (raw and gzipped) and the time Node takes to compile and instantiate
// it through the package's own loader. Shared by tools/measure.mjs and the benchmark.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { engineModule } from '../js/engine-module.js';

export async function wasmFigures() {
  const bytes = readFileSync(new URL('../dist/d1sync_engine.wasm', import.meta.url));
  let t = performance.now();
  const compiled = await WebAssembly.compile(bytes);
  const nodeCompileMs = performance.now() - t;
  t = performance.now();
  await engineModule(compiled);
  return {
    rawBytes: bytes.length,
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
    nodeCompileMs,
    nodeInstantiateMs: performance.now() - t,
  };
}
