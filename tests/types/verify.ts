// verify() and repair(), and hydrate: starting a new database from what D1 holds.
import {
  createReplicator,
  D1SyncError,
  d1BindingTarget,
  durableObjectSource,
  httpTarget,
  type Source,
  type VerifyDifference,
  type VerifyReport,
} from 'd1sync';
import type { DurableObjectState, Env } from './cloudflare.js';
import { expectExact } from './helpers.js';

declare const ctx: DurableObjectState;
declare const env: Env;
declare const browserSource: Source;

// A new Durable Object takes over a room from D1 (README: "Starting a new database from D1").
const sync = await createReplicator({
  source: durableObjectSource(ctx.storage),
  target: d1BindingTarget(env.DB),
  sourceId: 'room-42',
  tenant: { column: 'room_id', value: 'room-42' },
  hydrate: true,
  takeover: true,
});
await sync.start();
expectExact<ReturnType<typeof sync.health>['rowsHydrated'], number>(true);
// A browser profile hydrates through the endpoint, which serves the reads.
await createReplicator({
  source: browserSource,
  target: httpTarget('/d1sync', { getToken: () => 'token' }),
  sourceId: 'device-7f3a',
  hydrate: true,
});

const report = await sync.verify();
expectExact<typeof report, VerifyReport>(true);
expectExact<typeof report.equal, boolean>(true);
expectExact<
  | typeof report.rowsReadLocal
  | typeof report.rowsReadD1
  | typeof report.batches
  | typeof report.statements
  | typeof report.ms
  | typeof report.appliedSeq,
  number
>(true);
for (const table of report.tables) {
  expectExact<typeof table.table, string>(true);
  expectExact<typeof table.rowsLocal | typeof table.rowsD1 | typeof table.ranges, number>(true);
  expectExact<typeof table.differences, VerifyDifference[]>(true);
  for (const { key, local, d1 } of table.differences) {
    expectExact<typeof key, string>(true);
    expectExact<typeof local | typeof d1, string | null>(true);
  }
  for (const range of table.unresolved) {
    expectExact<typeof range.from | typeof range.to, string | null>(true);
    expectExact<typeof range.rowsLocal | typeof range.rowsD1, number>(true);
  }
}
if (!report.equal) await sync.repair(report);
expectExact<ReturnType<typeof sync.repair>, Promise<void>>(true);

await sync.verify({ table: 'tasks', tenant: 'room-42', maxDifferences: 50 });
await sync.verify({ tenant: 7 });

// A verify that stops keeps what it compared on the error.
try {
  await sync.verify();
} catch (e) {
  if (e instanceof D1SyncError && e.report) {
    expectExact<typeof e.report.errorCode, D1SyncError['code'] | undefined>(true);
    expectExact<typeof e.report.error, string | undefined>(true);
    await sync.repair(e.report);
  }
}

// @ts-expect-error verify() compares one table or all: the option is `table`
await sync.verify({ tables: ['tasks'] });
// @ts-expect-error maxDifferences is a number
await sync.verify({ maxDifferences: 'all' });
// @ts-expect-error the tenant is a string or a number
await sync.verify({ tenant: { column: 'room_id', value: 'room-42' } });
// @ts-expect-error verify() is asynchronous: await its report
sync.verify().equal;
// @ts-expect-error repair() takes verify()'s report, not health()
await sync.repair(sync.health());
// @ts-expect-error repair() takes the whole report, not one table of it
await sync.repair(report.tables[0]);
await createReplicator({
  source: browserSource,
  target: httpTarget('/d1sync'),
  sourceId: 'device-7f3a',
  // @ts-expect-error hydrate is true or false
  hydrate: 'd1',
});
