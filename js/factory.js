// createReplicator() and createSyncEndpoint() for an entry point, given how it obtains the
// compiled engine.
import { createReplicatorWith } from './replicator.js';
import { createSyncEndpointWith } from './endpoint.js';
import { engineModule } from './engine-module.js';

export function makeFactories(compile) {
  let compiled = null;
  const load = async () => engineModule(await (compiled ??= compile()));
  return {
    createReplicator: (options) => createReplicatorWith(load, options),
    createSyncEndpoint: (options) => createSyncEndpointWith(load, options),
  };
}
