// Workers and Durable Objects: the bundler imports the .wasm as a compiled module
// (wrangler's CompiledWasm rule); workerd forbids compiling WASM from bytes at run time.
import compiled from '../dist/d1sync_engine.wasm';
import { makeFactories } from './factory.js';

export * from './api.js';

export const { createReplicator, createSyncEndpoint } = makeFactories(async () => compiled);
