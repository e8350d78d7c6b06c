// createReplicator(): the engine (WASM) driven against a source and a target. The engine
// never does I/O; this loop runs each engine call inside one local transaction and sends the
// batches it plans to D1, one at a time.
import { D1SyncError, messageOf } from './errors.js';

const OPTION_KEYS = [
  'source',
  'target',
  'sourceId',
  'tables',
  'tenant',
  'limits',
  'schema',
  'takeover',
  'hydrate',
  'flushRetryMs',
  'lookAhead',
  'log',
];

const LOG_LEVELS = ['warn', 'info', 'debug'];

// The `log` option to the level the engine records and the function each event goes to: one
// JSON line through console by default, so Workers Logs and `wrangler tail` show it.
function logSink(log) {
  if (log === undefined) log = 'warn';
  if (log === false) return { level: 'off', sink: null };
  if (typeof log === 'function') return { level: 'debug', sink: (line) => log(JSON.parse(line)) };
  if (!LOG_LEVELS.includes(log)) {
    throw new D1SyncError(
      'CONFIG',
      `log must be 'warn', 'info', 'debug', false or a function, not ${String(log)}`,
    );
  }
  return {
    level: log,
    sink: (line, level) => (level === 'warn' ? console.warn : console.info)(line),
  };
}

function randomSeed() {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return (words[0] & 0x1fffff) * 2 ** 32 + words[1]; // 53 bits: exact in JSON
}

const utf8 = new TextDecoder();

export class Replicator {
  #engine;
  #source;
  #target;
  #running = null; // the drive in progress
  #queued = null; // the drive that serves flush() calls made while one runs
  #closed = false;
  #wake = null; // ends the current backoff sleep early (close())
  #sink; // where the engine's log events go (null: nowhere)

  constructor(engine, source, target, sink = null) {
    this.#engine = engine;
    this.#source = source;
    this.#target = target;
    this.#sink = sink;
  }

  // Installs capture, claims the sourceId in D1 and creates or alters the D1 schema. The
  // initial copy then proceeds with flush() / onAlarm().
  async start() {
    await this.#serialized(() => this.#drive({ untilStarted: true }));
  }

  // Resolves once D1 holds every change captured before the call. A call made while a sync
  // runs is served by the next one. `maxBatches` bounds the work of this call.
  async flush({ maxBatches = Infinity } = {}) {
    if (maxBatches !== Infinity && !(Number.isSafeInteger(maxBatches) && maxBatches >= 0)) {
      throw new D1SyncError(
        'CONFIG',
        `flush(): maxBatches must be a non-negative integer or Infinity, not ${String(maxBatches)}`,
      );
    }
    await this.#serialized(() => this.#drive({ maxBatches }));
  }

