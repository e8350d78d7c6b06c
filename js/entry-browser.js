// Browsers: stream-compile the .wasm served next to this package.
import { makeFactories } from './factory.js';

export * from './api.js';

export const { createReplicator, createSyncEndpoint } = makeFactories(async () => {
  const url = new URL('../dist/d1sync_engine.wasm', import.meta.url);
  if (typeof WebAssembly.compileStreaming === 'function') {
    return WebAssembly.compileStreaming(fetch(url));
  }
  return WebAssembly.compile(await (await fetch(url)).arrayBuffer());
});
