// Sources: each host's own database handle goes in as the host types it, and a handle of the
// wrong kind, a raw handle where a wrapped one belongs, or a target is refused at compile time
// (the runtime refuses them too, with CONFIG, but only once the code runs).
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import {
  d1BindingTarget,
  durableObjectSource,
  httpTarget,
  sqliteWasmSource,
  type DurableObjectStorageLike,
  type Source,
  type SqliteWasmDbLike,
} from 'd1sync';
import type { DurableObjectState, Env } from './cloudflare.js';
import { expectExact, expectType } from './helpers.js';

declare const ctx: DurableObjectState;
declare const env: Env;

// A Durable Object's storage, typed as @cloudflare/workers-types types it.
const roomSource = durableObjectSource(ctx.storage);
expectExact<typeof roomSource, Source>(true);
expectExact<typeof roomSource.kind, string>(true);

// @sqlite.org/sqlite-wasm's own declarations: an in-memory DB and the OPFS pool the README uses.
const sqlite3 = await sqlite3InitModule();
const memory = new sqlite3.oo1.DB(':memory:');
expectType<Source>(sqliteWasmSource(memory));
const pool = await sqlite3.installOpfsSAHPoolVfs({});
const tab = sqliteWasmSource(new pool.OpfsSAHPoolDb('/tasks.sqlite3'));

// What the engine calls on a source.
const page = tab.exec('SELECT id, title FROM tasks');
expectExact<typeof page, { ok: boolean; error: string; columns: number; cells: string }>(true);
const inTransaction = tab.transaction(() => page.columns * 2);
expectExact<typeof inTransaction, number>(true);

// The *Like types describe what a wrapper needs, for code that passes handles around.
function sourceFor(handle: DurableObjectStorageLike | SqliteWasmDbLike): Source {
  return 'transactionSync' in handle ? durableObjectSource(handle) : sqliteWasmSource(handle);
}
expectType<DurableObjectStorageLike>(ctx.storage);
expectType<SqliteWasmDbLike>(memory);
sourceFor(ctx.storage);
sourceFor(memory);

// The wrong handle for each wrapper.
// @ts-expect-error a D1 binding is where rows go, not a local database
durableObjectSource(env.DB);
// @ts-expect-error the Durable Object's state, not its storage
durableObjectSource(ctx);
// @ts-expect-error storage.sql alone: the source also needs transactionSync()
durableObjectSource(ctx.storage.sql);
// @ts-expect-error an oo1.DB is sqliteWasmSource's
durableObjectSource(memory);
// @ts-expect-error ctx.storage is durableObjectSource's
sqliteWasmSource(ctx.storage);
// @ts-expect-error the sqlite3 module, not a DB opened with it
sqliteWasmSource(sqlite3);
// @ts-expect-error a file name: open it with new sqlite3.oo1.DB(name) first
sqliteWasmSource('/tasks.sqlite3');

// A target where a source belongs.
// @ts-expect-error d1BindingTarget() makes a target
expectType<Source>(d1BindingTarget(env.DB));
// @ts-expect-error httpTarget() makes a target
expectType<Source>(httpTarget('/d1sync'));
// @ts-expect-error an unwrapped oo1.DB: it has exec() and transaction() but no kind
expectType<Source>(memory);
