// Targets: a D1 binding as a Worker (or Miniflare) types it, or a sync endpoint's URL; a raw
// binding, a source, or an httpTarget option of the wrong shape is refused at compile time.
import {
  d1BindingTarget,
  durableObjectSource,
  httpTarget,
  type D1DatabaseLike,
  type HttpTarget,
  type HttpTargetOptions,
  type SqlTarget,
  type Target,
} from 'd1sync';
import type { DurableObjectState, Env } from './cloudflare.js';
import { expectExact, expectType } from './helpers.js';

declare const ctx: DurableObjectState;
declare const env: Env;
declare function refreshedToken(refresh: boolean): Promise<string>;

// A D1 binding, typed as @cloudflare/workers-types types env.DB.
const d1 = d1BindingTarget(env.DB);
expectExact<typeof d1, SqlTarget>(true);
expectExact<typeof d1.kind, string>(true);
const results = await d1.batch(['SELECT 1', 'SELECT 2']);
expectExact<
  typeof results,
  { columns: number; cells: string; rowsRead?: number; rowsWritten?: number }[]
>(true);
const binding: D1DatabaseLike = env.DB;
expectType<SqlTarget>(d1BindingTarget(binding));
// A stand-in binding, as a test of the application's own might write one.
const recorded: string[] = [];
const standIn: D1DatabaseLike = {
  prepare: (query) => query,
  batch: async (statements) => {
    recorded.push(...statements.map(String));
    return statements.map(() => ({ results: [], meta: { rows_read: 0, rows_written: 1 } }));
  },
};
d1BindingTarget(standIn);

// A sync endpoint, as the README's browser page reaches it.
const remote = httpTarget('/d1sync', {
  getToken: async ({ refresh }) => refreshedToken(refresh),
});
expectExact<typeof remote, HttpTarget>(true);
expectExact<typeof remote.kind, 'http'>(true);
expectExact<typeof remote.url, string>(true);
const answer = await remote.send('claim', JSON.stringify({ sourceId: 'device-7f3a' }));
expectExact<typeof answer, { status: number; body: string; retryAfterMs?: number }>(true);
await remote.send('apply', new Uint8Array([1, 2, 3]));
await remote.send('read', '{}');

// Every option, each in the forms the runtime takes.
const options: HttpTargetOptions = {
  getToken: ({ refresh }) => (refresh ? 'fresh' : 'cached'),
  fetch: (input, init) => fetch(input, init),
  headers: { 'x-app-version': '3' },
};
httpTarget(new URL('https://app.example/d1sync'), options);
httpTarget('https://app.example/d1sync', { headers: new Headers([['x-tab', '1']]) });
httpTarget('/d1sync');

// Both kinds are a Target; `send` tells them apart.
const targets: Target[] = [d1, remote];
for (const target of targets) {
  if ('send' in target) expectType<HttpTarget>(target);
  else expectType<SqlTarget>(target);
}

// @ts-expect-error d1BindingTarget wraps the binding itself, not a target made from it
d1BindingTarget(d1);
// @ts-expect-error a Durable Object's storage is a source
d1BindingTarget(ctx.storage);
// @ts-expect-error the whole env, not env.DB
d1BindingTarget(env);
const badStandIn: D1DatabaseLike = {
  prepare: (query) => query,
  // @ts-expect-error D1's meta counts rows as numbers
  batch: async (statements) => statements.map(() => ({ meta: { rows_read: '0' } })),
};
// @ts-expect-error the endpoint's URL is a string or a URL, not a port
httpTarget(8787);
// @ts-expect-error the bearer token comes from getToken(), there is no `token` option
httpTarget('/d1sync', { token: 'abc' });
// @ts-expect-error getToken resolves to the token text
httpTarget('/d1sync', { getToken: async () => ({ token: 'abc' }) });
// @ts-expect-error getToken is a function, asked again after a 401
httpTarget('/d1sync', { getToken: 'abc' });
// @ts-expect-error headers are a HeadersInit, not a list of strings
httpTarget('/d1sync', { headers: ['x-app-version: 3'] });
// @ts-expect-error not an operation of the sync protocol
await remote.send('push', '{}');

// A source or a raw binding where a target belongs.
// @ts-expect-error durableObjectSource() makes a source
expectType<Target>(durableObjectSource(ctx.storage));
// @ts-expect-error env.DB must be wrapped: d1BindingTarget(env.DB)
expectType<Target>(env.DB);
