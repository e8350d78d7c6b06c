// Worker for bench/capture.mjs: a SQLite-backed Durable Object ("Cap") that times single-row
// writes into one table per capture variant, interleaved, to attribute what capture costs.
//
//   POST /cap/<name>  { op, ...args }  ->  { ok: true, ... } | { ok: false, error }
//
//   setup    { variants: [{ name, ddl: [sql], engine? }], shape }
//            one table per variant (v_<name>) with its DDL; `engine`: capture installed by
//            createReplicator (the triggers d1sync writes today, into _d1sync_log)
//   round    { n, base, chunk, names, rotate }
//            n INSERTs, then n UPDATEs, then n DELETEs of ids base..base+n-1 in every table,
//            switching table every `chunk` statements in a rotating order; ms per table, kind
//            and chunk
//   clear    empties every outbox (not timed), as a replicator draining it would
//   sql      { sql }  rows of one query
import { DurableObject } from 'cloudflare:workers';
import { createReplicator, durableObjectSource, d1BindingTarget } from '../js/entry-workerd.js';
import { CAP_TABLE_DDL, capWrites } from './capture-forms.js';
import { errorJson } from './forms.js';

export class Cap extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
  }

  async fetch(request) {
    const body = await request.json();
    try {
      return Response.json({ ok: true, ...(await this.#dispatch(body)) });
    } catch (e) {
      return Response.json({ ok: false, error: errorJson(e) });
    }
  }

  async #dispatch(body) {
    switch (body.op) {
      case 'setup': {
        const engineTables = [];
        for (const v of body.variants) {
          const table = `v_${v.name}`;
          this.sql.exec(CAP_TABLE_DDL(table, v.shape ?? body.shape));
          for (const s of v.ddl ?? []) this.sql.exec(s);
          if (v.engine) engineTables.push(table);
        }
        if (engineTables.length) {
          this.sync = await createReplicator({
            source: durableObjectSource(this.ctx.storage),
            target: d1BindingTarget(this.env.DB),
            sourceId: body.sourceId ?? 'cap',
            tables: engineTables,
          });
          await this.sync.start();
          await this.sync.flush();
        }
        const triggers = this.sql
          .exec("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
          .toArray();
        return { triggers };
      }
      case 'round': {
        const { n, base, chunk, names, rotate } = body;
        // ms per chunk, so that the caller can pair each table's chunk with the same chunk of the
        // table without capture: a preemption then spoils a few pairs, not the round.
        const ms = Object.fromEntries(
          names.map((x) => [x, { insert: [], update: [], delete: [] }]),
        );
        const writes = capWrites((sql, ...args) => this.sql.exec(sql, ...args));
        for (const kind of ['insert', 'update', 'delete']) {
          for (let from = 0, c = 0; from < n; from += chunk, ++c) {
            const to = Math.min(n, from + chunk);
            // A different table goes first in every chunk, so drift hits them all alike.
            const k = (c + rotate) % names.length;
            const order = [...names.slice(k), ...names.slice(0, k)];
            for (const name of order) {
              const t = performance.now();
              writes[kind](`v_${name}`, base, from, to);
              ms[name][kind].push(performance.now() - t);
            }
          }
        }
        return { ms };
      }
      case 'clear': {
        const logs = this.sql
          .exec(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND (name = '_d1sync_log' OR name LIKE 'log\\_%' ESCAPE '\\')",
          )
          .toArray();
        // The keep trigger holds the newest row back: it stays, as it would.
        for (const { name } of logs) this.sql.exec(`DELETE FROM ${name}`);
        return { logs: logs.map((l) => l.name) };
      }
      case 'sql':
        return { rows: this.sql.exec(body.sql).toArray() };
      default:
        throw new Error(`unknown op '${body.op}'`);
    }
  }
}

export default {
  async fetch(request, env) {
    const match = /^\/cap\/([^/]+)$/.exec(new URL(request.url).pathname);
    if (!match) return new Response('not found', { status: 404 });
    return env.CAP.get(env.CAP.idFromName(decodeURIComponent(match[1]))).fetch(request);
  },
};
