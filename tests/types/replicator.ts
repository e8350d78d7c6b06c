// createReplicator() and its options: every option in the forms the engine accepts, and the
// misspellings and wrong values a user could write, refused at compile time the way the
// runtime refuses them with CONFIG when the replicator is created.
import {
  createReplicator,
  d1BindingTarget,
  durableObjectSource,
  httpTarget,
  Replicator,
  sqliteWasmSource,
  type Limits,
  type ReplicatorOptions,
  type Source,
  type Target,
} from 'd1sync';
import type { DurableObjectState, Env } from './cloudflare.js';
import { expectExact, expectType } from './helpers.js';

declare const ctx: DurableObjectState;
declare const env: Env;
declare const browserSource: Source;

const source = durableObjectSource(ctx.storage);
const target = d1BindingTarget(env.DB);

// Every limit the engine knows (wasm/options.cpp); tests/node/contract.test.mjs pins the list.
const limits: Limits = {
  statementBytes: 100_000,
  boundParameters: 100,
  columns: 100,
  rowBytes: 2_000_000,
  vdbeOps: 21_504,
  statementsPerBatch: 200,
  batchBytes: 6_000_000,
  batchTimeMs: 5_000,
  queriesPerInvocation: 50,
  pageChanges: 20_000,
  copyPageRows: 20_000,
  pageBytes: 4_000_000,
};

const options: ReplicatorOptions = {
  source,
  target,
  sourceId: ctx.id.toString(),
  tables: ['tasks', 'comments'],
  tenant: { column: 'room_id', value: ctx.id.toString() },
  limits,
  schema: 'strict',
  takeover: true,
  hydrate: false,
  flushRetryMs: 30_000,
  lookAhead: 0,
};
const sync = await createReplicator(options);
expectExact<typeof sync, Replicator>(true);

// The minimal forms: a numeric tenant, and a browser through an endpoint (which sets the tenant).
await createReplicator({ source, target, sourceId: 'room-42' });
await createReplicator({
  source,
  target,
  sourceId: 'shard-7',
  tenant: { column: 'shard', value: 7 },
});
await createReplicator({
  source: browserSource,
  target: httpTarget('/d1sync', { getToken: () => 'token' }),
  sourceId: 'device-7f3a',
  lookAhead: 1,
});
// A target chosen at run time still type-checks when no tenant is given.
declare const either: Target;
await createReplicator({ source, target: either, sourceId: 'room-42', schema: 'replica' });

// Each method's result type.
expectExact<ReturnType<Replicator['start']>, Promise<void>>(true);
expectExact<ReturnType<Replicator['flush']>, Promise<void>>(true);
expectExact<ReturnType<Replicator['onAlarm']>, Promise<void>>(true);
expectExact<ReturnType<Replicator['nextRetryAt']>, number | null>(true);
expectExact<ReturnType<Replicator['resync']>, Promise<void>>(true);
expectExact<ReturnType<Replicator['retryQuarantined']>, Promise<void>>(true);
expectExact<ReturnType<Replicator['uninstall']>, Promise<void>>(true);
expectExact<ReturnType<Replicator['close']>, void>(true);
await sync.start();
await sync.flush();
await sync.flush({ maxBatches: 4 });
await sync.flush({ maxBatches: Infinity });
await sync.onAlarm();
await ctx.storage.setAlarm(sync.nextRetryAt() ?? Date.now() + 60_000);
await sync.resync();
await sync.resync({ table: 'tasks' });
await sync.retryQuarantined();
await sync.uninstall();
sync.close();

// The replicator is Disposable: `using` closes it at the end of the scope.
async function once(): Promise<number | null> {
  using scoped = await createReplicator(options);
  await scoped.flush();
  return scoped.nextRetryAt();
}
expectType<Promise<number | null>>(once());
expectType<Disposable>(sync);
expectType<boolean>(sync instanceof Replicator);

// Option names spelled wrong: an object literal names only known options (the runtime says
// "unknown option").
// @ts-expect-error sourceId
await createReplicator({ source, target, sourceID: 'room-42' });
// @ts-expect-error lookAhead
await createReplicator({ source, target, sourceId: 'room-42', lookahead: 1 });
// @ts-expect-error flushRetryMs
await createReplicator({ source, target, sourceId: 'room-42', flushRetry: 1000 });
// @ts-expect-error tables
await createReplicator({ source, target, sourceId: 'room-42', table: ['tasks'] });
// @ts-expect-error limits.statementBytes
await createReplicator({ source, target, sourceId: 'r', limits: { maxStatementBytes: 1 } });
// @ts-expect-error tenant.column
await createReplicator({ source, target, sourceId: 'r', tenant: { col: 'room_id', value: 'r' } });
// @ts-expect-error a required option is missing: sourceId
await createReplicator({ source, target });

// Wrong values.
// @ts-expect-error lookAhead is 0, 1 or 2
await createReplicator({ source, target, sourceId: 'room-42', lookAhead: 3 });
// @ts-expect-error lookAhead is a number, not a flag
await createReplicator({ source, target, sourceId: 'room-42', lookAhead: true });
// @ts-expect-error flushRetryMs is a number of ms
await createReplicator({ source, target, sourceId: 'room-42', flushRetryMs: '10s' });
// @ts-expect-error schema is 'replica' or 'strict'
await createReplicator({ source, target, sourceId: 'room-42', schema: 'loose' });
// @ts-expect-error a limit is a number
await createReplicator({ source, target, sourceId: 'r', limits: { statementBytes: '100kb' } });
// @ts-expect-error tables is a list of names
await createReplicator({ source, target, sourceId: 'room-42', tables: 'tasks' });
// @ts-expect-error the tenant's value is a string or a number
await createReplicator({ source, target, sourceId: 'r', tenant: { column: 'c', value: true } });
// @ts-expect-error the tenant is { column, value }, not the value alone
await createReplicator({ source, target, sourceId: 'room-42', tenant: 'room-42' });
// @ts-expect-error sourceId is a string
await createReplicator({ source, target, sourceId: 42 });
// @ts-expect-error takeover is true or false
await createReplicator({ source, target, sourceId: 'room-42', takeover: 'yes' });

// Sources and targets swapped, or unwrapped.
// @ts-expect-error a target as the source, a source as the target
await createReplicator({ source: target, target: source, sourceId: 'room-42' });
// @ts-expect-error the target is d1BindingTarget(env.DB), not env.DB
await createReplicator({ source, target: env.DB, sourceId: 'room-42' });
// @ts-expect-error the source is durableObjectSource(ctx.storage), not ctx.storage
await createReplicator({ source: ctx.storage, target, sourceId: 'room-42' });
// @ts-expect-error a source, not the function that makes one
await createReplicator({ source: sqliteWasmSource, target, sourceId: 'room-42' });

// Method options.
// @ts-expect-error flush's option is maxBatches
await sync.flush({ batches: 4 });
// @ts-expect-error maxBatches is a number
await sync.flush({ maxBatches: '4' });
// @ts-expect-error resync names one table, or none for all
await sync.resync({ tables: ['tasks'] });
// @ts-expect-error resync takes an options object
await sync.resync('tasks');
// @ts-expect-error nextRetryAt() may be null: nothing is due
await ctx.storage.setAlarm(sync.nextRetryAt());

// createReplicator() builds the engine a Replicator drives.
// @ts-expect-error the constructor is not public
new Replicator(options);
