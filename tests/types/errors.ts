// D1SyncError and its codes: how application code tells the failures apart.
import {
  createReplicator,
  D1SyncError,
  d1BindingTarget,
  durableObjectSource,
  type D1SyncErrorCode,
  type VerifyReport,
} from 'd1sync';
import type { DurableObjectState, Env } from './cloudflare.js';
import { expectExact, expectType } from './helpers.js';

declare const ctx: DurableObjectState;
declare const env: Env;

const sync = await createReplicator({
  source: durableObjectSource(ctx.storage),
  target: d1BindingTarget(env.DB),
  sourceId: 'room-42',
});

// What each code asks of the application.
function advice(code: D1SyncErrorCode): string {
  switch (code) {
    case 'D1_TRANSIENT':
      return 'nothing: onAlarm() retries';
    case 'D1_LIMIT':
    case 'D1_CONSTRAINT':
      return 'look at quarantined()';
    case 'SCHEMA':
      return "fix D1's table";
    case 'FENCED':
      return 'another database owns this sourceId: takeover?';
    case 'CONFIG':
      return 'fix the options';
    case 'INTERNAL':
      return 'recreate the replicator';
    default: {
      const never: never = code;
      return never;
    }
  }
}

try {
  await sync.flush();
} catch (e) {
  if (e instanceof D1SyncError) {
    expectExact<typeof e.code, D1SyncErrorCode>(true);
    expectExact<typeof e.name, 'D1SyncError'>(true);
    expectExact<typeof e.d1Message, string | undefined>(true);
    expectExact<typeof e.report, VerifyReport | undefined>(true);
    expectType<Error>(e);
    advice(e.code);
  }
}

// An application may raise the package's error itself, e.g. from a wrapper of its own.
const wrapped = new D1SyncError('D1_TRANSIENT', 'D1 did not answer', {
  d1Message: 'Network connection lost.',
  cause: new Error('socket closed'),
});
expectExact<typeof wrapped.code, D1SyncErrorCode>(true);
new D1SyncError('CONFIG', 'no D1 binding named DB');

// @ts-expect-error not one of the codes
new D1SyncError('TIMEOUT', 'too slow');
// @ts-expect-error the message is required
new D1SyncError('CONFIG');
// @ts-expect-error d1Message is text
new D1SyncError('D1_LIMIT', 'row too big', { d1Message: 413 });
// @ts-expect-error the options name d1Message and cause only
new D1SyncError('INTERNAL', 'x', { status: 500 });
// @ts-expect-error code is read-only
wrapped.code = 'CONFIG';
// @ts-expect-error codes are spelled as the engine spells them
if (wrapped.code === 'D1_TRANSIENT_ERROR') throw wrapped;
