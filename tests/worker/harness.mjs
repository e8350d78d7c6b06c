// Shared setup for the tests that run inside workerd: a Miniflare over tests/worker/fixture,
// a client for one Durable Object ("room"), and D1/DO dumps for row-for-row comparison.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { dumpSql, shapeDump } from './fixture/dump-sql.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
const wasmPath = path.join(repoRoot, 'dist/d1sync_engine.wasm');

// Module loading: Miniflare collects modules itself by following the static imports of
// `scriptPath` (fixture/worker.js -> js/entry-workerd.js -> js/*.js, dist/d1sync_engine.js and
// dist/d1sync_engine.wasm). Module names are paths relative to `modulesRoot` (the repo root),
// so the relative specifiers resolve inside workerd as they do on disk. Miniflare's default
// rules treat `.js` as CommonJS, hence the ESModule rule; `.wasm` becomes a CompiledWasm module,
// i.e. a WebAssembly.Module, which is what js/entry-workerd.js expects.
export function miniflareOptions({ persistDir } = {}) {
  if (!existsSync(wasmPath)) throw new Error(`${wasmPath} is missing: run \`npm run build\` first`);
  const options = {
    modules: true,
    modulesRoot: repoRoot,
    scriptPath: path.join(here, 'fixture/worker.js'),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2026-04-26',
    durableObjects: { ROOM: { className: 'Room', useSQLite: true } },
    d1Databases: ['DB'],
  };
  if (persistDir) {
    options.durableObjectsPersist = path.join(persistDir, 'do');
    options.d1Persist = path.join(persistDir, 'd1');
  }
  return options;
}

export async function startMiniflare(opts) {
  const mf = new Miniflare(miniflareOptions(opts));
  await mf.ready;
  return mf;
}

export function tempDir(prefix = 'd1sync-worker-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

// A client for one Durable Object. call() returns the parsed answer; ok() also asserts that the
// fixture did not report an error.
export function room(mf, name) {
  const url = `http://fixture.test/room/${encodeURIComponent(name)}`;
  const call = async (op, args = {}) => {
    const res = await mf.dispatchFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ op, ...args }),
    });
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`room ${name} ${op}: HTTP ${res.status}: ${text}`);
    }
  };
  const ok = async (op, args) => {
    const r = await call(op, args);
    if (!r.ok) assert.fail(`room ${name} ${op} failed: ${JSON.stringify(r.error)}`);
    return r;
  };
  return {
    name,
    call,
    ok,
    configure: (args) => ok('configure', args),
    exec: async (...statements) => (await ok('exec', { statements })).results,
    execTx: async (...statements) => (await ok('exec', { statements, transaction: true })).results,
    flush: (args) => ok('flush', args),
    drain: (args) => ok('drain', args),
    health: async () => (await ok('health')).health,
    verify: (options, repair = false) => ok('verify', { options, repair }),
    dump: async (table, columns, orderBy) => (await ok('dump', { table, columns, orderBy })).rows,
    fault: (count, message) => ok('fault', { count, message }),
    faults: () => ok('faults'),
    memory: async () => (await ok('memory')).heapBytes,
  };
}

export async function dumpD1(mf, { table, columns, orderBy, tenant }) {
  const db = await mf.getD1Database('DB');
  const raw = await db.prepare(dumpSql({ table, columns, orderBy, tenant })).raw();
  return shapeDump(columns, raw);
}

// Row-for-row equality of a DO table and its D1 copy: same storage class and bytes per cell,
// REALs equal as numbers.
export function assertSameRows(local, remote, label = 'rows') {
  assert.equal(
    remote.length,
    local.length,
    `${label}: D1 has ${remote.length} rows, the DO ${local.length}`,
  );
  for (let i = 0; i < local.length; ++i) {
    for (const [column, cell] of Object.entries(local[i])) {
      const other = remote[i][column];
      const where = `${label}[${i}].${column}`;
      assert.equal(
        other.type,
        cell.type,
        `${where}: type ${other.type} in D1, ${cell.type} in the DO`,
      );
      if (cell.type === 'real') {
        assert.ok(
          Object.is(Number(other.real), Number(cell.real)) ||
            (Number(other.real) === 0 && Number(cell.real) === 0),
          `${where}: ${other.real} in D1, ${cell.real} in the DO`,
        );
      } else {
        assert.equal(other.hex, cell.hex, `${where}: bytes differ`);
      }
    }
  }
}

// The D1 copy of a room's table equals the DO's table.
export async function assertReplicated(mf, r, { table, columns, orderBy, tenant }) {
  const local = await r.dump(table, columns, orderBy);
  const remote = await dumpD1(mf, { table, columns, orderBy, tenant });
  assertSameRows(local, remote, `${r.name}:${table}`);
  return local;
}
