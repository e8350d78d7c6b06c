// createSyncEndpoint(): the Worker side of httpTarget(), as the README and the template wire it.
import {
  createSyncEndpoint,
  d1BindingTarget,
  type SyncCaller,
  type SyncEndpoint,
  type SyncEndpointOptions,
} from 'd1sync';
import type { Env, ExecutionContext } from './cloudflare.js';
import { expectExact, expectType } from './helpers.js';

declare const env: Env;
declare function verifyToken(request: Request, secret: string): Promise<SyncCaller | null>;
declare function app(request: Request, env: Env): Promise<Response>;

// authenticate(request, env) as the template's auth.js writes it.
async function authenticate(request: Request, env?: unknown): Promise<SyncCaller | null> {
  const secret = (env as Env | undefined)?.AUTH_SECRET;
  if (!secret) return null;
  return verifyToken(request, secret);
}

const options: SyncEndpointOptions = {
  db: env.DB,
  tables: ['tasks'],
  tenantColumn: 'user_id',
  authenticate,
  limits: { requestBytes: 1 << 20, rowsPerRequest: 10_000, requestsPerMinute: 600 },
};
const endpoint = createSyncEndpoint(options);
expectExact<typeof endpoint, SyncEndpoint>(true);

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    return new URL(request.url).pathname.startsWith('/d1sync/')
      ? endpoint.handle(request, env, ctx)
      : app(request, env);
  },
};
expectExact<ReturnType<SyncEndpoint['handle']>, Promise<Response>>(true);

// Without tenants, a caller is its client id alone; authenticate may answer synchronously.
createSyncEndpoint({
  db: env.DB,
  tables: ['notes', 'tags'],
  authenticate: (request) => {
    const device = request.headers.get('x-device');
    return device ? { clientId: device } : null;
  },
});
// A numeric tenant.
const caller: SyncCaller = { tenant: 42, clientId: 'device-7f3a' };
expectExact<SyncCaller['tenant'], string | number | undefined>(true);
expectType<SyncCaller>(caller);

// @ts-expect-error the endpoint takes the D1 binding itself, not a target made from it
createSyncEndpoint({ ...options, db: d1BindingTarget(env.DB) });
// @ts-expect-error tables is the allow-list: an array of names
createSyncEndpoint({ ...options, tables: 'tasks' });
// @ts-expect-error the option is tenantColumn
createSyncEndpoint({ db: env.DB, tables: ['tasks'], tenant: 'user_id', authenticate });
// @ts-expect-error authenticate is required: the endpoint is never open
createSyncEndpoint({ db: env.DB, tables: ['tasks'] });
// @ts-expect-error the caller needs a clientId: a replicator's sourceId must equal it
createSyncEndpoint({ ...options, authenticate: async () => ({ tenant: 'alice' }) });
// @ts-expect-error no/bad credentials are null, not false
createSyncEndpoint({ ...options, authenticate: async () => false });
// @ts-expect-error limits are requestBytes, rowsPerRequest and requestsPerMinute
createSyncEndpoint({ ...options, limits: { maxBodyBytes: 1 << 20 } });
// @ts-expect-error a limit is a number
createSyncEndpoint({ ...options, limits: { requestsPerMinute: '600' } });
// @ts-expect-error the tenant is a string or a number
expectType<SyncCaller>({ tenant: ['alice'], clientId: 'device-7f3a' });
// @ts-expect-error handle() takes the Request, not its URL
await endpoint.handle('https://app.example/d1sync/claim');
