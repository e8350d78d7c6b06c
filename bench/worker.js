// Benchmark Worker for bench/run.mjs: a SQLite-backed Durable Object ("Bench") that holds the
// source table and runs every contender inside workerd against the same local D1 binding (env.DB).
// Every contender writes the same statement form: INSERT ... ON CONFLICT(id) DO UPDATE.
//
//   POST /bench/<name>  { op, ...args }  ->  { ok: true, ... } | { ok: false, error }
//
//   seed        { rows }                 create and fill `items` in the DO (not timed)
//   readFloor   { pageRows }             read every row's columns out of the DO, nothing else, timed
//   syncStart   { sourceId, options }    createReplicator (+ options) + start(), timed
//   seedNarrow  { from, to, count }      `narrow` rows from..to in the DO (bench/scale.mjs; timed,
//                                        the row count when `count`)
//   syncFlush   { maxBatches, budgetMs } flush() until idle, timed (and its wall-clock start
//                                        and end, to line up with D1's process); engine/target
//                                        breakdown. With maxBatches: flush({ maxBatches }) calls
//                                        until the sync is done or budgetMs has passed (one
//                                        request's share of a long sync); `done` says which. A
//                                        replicator picked up again after a reset: `resumed`, its
//                                        start() in resumeMs; `abort`: reset the object instead
//                                        of answering
//   changes     { n, hotKeys, rows }     N single-statement changes in the DO (not timed); how
//                                        many distinct ids they touched
//   prepare     { kind, rows }           drop/create the D1 table; for c1/c2 pre-build batches
//   run         { kind }                 apply the baseline, timed
//   count       { table }                rows D1 holds
//   capSetup                             cap_on (captured) and cap_off tables + a replicator
//   capRound    { n, base, chunk }       N single-row INSERT / UPDATE / DELETE per table, timed
//   memory                               the engine module's HEAP8.length
//   dropTable   { table }                DROP TABLE IF EXISTS in D1 (not timed)
//   wipe                                 delete the object's storage, drop the replicator
//   supports    { option }               whether createReplicator() knows an option
//   pingD1      { n }                    n trivial D1 round trips one after the other, timed
//   overlap     { cpuMs }                a D1 round trip and CPU work in the DO, overlapped
//
// D1 is env.DB (in this workerd, sharing its thread), or, when the Worker has a D1_REMOTE
// service binding, D1 in a second workerd (bench/d1-server.js) reached through the
// binding-shaped proxy of bench/remote-d1.js: every contender then uses the proxy (`this.db`).
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
import { remoteD1 } from './remote-d1.js';
import {
  COLUMNS,
  TABLE_DDL,
  SEED_SQL,
  NARROW_DDL,
  NARROW_SEED_SQL,
  UPSERT_TAIL,
  literalBatches,
  jsonBatches,
  applyBatches,
  timed,
  errorJson,
} from './forms.js';
import { capWrites } from './capture-forms.js';

const STATEMENTS_PER_BATCH_BOUND = 1000; // (a) and (b): statements per batch() call

