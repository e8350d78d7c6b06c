// `npm test`: test/*.test.ts inside workerd with the Workers Vitest integration, against the
// bindings of wrangler.toml (the Room Durable Object, a local D1) and d1sync's engine as a
// WebAssembly module, as `wrangler dev` serves them.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Beside this file, whatever directory Vitest runs from.
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

// The integration serves wrangler.toml's [assets] directory but never runs the [build] step
// that assembles it; the routes under test need no page, so an empty directory will do.
mkdirSync(here('assets'), { recursive: true });

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: here('wrangler.toml') },
      // The tests sign their tokens with this secret (env.AUTH_SECRET), whatever .dev.vars says.
      miniflare: { bindings: { AUTH_SECRET: 'vitest-secret-of-at-least-32-bytes-for-hs256' } },
    }),
  ],
});
