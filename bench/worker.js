// Benchmark Worker for bench/run.mjs: a SQLite-backed Durable Object ("Bench") that holds the
// source table and runs every contender inside workerd against the same local D1 binding (env.DB).
// Every contender writes the same statement form: INSERT ... ON CONFLICT(id) DO UPDATE.
//
//   POST /bench/<name>  { op, ...args }  ->  { ok: true, ... } | { ok: false, error }
//
//   seed        { rows }                 create and fill `items` in the DO (not timed)
//   readFloor   { pageRows }             read every row's columns out of the DO, nothing else, timed
//   syncStart   { sourceId }             createReplicator + start(), timed
//   syncFlush                            flush() until idle, timed; engine/target breakdown
//   changes     { n, hotKeys, rows }     N single-statement changes in the DO (not timed)
//   prepare     { kind, rows }           drop/create the D1 table; for c1/c2 pre-build batches
//   run         { kind }                 apply the baseline, timed
//   count       { table }                rows D1 holds
//   capSetup                             cap_on (captured) and cap_off tables + a replicator
//   capRound    { n, base, chunk }       N single-row INSERT / UPDATE / DELETE per table, timed
//   memory                               the engine module's HEAP8.length
//
//   POST /d1sync/<op>   createSyncEndpoint() over env.DB for `items`, tenant column `tenant`;
//                       the caller is the x-bench-caller header (the browser-style contender)
//
// Times come from performance.now(), which advances during CPU work under Miniflare's workerd.
import { DurableObject } from 'cloudflare:workers';
import {
  createReplicator,
  createSyncEndpoint,
  durableObjectSource,
  d1BindingTarget,
} from '../js/entry-workerd.js';
import { engineModule } from '../js/engine-module.js';
import compiled from '../dist/d1sync_engine.wasm';
import {
  COLUMNS,
  TABLE_DDL,
  SEED_SQL,
  UPSERT_TAIL,
  literalBatches,
  jsonBatches,
  applyBatches,
  timed,
} from './forms.js';
import { capWrites } from './capture-forms.js';

const STATEMENTS_PER_BATCH_BOUND = 1000; // (a) and (b): statements per batch() call

function errorJson(e) {
  return { name: e?.name, code: e?.code, message: String(e?.message ?? e), stack: e?.stack };
}