export class Bench extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sync = null;
    this.prepared = null;
    this.stats = null;
    this.heapHigh = 0;
    this.meter = null;
    // The one place that decides where D1 is: every contender, the bench's own counts and DDL.
    this.db = env.D1_REMOTE
      ? remoteD1((url, init) => env.D1_REMOTE.fetch(url, init), 'http://d1.remote/')
      : env.DB;
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

  // With D1 in another process, each batch's D1 row counts are kept too (timed()'s meter).
  #wrapped() {
    const wrapped = timed(durableObjectSource(this.ctx.storage), d1BindingTarget(this.db), {
      meter: Boolean(this.env.D1_REMOTE),
    });
    this.meter = wrapped.meter;
    return wrapped;
  }

  // The metered batches since `from` (an index into meter.batches), or undefined.
  #metered(from) {
    return this.meter?.batches.slice(from);
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
          ...body.options,
        });
        await this.sync.start();
        const ms = performance.now() - t;
        return {
          ms,
          stats: { ...stats },
          metered: this.#metered(0),
          health: this.sync.health(),
          heap: await this.#heap(),
        };
      }
      case 'seedNarrow': {
        this.sql.exec(NARROW_DDL);
        const t = performance.now();
        this.sql.exec(NARROW_SEED_SQL, body.from, body.to);
        const ms = performance.now() - t;
        const rows = body.count ? this.sql.exec('SELECT count(*) AS n FROM narrow').one().n : null;
        return { ms, rows };
      }
      case 'syncFlush': {
        const resumed = !this.sync;
        const tr = performance.now();
        await this.#resume(body.sourceId);
        const resumeMs = resumed ? performance.now() - tr : 0;
        const before = { ...this.stats };
        const meteredFrom = this.meter?.batches.length ?? 0;
        const h0 = this.sync.health();
        let outboxRows = null;
        try {
          outboxRows = this.sql.exec('SELECT count(*) AS n FROM _d1sync_log').one().n;
        } catch {}
        const wallStart = Date.now();
        const t = performance.now();
        let done = true;
        if (body.maxBatches) {
          // Bounded calls until the sync is done or this request's budget is spent.
          for (;;) {
            await this.sync.flush({ maxBatches: body.maxBatches });
            const h = this.sync.health();
            done = h.initialSync.done && h.pendingChanges === 0;
            if (done || performance.now() - t >= body.budgetMs) break;
          }
        } else {
          await this.sync.flush();
        }
        const ms = performance.now() - t;
        const wallEnd = Date.now();
        // The scale section's check of the resume path: workerd resets the object here, as
        // it may a long request in production; the next request picks the sync up again.
        if (body.abort) this.ctx.abort(new Error('bench: object reset on request'));
        const after = { ...this.stats };
        const delta = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
        return {
          ms,
          done,
          resumed,
          resumeMs,
          stats: delta,
          wallStart,
          wallEnd,
          outboxRows,
          metered: this.#metered(meteredFrom),
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
        const touched = new Set(); // an update then a delete of one id counts once
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
            touched.add(id);
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
            touched.add(id);
            ++counts.update;
          } else if (p < 0.8) {
            crypto.getRandomValues(blob);
            touched.add(nextId);
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
            touched.add(id);
            ++counts.delete;
          }
        }
        const localRows = this.sql.exec('SELECT count(*) AS n FROM items').one().n;
        this.touched = touched;
        return { counts, distinct: touched.size, localRows, health: this.sync.health() };
      }
      case 'incLimitCopy': {
        // The limit for the incremental run: D1's copy of the table as it stood before the
        // changes (not timed).
        const { table } = body;
        await this.db.batch([
          this.db.prepare(`DROP TABLE IF EXISTS ${table}`),
          this.db.prepare(TABLE_DDL(table)),
          this.db.prepare(`INSERT INTO ${table} SELECT * FROM items`),
        ]);
        return {};
      }
      case 'incLimit': {
        // The same changes as pre-built statements, coalesced as a replicator would (each
        // touched id upserted as it stands, or deleted): built before the clock, then applied.
        const { table } = body;
        const ids = [...this.touched].sort((x, y) => x - y);
        const present = [];
        const gone = new Set(ids);
        for (let i = 0; i < ids.length; i += 500) {
          const chunk = ids.slice(i, i + 500);
          for (const row of this.sql
            .exec(`SELECT ${COLUMNS.join(',')} FROM items WHERE id IN (${chunk.join(',')})`)
            .raw()) {
            present.push(row);
            gone.delete(row[0]);
          }
        }
        const batches = literalBatches(table, present);
        const deletes = [...gone];
        for (let i = 0; i < deletes.length; i += 5000)
          batches[batches.length - 1].push(
            `DELETE FROM ${table} WHERE id IN (${deletes.slice(i, i + 5000).join(',')})`,
          );
        const run = await applyBatches(this.db, batches);
        const n = (await this.db.prepare(`SELECT count(*) AS n FROM ${table}`).first()).n;
        await this.db.batch([this.db.prepare(`DROP TABLE IF EXISTS ${table}`)]);
        return { ...run, rows: n, upserts: present.length, deletes: deletes.length };
      }
      case 'prepare': {
        const { kind } = body;
        const table = `items_${kind}`;
        await this.db.batch([
          this.db.prepare(`DROP TABLE IF EXISTS ${table}`),
          this.db.prepare(TABLE_DDL(table)),
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
        const db = this.db;
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
        const r = await this.db.prepare(`SELECT count(*) AS n FROM ${body.table}`).first();
        return { n: r.n };
      }
      case 'capSetup': {
        this.sql.exec(TABLE_DDL('cap_on'));
        this.sql.exec(TABLE_DDL('cap_off'));
        this.sync = await createReplicator({
          source: durableObjectSource(this.ctx.storage),
          target: d1BindingTarget(this.db),
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
      case 'dropTable':
        await this.db.batch([this.db.prepare(`DROP TABLE IF EXISTS ${body.table}`)]);
        return {};
      case 'wipe': {
        // Frees what a finished contender held: its replicator, its rows, its outbox.
        this.sync?.close();
        this.sync = null;
        this.prepared = null;
        this.meter = null;
        await this.ctx.storage.deleteAll();
        return {};
      }
      case 'supports': {
        // createReplicator() refuses an option it does not know before it looks at anything
        // else: any other refusal means the option is known.
        try {
          await createReplicator({ [body.option]: body.value });
        } catch (e) {
          return { supported: !String(e?.message).includes(`unknown option '${body.option}'`) };
        }
        return { supported: true };
      }
      case 'pingD1': {
        const t = performance.now();
        for (let i = 0; i < body.n; ++i) await this.db.prepare('SELECT 1 AS one').first('one');
        return { ms: performance.now() - t };
      }
      case 'overlap': {
        // One D1 round trip (the D1 process holds it for its delay) and cpuMs of computing
        // here, with and without a timer yield after sending: the request only leaves at a
        // macrotask boundary, so without one it waits for the computation to end.
        const spin = (ms) => {
          const end = performance.now() + ms;
          let x = 0;
          while (performance.now() < end) x += Math.sqrt(x + 1);
          return x;
        };
        const out = {};
        for (const mode of ['timerYield', 'noYield', 'plainAwait']) {
          const t = performance.now();
          const pending = this.db.batch([this.db.prepare('SELECT 1 AS one')]);
          if (mode === 'plainAwait') {
            await pending; // nothing computing here: the request leaves at once
          } else {
            if (mode === 'timerYield') await new Promise((r) => setTimeout(r, 0));
            spin(body.cpuMs);
            await pending;
          }
          out[mode] = performance.now() - t;
        }
        return out;
      }
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