  health() {
    return JSON.parse(this.#live().health(Date.now()));
  }

  metrics() {
    return this.#live().metrics(Date.now());
  }

  // For the Durable Object's alarm(): runs the work that is due. The engine says which
  // failures end it for good (FENCED, CONFIG, SCHEMA, INTERNAL: thrown); the others are
  // swallowed, and nextRetryAt() says when to come back.
  async onAlarm() {
    try {
      await this.flush();
    } catch (e) {
      if (!(e instanceof D1SyncError) || this.#closed || this.#engine.terminal()) throw e;
    }
  }

  // ms epoch when onAlarm() should run next, or null when nothing is due. The engine decides;
  // health().nextRetryAt carries the same value.
  nextRetryAt() {
    const at = this.#live().nextRunAt(Date.now());
    return at >= 0 ? at : null;
  }

  async resync({ table } = {}) {
    const s = this.#live().resync(table ?? '');
    if (s.code) throw new D1SyncError(s.code, s.message);
    await this.flush();
  }

  // Changes D1 refused for good, oldest first; `after` (an entry's id) and `limit` page them.
  quarantined({ after = 0, limit = 0 } = {}) {
    for (const [name, value] of [
      ['after', after],
      ['limit', limit],
    ]) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new D1SyncError('CONFIG', `quarantined(): ${name} must be a non-negative integer`);
      }
    }
    const list = JSON.parse(this.#live().quarantined(after, limit));
    if (!Array.isArray(list)) throw new D1SyncError('INTERNAL', list.error);
    return list;
  }

  async retryQuarantined() {
    const s = this.#source.transaction(() => this.#live().retryQuarantined(Date.now()));
    if (s.code) throw new D1SyncError(s.code, s.message);
    await this.flush();
  }

  // Compares D1 with the local database (wasm/verify.hpp): once every captured change is in
  // D1, key ranges are fingerprinted on both sides and the differing ones narrowed to their
  // keys. Resolves with the report; a verify that could not finish throws, with the partial
  // report as `error.report`.
  async verify({ table, tenant, maxDifferences, ...rest } = {}) {
    const unknown = Object.keys(rest);
    if (unknown.length) throw new D1SyncError('CONFIG', `verify(): unknown option '${unknown[0]}'`);
    const request = JSON.stringify({ table, tenant, maxDifferences });
    return this.#serialized(async () => {
      const engine = this.#live();
      const s = this.#source.transaction(() => engine.beginVerify(request, Date.now()));
      if (s.code) throw new D1SyncError(s.code, s.message);
      await this.#drive({});
      const text = engine.verifyReport();
      if (!text) throw new D1SyncError('INTERNAL', 'verify() ended without a report');
      const report = JSON.parse(text);
      if (report.errorCode) {
        const error = new D1SyncError(report.errorCode, report.error);
        error.report = report;
        throw error;
      }
      return report;
    });
  }

  // Sends again exactly the keys a verify() report names (each as the local database holds it
  // now: written, or deleted from D1 where the local row is gone), fenced as any change.
  async repair(report) {
    if (!report || typeof report !== 'object' || !Array.isArray(report.tables)) {
      throw new D1SyncError('CONFIG', 'repair() needs the report verify() returned');
    }
    const text = JSON.stringify(report);
    const s = this.#source.transaction(() => this.#live().repair(text, Date.now()));
    if (s.code) throw new D1SyncError(s.code, s.message);
    await this.flush();
  }

  // Removes capture from the local database: the triggers, the outbox, the state and the
  // quarantine. D1 keeps its rows and the sourceId's fence row; a later start() begins a new
  // incarnation (which needs takeover: true for the same sourceId).
  async uninstall() {
    // After every flush already asked for; nothing else runs between the check and the call.
    while (this.#running || this.#queued) await (this.#queued ?? this.#running).catch(() => {});
    const s = this.#source.transaction(() => this.#live().uninstall());
    if (s.code) throw new D1SyncError(s.code, s.message);
  }

  // Frees the engine's WASM objects. The replicator cannot be used afterwards. A flush() in
  // progress rejects with CONFIG; the engine is freed once it has unwound.
  close() {
    if (this.#closed) return;
    this.#closed = true;
    const engine = this.#engine;
    if (!this.#running) {
      engine.delete();
      return;
    }
    this.#wake?.();
    this.#running.catch(() => {}).then(() => engine.delete());
  }

  [Symbol.dispose ?? Symbol.for('Symbol.dispose')]() {
    this.close();
  }

  // The engine's log events since the last call (wasm/events.hpp), one line each. A sink that
  // throws loses its line, never the replication.
  #drain() {
    if (!this.#sink || this.#closed) return;
    const text = this.#engine.takeEvents();
    if (!text) return;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        this.#sink(line, line.startsWith('{"level":"warn"') ? 'warn' : 'info');
      } catch (e) {
        console.error(`d1sync: the log function threw: ${messageOf(e)}`);
      }
    }
  }

  #live() {
    if (this.#closed) throw new D1SyncError('CONFIG', 'this replicator was closed');
    return this.#engine;
  }

  #checkOpen() {
    if (this.#closed) throw new D1SyncError('CONFIG', 'this replicator was closed during flush()');
  }

  #serialized(work) {
    if (!this.#running) {
      this.#running = work().finally(() => {
        this.#running = null;
      });
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

  #sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#wake = null;
        resolve();
      }
      this.#wake = done;
    });
  }

  // A request to a sync endpoint: its body is copied out of WASM memory before anything else
  // runs, and the answer goes back to the engine as it came (the engine's adapter reads it).
  async #sendRemote(engine, step) {
    const body = step.op === 'apply' ? step.request.slice() : utf8.decode(step.request);
    const pending = this.#target.send(step.op, body);
    await this.#whileInFlight(engine, step, pending);
    const answer = await pending;
    this.#checkOpen();
    const { status = 0, body: text = '', retryAfterMs = 0 } = answer ?? {};
    this.#source.transaction(() =>
      engine.completeRemote(status, String(text), retryAfterMs, Date.now()),
    );
    this.#drain();
  }

  // While a batch is in flight, the engine prepares the next one (engine.hpp, lookAhead). The
  // timer first lets the request leave: a Durable Object's fetch() is only sent once the
  // isolate yields to its event loop, and a resolved promise is not enough.
  async #whileInFlight(engine, step, pending) {
    if (!step.lookAhead) return;
    pending.catch(() => {}); // settled by the caller; not an unhandled rejection meanwhile
    await new Promise((resolve) => setTimeout(resolve, 0));
    try {
      if (!this.#closed) this.#source.transaction(() => engine.lookAhead(Date.now()));
      this.#drain();
    } catch {
      // Only a head start is lost: next() reads the same page again and reports what fails.
    }
  }

  // lookAhead 2, batches to D1: sends what the engine prepared before the answer to the
  // batch in flight (engine.hpp, sendAhead), then prepares the one after it while both are
  // out. The answers still go back in the order the batches left.
  async #sendAhead(engine, flights) {
    if (this.#closed) return;
    let ahead;
    let failed;
    try {
      this.#source.transaction(() => {
        // Copied out of WASM memory before anything else calls into it.
        ahead = engine.sendAhead(Date.now())?.slice();
      });
    } catch (e) {
      failed = e;
    }
    this.#drain();
    if (!ahead) return;
    // The engine counts it as sent: if its transaction failed after all, it is answered as a
    // failure that never reached D1, and the engine asks D1 what it holds.
    const pending = failed
      ? Promise.resolve({ ok: false, error: `not sent: ${messageOf(failed)}`, results: [] })
      : this.#runBatch(ahead);
    flights.push(pending);
    await this.#whileInFlight(engine, { lookAhead: true }, pending);
  }

  // Thin I/O: the engine decides what to send, how long to wait, when the flush ends and
  // with which error; this loop runs its local calls in transactions and its batches on D1.
  async #drive({ untilStarted = false, maxBatches = Infinity }) {
    const engine = this.#live();
    engine.beginDrive(Number.isFinite(maxBatches) ? maxBatches : -1, untilStarted);
    for (;;) {
      this.#checkOpen();
      const step = this.#source.transaction(() => engine.next(Date.now()));
      this.#drain();
      if (step.kind === 'idle') return;
      if (step.kind === 'failed' || step.kind === 'rejected') {
        throw new D1SyncError(step.code || 'INTERNAL', step.message, {
          d1Message: step.d1Message || undefined,
        });
      }
      if (step.kind === 'wait') {
        await this.#sleep(step.waitUntil - Date.now());
        continue;
      }
      if (step.op) {
        await this.#sendRemote(engine, step);
        continue;
      }
      // With lookAhead 2 the engine sends the next batch before this one's answer
      // (engine.hpp, sendAhead): the answers go back in the order the batches went out.
      const flights = [this.#runBatch(step.statements)];
      while (flights.length) {
        await this.#whileInFlight(engine, step, flights[0]);
        if (step.lookAhead) await this.#sendAhead(engine, flights);
        const { ok, error, results } = await flights.shift();
        // Closed meanwhile: the answers are dropped, as after a crash; the batch ids saved
        // before sending let the next engine over this database recognise a commit.
        this.#checkOpen();
        this.#source.transaction(() => engine.complete(ok, error, results, Date.now()));
        this.#drain();
      }
    }
  }

  // One batch on D1, from the engine's encoded statements (decoded at once: the view is of
  // WASM memory). Never rejects: a failure is an answer for the engine.
  #runBatch(encoded) {
    const statements = utf8.decode(encoded).split('\u0000');
    statements.pop();
    let pending;
    try {
      pending = Promise.resolve(this.#target.batch(statements));
    } catch (e) {
      pending = Promise.reject(e);
    }
    return pending.then(
      (results) => ({ ok: true, error: '', results }),
      (e) => ({ ok: false, error: messageOf(e), results: [] }),
    );
  }
}

