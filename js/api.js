// The public names every entry point exports besides createReplicator and createSyncEndpoint.
export { D1SyncError } from './errors.js';
export { durableObjectSource, sqliteWasmSource } from './sources.js';
export { d1BindingTarget, httpTarget } from './targets.js';
export { Replicator } from './replicator.js';
