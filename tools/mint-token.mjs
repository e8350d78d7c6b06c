// Signs a development token for worker-template/ (HS256, with jose):
//
//   node tools/mint-token.mjs --tenant alice [--sub cli] [--ttl 3600] [--secret S]
//
// prints the JWT, to be sent as `Authorization: Bearer <token>`. The secret is, first found:
// --secret, the AUTH_SECRET environment variable, AUTH_SECRET in .dev.vars at the repository
// root (what `npx wrangler dev` there reads) or in worker-template/.dev.vars, and last
// DEV_SECRET below, which only the demo and the tests' Miniflare use. Production tokens come
// from the app's own sign-in, signed with the Worker secret or by an identity provider.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Public, hence good for nothing but local runs: tools/demo.mjs and tests/template/.
export const DEV_SECRET = 'd1sync-dev-secret-for-the-demo-and-tests-only';
// What worker-template/src/auth.ts accepts.
const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
const CLIENT_ID = /^[\x21-\x7e]{1,255}$/;
const MIN_SECRET_BYTES = 32;

// mintToken({ tenant, sub, ttl, secret, claims }) -> Promise<string>. `claims` adds or, set to
// undefined, removes payload members (the tests use it to make tokens the Worker must refuse);
// a negative ttl makes a token that has already expired.
export async function mintToken({ tenant, sub = 'cli', ttl = 3600, secret = DEV_SECRET, claims }) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { tenant, sub, iat: now, exp: now + ttl, ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
}

function devVarsSecret(file) {
  if (!existsSync(file)) return undefined;
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = /^\s*AUTH_SECRET\s*=\s*(.*?)\s*$/.exec(line);
    if (m) return m[1].replace(/^(["'])(.*)\1$/, '$2');
  }
  return undefined;
}

function resolveSecret(flag) {
  if (flag !== undefined) return { secret: flag, from: '--secret' };
  if (process.env.AUTH_SECRET) return { secret: process.env.AUTH_SECRET, from: 'AUTH_SECRET' };
  for (const file of ['.dev.vars', 'worker-template/.dev.vars']) {
    const secret = devVarsSecret(path.join(repoRoot, file));
    if (secret) return { secret, from: file };
  }
  return {
    secret: DEV_SECRET,
    from: 'nowhere (no --secret, AUTH_SECRET or .dev.vars): the built-in DEV_SECRET, which only the demo and the tests accept',
  };
}

async function main() {
  const usage =
    'usage: node tools/mint-token.mjs --tenant NAME [--sub CLIENT_ID] [--ttl SECONDS] [--secret S]';
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        tenant: { type: 'string' },
        sub: { type: 'string', default: 'cli' },
        ttl: { type: 'string', default: '3600' },
        secret: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new Error(`${e.message}\n${usage}`);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  if (!values.tenant || !TENANT.test(values.tenant)) {
    throw new Error(`--tenant must be 1-64 letters, digits, _ or -\n${usage}`);
  }
  if (!CLIENT_ID.test(values.sub)) {
    throw new Error(`--sub must be 1-255 printable ASCII characters without spaces\n${usage}`);
  }
  if (!/^[1-9]\d*$/.test(values.ttl)) throw new Error(`--ttl must be a positive number of seconds`);
  const { secret, from } = resolveSecret(values.secret);
  if (new TextEncoder().encode(secret).length < MIN_SECRET_BYTES) {
    throw new Error(`the secret (from ${from}) is shorter than ${MIN_SECRET_BYTES} bytes`);
  }
  console.error(`signed with the secret from ${from}`);
  console.log(
    await mintToken({ tenant: values.tenant, sub: values.sub, ttl: Number(values.ttl), secret }),
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`mint-token: ${e.message}`);
    process.exit(1);
  });
}
