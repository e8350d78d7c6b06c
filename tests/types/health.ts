// health(), metrics() and quarantined(): the figures a dashboard or an alarm handler reads,
// with null where the engine reports null (unreadable figures, nothing due, never verified).
import {
  createReplicator,
  d1BindingTarget,
  durableObjectSource,
  type D1SyncErrorCode,
  type Health,
  type QuarantinedChange,
} from 'd1sync';
import type { DurableObjectState, Env } from './cloudflare.js';
import { expectExact } from './helpers.js';

declare const ctx: DurableObjectState;
declare const env: Env;

const sync = await createReplicator({
  source: durableObjectSource(ctx.storage),
  target: d1BindingTarget(env.DB),
  sourceId: 'room-42',
});

const health = sync.health();
expectExact<typeof health, Health>(true);
expectExact<Health['state'], 'initial_sync' | 'streaming' | 'idle' | 'backoff' | 'error'>(true);
expectExact<Health['healthy'], boolean>(true);
expectExact<Health['error'], string | undefined>(true);
expectExact<Health['sourceId'], string>(true);
expectExact<Health['lastSyncAt'] | Health['lastSuccessAt'], number>(true);
expectExact<Health['lastError'], string | null>(true);
expectExact<Health['lastErrorCode'], D1SyncErrorCode | null>(true);
expectExact<
  Health['totalSyncs'] | Health['syncErrors'] | Health['errorRate'] | Health['retries'],
  number
>(true);
expectExact<Health['pendingChanges'], number | null>(true);
expectExact<Health['quarantined'], number | null>(true);
expectExact<Health['lagMs'], number | null>(true);
expectExact<Health['capturedSeq'], number | null>(true);
expectExact<Health['appliedSeq'] | Health['rowsReplicated'] | Health['rowsHydrated'], number>(true);
expectExact<Health['lastVerifiedAt'], number | null>(true);
expectExact<Health['lastVerifyEqual'], boolean | null>(true);
expectExact<
  Health['statementsSent'] | Health['batchesSent'] | Health['bytesSent'] | Health['epoch'],
  number
>(true);
expectExact<Health['d1RowsRead'] | Health['d1RowsWritten'], number>(true);
expectExact<Health['nextRetryAt'], number | null>(true);
expectExact<Health['warnings'], string[]>(true);
expectExact<Health['lookAhead'], { prepared: number; used: number; sentBeforeAnswer: number }>(
  true,
);
expectExact<Health['initialSync']['done'], boolean>(true);
const copy = health.initialSync.tables['tasks'];
expectExact<typeof copy.phase, 'create' | 'copy' | 'swap' | 'live'>(true);
expectExact<typeof copy.copied | typeof copy.total, number>(true);

// A status line as the template's /health route would build it.
function describe(h: Health): string {
  if (h.error !== undefined) return `figures unavailable: ${h.error}`;
  switch (h.state) {
    case 'initial_sync':
      return `copying, ${Object.keys(h.initialSync.tables).length} tables`;
    case 'streaming':
      return `${h.pendingChanges ?? '?'} pending, ${h.lagMs ?? 0} ms behind`;
    case 'idle':
      return 'in sync';
    case 'backoff':
      return `retrying at ${h.nextRetryAt ?? 'once called'}: ${h.lastError ?? ''}`;
    case 'error': {
      const code: D1SyncErrorCode | null = h.lastErrorCode;
      return `stopped: ${code ?? 'unknown'}`;
    }
    default: {
      const never: never = h.state;
      return never;
    }
  }
}
describe(health);

const metrics = sync.metrics();
expectExact<typeof metrics, string>(true);

// quarantined(): paged by the last id seen.
const firstPage = sync.quarantined();
expectExact<typeof firstPage, QuarantinedChange[]>(true);
let after = 0;
for (;;) {
  const entries = sync.quarantined({ after, limit: 100 });
  if (!entries.length) break;
  for (const entry of entries) {
    expectExact<typeof entry.id | typeof entry.at, number>(true);
    expectExact<typeof entry.table | typeof entry.key | typeof entry.error, string>(true);
    expectExact<typeof entry.code, D1SyncErrorCode>(true);
  }
  after = entries[entries.length - 1].id;
}

// @ts-expect-error not a state health() reports
if (health.state === 'syncing') throw new Error();
// @ts-expect-error the figure is pendingChanges
health.pending;
// @ts-expect-error pendingChanges is null when the local read failed
const pending: number = health.pendingChanges;
// @ts-expect-error lastErrorCode is one of D1SyncError's codes
if (health.lastErrorCode === 'TIMEOUT') throw new Error();
// @ts-expect-error quarantined() pages with after and limit
sync.quarantined({ offset: 100 });
// @ts-expect-error after is an entry's id, a number
sync.quarantined({ after: '17' });
// @ts-expect-error quarantined() is synchronous: its result has no then()
await sync.quarantined().then((list) => list.length);
// @ts-expect-error metrics() is Prometheus text, not an object
sync.metrics().pendingChanges;
