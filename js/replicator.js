// createReplicator(): the engine (WASM) driven against a source and a target. The engine
// never does I/O; this loop runs each engine call inside one local transaction and sends the
// batches it plans to D1, one at a time.
import { D1SyncError, messageOf } from './errors.js';

const OPTION_KEYS = ['source', 'target', 'sourceId', 'tables', 'tenant', 'limits', 'schema',
  'takeover', 'flushRetryMs'];

function randomSeed() {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return (words[0] & 0x1fffff) * 2 ** 32 + words[1];  // 53 bits: exact in JSON
}

const utf8 = new TextDecoder();

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export class Replicator {
  #engine;
  #source;
  #target;
  #flushRetryMs;
  #running = null;  // the drive in progress
  #queued = null;   // the drive that serves flush() calls made while one runs
  #closed = false;

  constructor(engine, source, target, flushRetryMs) {
    this.#engine = engine;
    this.#source = source;
    this.#target = target;
    this.#flushRetryMs = flushRetryMs;
  }

  // Installs capture, claims the sourceId in D1 and creates or alters the D1 schema. The
  // initial copy then proceeds with flush() / onAlarm().
  async start() {
    await this.#serialized(() => this.#drive({ untilStarted: true }));
  }

  // Resolves once D1 holds every change captured before the call. A call made while a sync
  // runs is served by the next one. `maxBatches` bounds the work of this call.
  async flush({ maxBatches = Infinity } = {}) {
    await this.#serialized(() => this.#drive({ maxBatches }));
  }

  health() {
    return JSON.parse(this.#live().health(Date.now()));
  }

  metrics() {
    return this.#live().metrics(Date.now());
  }

  // For the Durable Object's alarm(): runs the work that is due. Failures the engine will
  // retry are swallowed (nextRetryAt() says when to come back); the ones that stop it for good
  // (FENCED, CONFIG, SCHEMA: health().state === 'error') are thrown.
  async onAlarm() {
    try {
      await this.flush();
    } catch (e) {
      if (!(e instanceof D1SyncError) || this.health().state === 'error') throw e;
    }
  }

  // ms epoch when onAlarm() should run next, or null when nothing is due.
  nextRetryAt() {
    const engine = this.#live();
    const retry = engine.nextRetryAt();
    if (retry >= 0) return retry;
    const h = JSON.parse(engine.health(Date.now()));
    if (h.state === 'error') return null;
    return h.pendingChanges > 0 || !h.initialSync.done ? Date.now() : null;
  }

  async resync({ table } = {}) {
    const s = this.#live().resync(table ?? '');
    if (s.code) throw new D1SyncError(s.code, s.message);
    await this.flush();
  }

  quarantined() {
    return JSON.parse(this.#live().quarantined());
  }

  async retryQuarantined() {
    const s = this.#source.transaction(() => this.#live().retryQuarantined(Date.now()));
    if (s.code) throw new D1SyncError(s.code, s.message);
    await this.flush();
  }

  // Removes capture from the local database: the triggers, the outbox, the state and the
  // quarantine. D1 keeps its rows and the sourceId's fence row; a later start() begins a new
  // incarnation (which needs takeover: true for the same sourceId).
  async uninstall() {
    await this.#serialized(async () => {
      const s = this.#source.transaction(() => this.#live().uninstall());
      if (s.code) throw new D1SyncError(s.code, s.message);
    });
  }

  // Frees the engine's WASM objects. The replicator cannot be used afterwards.
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#engine.delete();
  }

  [Symbol.dispose ?? Symbol.for('Symbol.dispose')]() {
    this.close();
  }

  #live() {
    if (this.#closed) throw new D1SyncError('CONFIG', 'this replicator was closed');
    return this.#engine;
  }

  #serialized(work) {
    if (!this.#running) {
      this.#running = work().finally(() => { this.#running = null; });
      return this.#running;
    }
    if (!this.#queued) {
      const after = this.#running.catch(() => {});
      this.#queued = after.then(() => {
        this.#queued = null;
        return this.#serialized(work);
      });
    }
    return this.#queued;
  }

  async #drive({ untilStarted = false, maxBatches = Infinity }) {
    const engine = this.#live();
    let batches = 0;
    let waited = 0;
    for (;;) {
      if (untilStarted && engine.started()) return;
      // Checked before next(): a step of kind 'send' puts a request in flight, which must be
      // sent and completed, never dropped.
      if (batches >= maxBatches) return;
      const step = this.#source.transaction(() => engine.next(Date.now()));
      if (step.kind === 'idle') return;
      if (step.kind === 'failed') {
        throw new D1SyncError(step.code || 'INTERNAL', step.message, { d1Message: this.#lastError() });
      }
      if (step.kind === 'wait') {
        const ms = step.waitUntil - Date.now();
        if (waited + ms > this.#flushRetryMs) {
          const h = this.health();
          throw new D1SyncError(h.lastErrorCode || 'D1_TRANSIENT',
            `D1 keeps failing; retrying from ${new Date(step.waitUntil).toISOString()}: ${h.lastError}`,
            { d1Message: h.lastError ?? undefined });
        }
        waited += Math.max(0, ms);
        await sleep(ms);
        continue;
      }
      ++batches;
      const statements = utf8.decode(step.statements).split('\u0000');
      statements.pop();
      let ok = true;
      let error = '';
      let results = [];
      try {
        results = await this.#target.batch(statements);
      } catch (e) {
        ok = false;
        error = messageOf(e);
      }
      this.#source.transaction(() => engine.complete(ok, error, results, Date.now()));
    }
  }

  #lastError() {
    try {
      return JSON.parse(this.#engine.health(Date.now())).lastError ?? undefined;
    } catch {
      return undefined;
    }
  }
}

// Builds a Replicator around the shared engine module (see the entry points).
export async function createReplicatorWith(loadModule, options) {
  if (!options || typeof options !== 'object') {
    throw new D1SyncError('CONFIG', 'createReplicator() needs an options object');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) throw new D1SyncError('CONFIG', `unknown option '${key}'`);
  }
  const { source, target, sourceId, tables, tenant, limits, schema, takeover } = options;
  // A raw sqlite-wasm DB also has exec() and transaction(), and a raw D1 binding has batch():
  // both must be wrapped, or they fail later with a confusing error.
  if (!source || typeof source.exec !== 'function' || typeof source.transaction !== 'function' ||
      typeof source.selectValue === 'function') {
    throw new D1SyncError('CONFIG',
      'source must come from durableObjectSource(ctx.storage) or sqliteWasmSource(db)');
  }
  if (!target || typeof target.batch !== 'function' || typeof target.prepare === 'function') {
    throw new D1SyncError('CONFIG', 'target must come from d1BindingTarget(env.DB)');
  }
  const module = await loadModule();
  const config = JSON.stringify({ sourceId, tables, tenant, limits, schema, takeover, seed: randomSeed() });
  const engine = new module.Engine(source, config);
  const problem = engine.configError();
  if (problem) {
    engine.delete();
    throw new D1SyncError('CONFIG', problem);
  }
  return new Replicator(engine, source, target, options.flushRetryMs ?? 10000);
}
