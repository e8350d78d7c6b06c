// Who is calling: every request carries `Authorization: Bearer <JWT>`, an HS256 token signed
// with the Worker's secret AUTH_SECRET and verified here with jose. The token's claims say
//   sub     the client id: one device, browser profile or command-line user of the tenant
//   tenant  the tenant whose data the caller may read and write (letters, digits, _ or -)
//   exp     when the token stops working (required: a token without it would never expire)
//
// The secret: locally in `.dev.vars` beside wrangler.toml (`AUTH_SECRET=...`, see
// .dev.vars.example; git ignores .dev.vars), in production a Worker secret
// (`npx wrangler secret put AUTH_SECRET`). At least 32 bytes: HS256 wants a key as long as its
// hash. `node tools/mint-token.mjs --tenant alice` signs a development token with it.
//
// Bringing your own identity provider (Auth0, Clerk, Cognito, Firebase, Okta, ...): verify its
// tokens against its published keys instead of a shared secret, keeping the same result shape:
//
//   import { createRemoteJWKSet, jwtVerify } from 'jose';
//   // Once per isolate: the key set caches the provider's keys and refetches on rotation.
//   const providerKeys = createRemoteJWKSet(new URL('https://YOUR_ISSUER/.well-known/jwks.json'));
//   const { payload } = await jwtVerify(token, providerKeys, {
//     issuer: 'https://YOUR_ISSUER/', // always pin issuer and audience with a shared key set
//     audience: 'YOUR_API_IDENTIFIER',
//     algorithms: ['RS256'],
//     requiredClaims: ['exp'],
//   });
//
// and read the tenant from wherever the provider puts it (an organisation id, or a custom claim
// such as `https://your.app/tenant`), checked against TENANT below. AUTH_SECRET is then unused.
import { jwtVerify, type JWTPayload } from 'jose';

// A tenant names a partition of the shared D1 tables (tools/mint-token.mjs checks the same).
export const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
// Client ids are opaque to the app; printable ASCII keeps them safe in logs and keys.
const CLIENT_ID = /^[\x21-\x7e]{1,255}$/;
const MIN_SECRET_BYTES = 32;

// Who a request comes from. It is also a d1sync SyncCaller, so the sync endpoint takes it as is.
export interface Caller {
  tenant: string;
  clientId: string;
}

// The Worker is set up wrongly (no or too short AUTH_SECRET): a 500 for the operator to fix,
// never an API left open.
export class AuthConfigError extends Error {
  readonly code = 'CONFIG';

  constructor(message: string) {
    super(message);
    this.name = 'AuthConfigError';
  }
}

// env is read warily: Env declares AUTH_SECRET, yet a secret that was never set is simply
// absent at run time, and the sync endpoint hands on whatever env its handle() was given.
function secretKey(env: unknown): Uint8Array {
  const secret =
    typeof env === 'object' && env !== null && 'AUTH_SECRET' in env ? env.AUTH_SECRET : undefined;
  if (typeof secret !== 'string' || secret === '') {
    throw new AuthConfigError(
      'AUTH_SECRET is not set: put AUTH_SECRET=... in .dev.vars for `wrangler dev` ' +
        '(see .dev.vars.example), or `npx wrangler secret put AUTH_SECRET` in production',
    );
  }
  const key = new TextEncoder().encode(secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new AuthConfigError(
      `AUTH_SECRET is ${key.length} bytes: HS256 needs at least ${MIN_SECRET_BYTES} ` +
        '(e.g. `openssl rand -hex 32`)',
    );
  }
  return key;
}

function bearerToken(request: Request): string | null {
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(request.headers.get('authorization') ?? '');
  return m ? m[1] : null;
}

// authenticate(request, env) -> Promise<Caller | null>
// null when the request has no token, or its token is malformed, wrongly signed, expired, not
// yet valid, or lacks a well-formed `sub` or `tenant`. Throws AuthConfigError when the Worker
// has no usable AUTH_SECRET. The sync endpoint takes this same function as its `authenticate`,
// which is why env is `unknown` here rather than Env (see secretKey).
export async function authenticate(request: Request, env: unknown): Promise<Caller | null> {
  const key = secretKey(env);
  const token = bearerToken(request);
  if (token === null) return null;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
    }));
  } catch {
    return null; // every jose failure means the same to the caller: not authenticated
  }
  const { tenant, sub } = payload;
  if (typeof tenant !== 'string' || !TENANT.test(tenant)) return null;
  if (typeof sub !== 'string' || !CLIENT_ID.test(sub)) return null;
  return { tenant, clientId: sub };
}
