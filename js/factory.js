// createReplicator() for an entry point, given how it obtains the compiled engine.
import { createReplicatorWith } from './replicator.js';
import { engineModule } from './engine-module.js';

export function makeCreateReplicator(compile) {
  let compiled = null;
  const load = async () => engineModule(await (compiled ??= compile()));
  return (options) => createReplicatorWith(load, options);
}
