// One instance of the engine module per compiled WebAssembly.Module (and so per isolate),
// shared by every replicator in it: many Durable Objects share an isolate's memory, and WASM
// memory never shrinks.
import createD1SyncModule from '../dist/d1sync_engine.js';

const instances = new WeakMap();

// `compiled` is a WebAssembly.Module: workerd and bundlers hand one over, other hosts compile
// the file first. Instantiating through the hook avoids compiling from bytes, which workerd
// forbids.
export function engineModule(compiled) {
  let instance = instances.get(compiled);
  if (!instance) {
    instance = createD1SyncModule({
      instantiateWasm(imports, receive) {
        WebAssembly.instantiate(compiled, imports).then((inst) => receive(inst, compiled));
        return {};
      },
      locateFile: (file) => file,
    });
    instances.set(compiled, instance);
  }
  return instance;
}
