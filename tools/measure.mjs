// Figures for the package: the .wasm size raw and gzipped, the time to compile and instantiate
// it in Node, and the wall time of an initial sync of N rows from a SQLite-backed Durable
// Object into local D1 inside workerd (Miniflare), measured from start() to D1 holding them.
//   node tools/measure.mjs [rows]
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import createD1SyncModule from '../dist/d1sync_engine.js';
import { startMiniflare, room } from '../tests/worker/harness.mjs';

const rows = Number(process.argv[2] ?? 100000);
const bytes = readFileSync(new URL('../dist/d1sync_engine.wasm', import.meta.url));
console.log(`wasm: ${bytes.length} bytes raw, ${gzipSync(bytes, { level: 9 }).length} gzipped`);

let t = performance.now();
const compiled = await WebAssembly.compile(bytes);
const compileMs = performance.now() - t;
t = performance.now();
await createD1SyncModule({
  instantiateWasm(imports, receive) {
    WebAssembly.instantiate(compiled, imports).then((inst) => receive(inst, compiled));
    return {};
  },
  locateFile: (f) => f,
});
console.log(`node: compile ${compileMs.toFixed(1)} ms, instantiate ${(performance.now() - t).toFixed(1)} ms`);

const mf = await startMiniflare();
const r = room(mf, 'measure');
await r.exec(
  'CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB, note TEXT)',
  `WITH RECURSIVE s(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM s WHERE i < ${rows})
   INSERT INTO items SELECT i, 'item ' || i || ' ' || hex(randomblob(40)), i * 0.25, randomblob(64),
     CASE WHEN i % 10 = 0 THEN NULL ELSE 'n' END FROM s`);
t = performance.now();
await r.configure({ sourceId: 'measure' });  // start(): capture, claim, D1 schema
const f = await r.flush();
const ms = performance.now() - t;
if (!f.flushed) throw new Error(JSON.stringify(f.error));
const d1 = await mf.getD1Database('DB');
const count = (await d1.prepare('SELECT count(*) AS n FROM items').first()).n;
console.log(`DO -> local D1 initial sync: ${rows} rows in ${(ms / 1000).toFixed(2)} s ` +
  `(${Math.round(rows / (ms / 1000))} rows/s), ${f.health.batchesSent} batches, ` +
  `${f.health.statementsSent} statements; D1 holds ${count} rows`);
console.log(`WASM memory in the isolate: ${(await r.memory()) / 1048576} MiB`);
await mf.dispose();
if (count !== rows) process.exit(1);