export class Bench extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sync = null;
    this.prepared = null;
    this.stats = null;
    this.heapHigh = 0;
  }

  async fetch(request) {
    const body = await request.json();
    try {
      return Response.json({ ok: true, ...(await this.#dispatch(body)) });
    } catch (e) {
      return Response.json({ ok: false, error: errorJson(e) });
    }
  }

  async #heap() {
    const module = await engineModule(compiled);
    this.heapHigh = Math.max(this.heapHigh, module.HEAP8.length);
    return module.HEAP8.length;
  }

  #wrapped() {
    return timed(durableObjectSource(this.ctx.storage), d1BindingTarget(this.env.DB));
  }

  // workerd may reset the object between requests (a baseline that holds a million rows in
  // memory can outgrow the isolate): pick the replicator up again from its persisted state.
  async #resume(sourceId) {
    if (this.sync) return;
    const { stats, source, target } = this.#wrapped();
    this.stats = stats;
    this.sync = await createReplicator({ source, target, sourceId });
    await this.sync.start();
  }

  #readRows() {
    return Array.from(this.sql.exec(`SELECT ${COLUMNS.join(',')} FROM items ORDER BY id`).raw());
  }

  async #dispatch(body) {
    switch (body.op) {
      case 'seed': {
        const rows = body.rows;
        this.sql.exec(TABLE_DDL('items'));
        this.sql.exec(SEED_SQL('items', rows));
        const n = this.sql
          .exec('SELECT count(*) AS n, avg(length(name)) AS nameBytes FROM items')
          .one();
        return { rows: n.n, nameBytes: n.nameBytes };
      }
      case 'readFloor': {
        // The least any replicator reading this DO pays: the rows' columns handed to JS in
        // pages, as the engine pages its copy, with no rendering and no D1.
        const t = performance.now();
        let rows = 0;
        for (let last = -Infinity; ;) {
          let n = 0;
          for (const row of this.sql
            .exec(
              `SELECT ${COLUMNS.join(',')} FROM items WHERE id > ? ORDER BY id LIMIT ?`,
              last,
              body.pageRows,
            )
            .raw()) {
            last = row[0];
            ++n;
          }
          rows += n;
          if (n < body.pageRows) break;
        }
        return { ms: performance.now() - t, rows };
      }
      case 'syncStart': {
        const { stats, source, target } = this.#wrapped();
        this.stats = stats;
        const t = performance.now();
        this.sync = await createReplicator({
          source,
          target,
          sourceId: body.sourceId,
          tables: body.tables,
        });
        await this.sync.start();
        const ms = performance.now() - t;
        return { ms, stats: { ...stats }, health: this.sync.health(), heap: await this.#heap() };
      }
      case 'syncFlush': {
        await this.#resume(body.sourceId);
        const before = { ...this.stats };
        const h0 = this.sync.health();
        let outboxRows = null;
        try {
          outboxRows = this.sql.exec('SELECT count(*) AS n FROM _d1sync_log').one().n;
        } catch {}
        const t = performance.now();
        await this.sync.flush();
        const ms = performance.now() - t;
        const after = { ...this.stats };
        const delta = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
        return {
          ms,
          stats: delta,
          outboxRows,
          health0: h0,
          health: this.sync.health(),
          heap: await this.#heap(),
        };
      }
      case 'changes': {
        await this.#resume(body.sourceId);
        // N changes, each its own statement: 60% updates, 20% inserts, 20% deletes; half of
        // them hit `hotKeys` hot keys (updates of ids 1..hotKeys).
        const { n, hotKeys, rows } = body;
        let nextId = rows + 1;
        let seed = 12345;
        const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
        const counts = { insert: 0, update: 0, delete: 0, hot: 0 };
        const blob = new Uint8Array(64);
        for (let i = 0; i < n; ++i) {
          const hot = i % 2 === 0;
          const p = rand();
          if (hot) {
            const id = 1 + Math.floor(rand() * hotKeys);
            this.sql.exec(
              'UPDATE items SET price = price + 1, note = ? WHERE id = ?',
              `hot ${i}`,
              id,
            );
            ++counts.update;
            ++counts.hot;
          } else if (p < 0.6) {
            const id = hotKeys + 1 + Math.floor(rand() * (rows - hotKeys));
            this.sql.exec(
              'UPDATE items SET name = ?, price = ? WHERE id = ?',
              `updated ${i} `.padEnd(100, 'u'),
              i * 0.5,
              id,
            );
            ++counts.update;
          } else if (p < 0.8) {
            crypto.getRandomValues(blob);
            this.sql.exec(
              'INSERT INTO items(id, name, price, data, note) VALUES (?, ?, ?, ?, ?)',
              nextId++,
              `new ${i} `.padEnd(100, 'n'),
              i * 0.75,
              blob,
              i % 10 === 0 ? null : 'n',
            );
            ++counts.insert;
          } else {
            const id = hotKeys + 1 + Math.floor(rand() * (rows - hotKeys));
            this.sql.exec('DELETE FROM items WHERE id = ?', id);
            ++counts.delete;
          }
        }
        return { counts, health: this.sync.health() };
      }
      case 'prepare': {
        const { kind } = body;
        const table = `items_${kind}`;
        await this.env.DB.batch([
          this.env.DB.prepare(`DROP TABLE IF EXISTS ${table}`),
          this.env.DB.prepare(TABLE_DDL(table)),
        ]);
        this.prepared = { kind, table, batches: null };
        if (kind === 'c1' || kind === 'c2') {
          const t = performance.now();
          const rows = this.#readRows();
          this.prepared.batches =
            kind === 'c1' ? literalBatches(table, rows) : jsonBatches(table, rows);
          const statements = this.prepared.batches.reduce((s, b) => s + b.length, 0);
          return {
            buildMs: performance.now() - t,
            batches: this.prepared.batches.length,
            statements,
          };
        }
        return {};
      }
      case 'run': {
        const { kind, table, batches } = this.prepared;
        const db = this.env.DB;
        let batchCalls = 0;
        let statements = 0;
        const t = performance.now();
        if (kind === 'a' || kind === 'b') {
          // An application-side replicator: read the rows, bind them, send in batch() calls.
          const rows = this.#readRows();
          const perStatement = kind === 'a' ? 1 : Math.floor(100 / COLUMNS.length);
          const one = (n) =>
            `INSERT INTO ${table}(${COLUMNS.join(',')}) VALUES ` +
            Array(n)
              .fill(`(${COLUMNS.map(() => '?').join(',')})`)
              .join(',') +
            UPSERT_TAIL;
          const full = one(perStatement);
          let pending = [];
          for (let i = 0; i < rows.length; i += perStatement) {
            const chunk = rows.slice(i, i + perStatement);
            const sql = chunk.length === perStatement ? full : one(chunk.length);
            pending.push(db.prepare(sql).bind(...chunk.flat()));
            if (pending.length === STATEMENTS_PER_BATCH_BOUND) {
              await db.batch(pending);
              ++batchCalls;
              statements += pending.length;
              pending = [];
            }
          }
          if (pending.length) {
            await db.batch(pending);
            ++batchCalls;
            statements += pending.length;
          }
        } else {
          return applyBatches(db, batches);
        }
        const ms = performance.now() - t;
        return { ms, batchCalls, statements };
      }
      case 'count': {
        const r = await this.env.DB.prepare(`SELECT count(*) AS n FROM ${body.table}`).first();
        return { n: r.n };
      }
      case 'capSetup': {
        this.sql.exec(TABLE_DDL('cap_on'));
        this.sql.exec(TABLE_DDL('cap_off'));
        this.sync = await createReplicator({
          source: durableObjectSource(this.ctx.storage),
          target: d1BindingTarget(this.env.DB),
          sourceId: body.sourceId,
          tables: ['cap_on'],
        });
        await this.sync.start();
        await this.sync.flush();
        const triggers = this.sql
          .exec(
            "SELECT tbl_name, count(*) AS n FROM sqlite_master WHERE type = 'trigger' GROUP BY tbl_name",
          )
          .toArray();
        return { triggers };
      }
      case 'capRound': {
        // One round: n INSERTs, then n UPDATEs, then n DELETEs of ids base..base+n-1 in cap_on
        // and cap_off, alternating the two tables every `chunk` statements so that drift hits
        // both alike. Returns ms per table and kind.
        const { n, base, chunk, offFirst } = body;
        const ms = {
          on: { insert: 0, update: 0, delete: 0 },
          off: { insert: 0, update: 0, delete: 0 },
        };
        const writes = capWrites((sql, ...args) => this.sql.exec(sql, ...args));
        const write = (table, kind, from, to) => writes[kind](table, base, from, to);
        for (const kind of ['insert', 'update', 'delete']) {
          for (let from = 0; from < n; from += chunk) {
            const to = Math.min(n, from + chunk);
            const order =
              offFirst ^ ((from / chunk) & 1) ? ['cap_off', 'cap_on'] : ['cap_on', 'cap_off'];
            for (const table of order) {
              const t = performance.now();
              write(table, kind, from, to);
              ms[table === 'cap_on' ? 'on' : 'off'][kind] += performance.now() - t;
            }
          }
        }
        return { ms };
      }
      case 'memory':
        return { heap: await this.#heap(), heapHigh: this.heapHigh };
      default:
        throw new Error(`unknown op '${body.op}'`);
    }
  }
}

let endpoint = null;

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname.startsWith('/d1sync/')) {
      endpoint ??= createSyncEndpoint({
        db: env.DB,
        tables: ['items'],
        tenantColumn: 'tenant',
        authenticate: async (r) => JSON.parse(r.headers.get('x-bench-caller') || 'null'),
        limits: { requestsPerMinute: 1000000 },
      });
      return endpoint.handle(request, env);
    }
    const match = /^\/bench\/([^/]+)$/.exec(new URL(request.url).pathname);
    if (!match) return new Response('not found', { status: 404 });
    return env.BENCH.get(env.BENCH.idFromName(decodeURIComponent(match[1]))).fetch(request);
  },
};
