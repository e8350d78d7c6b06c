// Node: compile the .wasm file next to the glue.
import { readFile } from 'node:fs/promises';
import { makeFactories } from './factory.js';

export * from './api.js';

export const { createReplicator, createSyncEndpoint } = makeFactories(async () =>
  WebAssembly.compile(await readFile(new URL('../dist/d1sync_engine.wasm', import.meta.url))),
);
