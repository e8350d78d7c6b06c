// Figures for the package: the .wasm size raw and gzipped, the time to compile and instantiate
// it in Node, and the wall time of an initial sync of N rows from a SQLite-backed Durable
// Object into local D1 inside workerd (Miniflare), measured from start() to D1 holding them.
//   node tools/measure.mjs [rows]
import { performance } from 'node:perf_hooks';
import { wasmFigures } from './wasm_figures.mjs';
import { startMiniflare, room } from '../tests/worker/harness.mjs';

const rows = Number(process.argv[2] ?? 100000);
const w = await wasmFigures();
console.log(`wasm: ${w.rawBytes} bytes raw, ${w.gzipBytes} gzipped`);
console.log(
  `node: compile ${w.nodeCompileMs.toFixed(1)} ms, instantiate ${w.nodeInstantiateMs.toFixed(1)} ms`,
);

const mf = await startMiniflare();
const r = room(mf, 'measure');
await r.exec(
  'CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB, note TEXT)',
  `WITH RECURSIVE s(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM s WHERE i < ${rows})
   INSERT INTO items SELECT i, 'item ' || i || ' ' || hex(randomblob(40)), i * 0.25, randomblob(64),
     CASE WHEN i % 10 = 0 THEN NULL ELSE 'n' END FROM s`,
);
const t = performance.now();
await r.configure({ sourceId: 'measure' }); // start(): capture, claim, D1 schema
const f = await r.flush();
const ms = performance.now() - t;
if (!f.flushed) throw new Error(JSON.stringify(f.error));
const d1 = await mf.getD1Database('DB');
const count = (await d1.prepare('SELECT count(*) AS n FROM items').first()).n;
console.log(
  `DO -> local D1 initial sync: ${rows} rows in ${(ms / 1000).toFixed(2)} s ` +
    `(${Math.round(rows / (ms / 1000))} rows/s), ${f.health.batchesSent} batches, ` +
    `${f.health.statementsSent} statements; D1 holds ${count} rows`,
);
console.log(`WASM memory in the isolate: ${(await r.memory()) / 1048576} MiB`);
await mf.dispose();
if (count !== rows) process.exit(1);