// Numbers must be finite before they become JSON (NaN and Infinity turn into null there).
function checkNumbers(options) {
  const { flushRetryMs, limits } = options;
  if (flushRetryMs !== undefined && !Number.isFinite(flushRetryMs)) {
    throw new D1SyncError(
      'CONFIG',
      `flushRetryMs must be a finite number of ms, not ${String(flushRetryMs)}`,
    );
  }
  if (limits && typeof limits === 'object') {
    for (const [name, value] of Object.entries(limits)) {
      if (value !== undefined && !Number.isFinite(value)) {
        throw new D1SyncError(
          'CONFIG',
          `limits.${name} must be a finite number, not ${String(value)}`,
        );
      }
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
  const {
    source,
    target,
    sourceId,
    tables,
    tenant,
    limits,
    schema,
    takeover,
    hydrate,
    flushRetryMs,
    lookAhead,
    log,
  } = options;
  checkNumbers(options);
  const { level, sink } = logSink(log);
  // A raw sqlite-wasm DB also has exec() and transaction(), and a raw D1 binding has batch():
  // both must be wrapped, or they fail later with a confusing error.
  if (
    !source ||
    typeof source.exec !== 'function' ||
    typeof source.transaction !== 'function' ||
    typeof source.selectValue === 'function'
  ) {
    throw new D1SyncError(
      'CONFIG',
      'source must come from durableObjectSource(ctx.storage) or sqliteWasmSource(db)',
    );
  }
  const remote = target?.kind === 'http';
  if (
    !target ||
    typeof target.prepare === 'function' ||
    typeof (remote ? target.send : target.batch) !== 'function'
  ) {
    throw new D1SyncError(
      'CONFIG',
      'target must come from d1BindingTarget(env.DB) or httpTarget(url, { getToken })',
    );
  }
  if (remote && tenant !== undefined) {
    throw new D1SyncError(
      'CONFIG',
      "tenant is the sync endpoint's to set (from authenticate()), not the client's",
    );
  }
  const module = await loadModule();
  const config = JSON.stringify({
    sourceId,
    tables,
    tenant,
    limits,
    schema,
    takeover,
    hydrate,
    flushRetryMs,
    lookAhead,
    log: level,
    remote,
    seed: randomSeed(),
  });
  const engine = new module.Engine(source, config);
  const problem = engine.configError();
  if (problem) {
    engine.delete();
    throw new D1SyncError('CONFIG', problem);
  }
  return new Replicator(engine, source, target, sink);
}
