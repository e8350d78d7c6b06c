// createReplicator() and createSyncEndpoint() for an entry point, given how it obtains the
// compiled engine.
import { createReplicatorWith } from './replicator.js';
import { createSyncEndpointWith } from './endpoint.js';
import { engineModule } from './engine-module.js';

// `defaults`: option values this entry point uses when the application gives none.
export function makeFactories(compile, defaults = {}) {
  let compiled = null;
  const load = async () => engineModule(await (compiled ??= compile()));
  const withDefaults = (options) =>
    options && typeof options === 'object' && options.lookAhead === undefined
      ? { ...options, ...defaults }
      : options;
  return {
    createReplicator: (options) => createReplicatorWith(load, withDefaults(options)),
    createSyncEndpoint: (options) => createSyncEndpointWith(load, options),
  };
}
