// Node: compile the .wasm file next to the glue.
import { readFile } from 'node:fs/promises';
import { makeFactories } from './factory.js';

export * from './api.js';

// lookAhead 1 by default: Miniflare's Node-side D1 proxy (getD1Database(), the usual D1 of
// Node) fails an internal assertion ("false == true") now and then when two batch() calls
// overlap. The answer is retried and nothing is lost, but health() counts the errors.
export const { createReplicator, createSyncEndpoint } = makeFactories(
  async () =>
    WebAssembly.compile(await readFile(new URL('../dist/d1sync_engine.wasm', import.meta.url))),
  { lookAhead: 1 },
);
