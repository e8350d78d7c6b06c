/**
 * d1sync: replicate a local SQLite database into Cloudflare D1.
 *
 * ```js
 * import { createReplicator, durableObjectSource, d1BindingTarget } from 'd1sync';
 * this.sync = await createReplicator({
 *   source: durableObjectSource(ctx.storage),
 *   target: d1BindingTarget(env.DB),
 *   sourceId: 'room-42',
 * });
 * await this.sync.start();
 * await this.sync.flush();
 * ```
 */

/** Stable error codes of {@link D1SyncError}. */
export type D1SyncErrorCode =
  | 'D1_TRANSIENT' // D1 failed in a way worth retrying; the change stays captured
  | 'D1_LIMIT' // a row cannot fit D1's limits (over 2,000,000 bytes)
  | 'D1_CONSTRAINT' // D1 refused a row for a constraint it enforces
  | 'SCHEMA' // D1's schema cannot follow the local one
  | 'FENCED' // another database owns this sourceId, or D1 moved on without this engine
  | 'CONFIG' // bad options, a wrong binding, or a replicator used after close()
  // D1 kept answering an error of no known class (12 times in a row: the engine stops), or the
  // local database failed (retried with backoff; flush() rejects once flushRetryMs is spent)
  | 'INTERNAL';

/** The one error class d1sync throws. */
export class D1SyncError extends Error {
  readonly name: 'D1SyncError';
  readonly code: D1SyncErrorCode;
  /** D1's own message for the failure that caused this error, when there is one. */
  readonly d1Message?: string;
  /** Set by a verify() that could not finish: what it compared before it stopped. */
  readonly report?: VerifyReport;
  constructor(
    code: D1SyncErrorCode,
    message: string,
    init?: { d1Message?: string; cause?: unknown },
  );
}

/** A local database the engine reads (opaque; make one with the functions below). */
export interface Source {
  readonly kind: string;
  /** Runs SQL synchronously; rows come back in the engine's page format. */
  exec(sql: string): { ok: boolean; error: string; columns: number; cells: string };
  /** Runs `fn` atomically. */
  transaction<T>(fn: () => T): T;
}

/**
 * Where the engine writes (opaque; make one with {@link d1BindingTarget} or
 * {@link httpTarget}).
 */
export type Target = SqlTarget | HttpTarget;

/** A target that runs SQL (a D1 binding). */
export interface SqlTarget {
  readonly kind: string;
  /**
   * Applies statements in one atomic batch; rejects with the database's error. One result per
   * statement; `rowsRead` / `rowsWritten` are the database's own counts (D1's meta), left out
   * when unknown (counted as 0).
   */
  batch(
    statements: string[],
  ): Promise<{ columns: number; cells: string; rowsRead?: number; rowsWritten?: number }[]>;
}

/** A SQLite-backed Durable Object's `ctx.storage` (new_sqlite_classes migration). */
export function durableObjectSource(storage: DurableObjectStorageLike): Source;
/** An `@sqlite.org/sqlite-wasm` `oo1.DB`, in a browser or Node. */
export function sqliteWasmSource(db: SqliteWasmDbLike): Source;
/** A D1 binding: `env.DB` in a Worker, or Miniflare's `getD1Database()`. */
export function d1BindingTarget(db: D1DatabaseLike): SqlTarget;

/** A sync endpoint reached over HTTP: what crosses is data, never SQL. */
export interface HttpTarget {
  readonly kind: 'http';
  readonly url: string;
  /**
   * Posts one request of the sync protocol to `<url>/<op>`; `status` 0 when no answer came.
   * Never rejects. `read` carries hydrate's and verify()'s reads.
   */
  send(
    op: 'claim' | 'takeover' | 'probe' | 'apply' | 'read',
    body: string | Uint8Array,
  ): Promise<{ status: number; body: string; retryAfterMs?: number }>;
}

export interface HttpTargetOptions {
  /**
   * The bearer token for each request. Asked once at first and again with `refresh: true`
   * after a 401, and the request is sent once more with the fresh token.
   */
  getToken?: (request: { refresh: boolean }) => Promise<string> | string;
  /** The fetch() to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Extra headers for every request. */
  headers?: HeadersInit;
}

/**
 * A Worker's {@link createSyncEndpoint} at `url` (e.g. '/d1sync'), for a source with no D1
 * binding, such as a browser tab: `createReplicator({ source: sqliteWasmSource(db), target:
 * httpTarget('/d1sync', { getToken }), sourceId })`. The sourceId must be the client id the
 * endpoint's authenticate() gives for the token; the tenant is the endpoint's to set.
 */
export function httpTarget(url: string | URL, options?: HttpTargetOptions): HttpTarget;

/** Who a request comes from, as the application's authenticate() decides. */
export interface SyncCaller {
  /** The tenant whose partition of the tables the caller writes (with `tenantColumn`). */
  tenant?: string | number;
  /** The client (device) id: a replicator's sourceId must equal it. */
  clientId: string;
}

export interface SyncEndpointOptions {
  /** The D1 binding the endpoint writes to. */
  db: D1DatabaseLike;
  /**
   * The allow-list: the only tables a client may write, matched exactly. They must exist in
   * D1 (the application's migrations create them), keyed by the tenant column first.
   */
  tables: string[];
  /** The column that scopes each tenant's rows; its value comes from authenticate() only. */
  tenantColumn?: string;
  /**
   * The application's own authentication: the caller, or null for no/bad/expired credentials
   * (401). Throwing answers 500. The endpoint awaits it, so it may also answer synchronously.
   */
  authenticate: (
    request: Request,
    env?: unknown,
    ctx?: unknown,
  ) => Promise<SyncCaller | null> | SyncCaller | null;
  limits?: {
    /** Largest request body, in bytes (default 1 MiB; larger: 413). */
    requestBytes?: number;
    /** Upserts and deletes per request (default 10,000; more: 413). */
    rowsPerRequest?: number;
    /** Requests per client per minute, per isolate (default 600; more: 429 + Retry-After). */
    requestsPerMinute?: number;
  };
}

export interface SyncEndpoint {
  /**
   * Serves `POST <prefix>/<op>` (claim, takeover, probe, apply, read) with a JSON answer; errors
   * are `{ error: { code, message } }` (400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 503).
   */
  handle(request: Request, env?: unknown, ctx?: unknown): Promise<Response>;
}

/**
 * The Worker side of {@link httpTarget}: applies clients' changes to D1 through the engine's
 * own D1 half, with the tables, columns and keys of D1's schema and the tenant authenticate()
 * gives, exactly once per client (a fence row per tenant partition, checked in the same atomic
 * batch as the data). Never runs SQL or names a client wrote.
 */
export function createSyncEndpoint(options: SyncEndpointOptions): SyncEndpoint;

/**
 * Overrides of the D1 limit profile; every value must be a positive whole number no larger than
 * D1's (NaN, Infinity, fractions and negatives are refused with CONFIG).
 */
export interface Limits {
  /** Bytes of SQL per statement (D1: 100,000). */
  statementBytes?: number;
  /** Bound parameters per statement (D1: 100). */
  boundParameters?: number;
  /** Columns per table (D1: 100). */
  columns?: number;
  /** Bytes per row (D1: 2,000,000); larger rows are quarantined. */
  rowBytes?: number;
  /** SQLite's VDBE-op cap on one statement (local D1: 21,504); the chunker plans to 90 %. */
  vdbeOps?: number;
  /** Statements per batch() call (default 200). */
  statementsPerBatch?: number;
  /** Bytes of SQL per batch() call (default 6,000,000). */
  batchBytes?: number;
  /** Expected D1 time per batch, in ms (default 5,000; D1 allows 30,000). */
  batchTimeMs?: number;
  /** D1 queries allowed per Worker invocation (1,000 paid, 50 free): caps statements per batch. */
  queriesPerInvocation?: number;
  /** Outbox rows read per page (default 20,000). */
  pageChanges?: number;
  /** Rows copied per page during the initial sync (default 20,000). */
  copyPageRows?: number;
  /** Bytes of rows per page, roughly (default 4,000,000): bounds the engine's memory. */
  pageBytes?: number;
}

export interface ReplicatorOptions {
  source: Source;
  target: Target;
  /** Unique name of this replicating database in D1. */
  sourceId: string;
  /** Tables to replicate; default: every user table. */
  tables?: string[];
  /**
   * Fan many sources into shared D1 tables, scoped by this column and value. Not with
   * httpTarget: the endpoint sets the tenant.
   */
  tenant?: { column: string; value: string | number };
  limits?: Limits;
  /** 'replica' (default) drops FOREIGN KEY, CHECK and UNIQUE in D1; 'strict' keeps them. */
  schema?: 'replica' | 'strict';
  /** Claim a sourceId another database owns, then resync it. */
  takeover?: boolean;
  /**
   * Start an empty local database from what D1 holds for this source (with `tenant`, that
   * tenant's rows): start() creates the tables, fetches every row exactly and only then starts
   * capture, so nothing is sent back. Refused (CONFIG) when the local database has tables. With
   * `takeover: true` a new device replaces the one that owned the sourceId. Write after start()
   * resolves. Through httpTarget the endpoint serves the reads (its allowed tables, the
   * caller's tenant only, to the partition's owner).
   */
  hydrate?: boolean;
  /**
   * How long flush() waits through backoff before rejecting with the last error (ms, a whole
   * number from 0 to 86,400,000; default 10,000).
   */
  flushRetryMs?: number;
  /**
   * How far the next batch gets while one is in flight. 2 (the default in a Worker or Durable
   * Object; Node's is 1, see the README) reads and renders it
   * and sends it too, before the answer, guarded so that D1 applies it only after the one in
   * flight commits (two requests in flight: the round trip hides behind D1's work); 1 reads and
   * renders it, and sends it once the one before is answered; 0 reads each batch once the one
   * before is answered. A sync endpoint (httpTarget) gets one request at a time either way.
   */
  lookAhead?: 0 | 1 | 2;
  /**
   * Where the engine's events go: one JSON object per event. 'warn' (the default) prints
   * retries, fenced and failed sources, quarantined changes and warnings with console.warn;
   * 'info' adds batches, schema changes followed, the claim and each tenth of a table's initial
   * copy (console.info); 'debug' adds each statement's size to batch events; false prints
   * nothing; a function receives every event (all levels) instead of the console. Events carry
   * counts, sizes, table names and codes, never a row's values or keys.
   */
  log?: LogLevel | false | ((event: LogEvent) => void);
}

export type LogLevel = 'warn' | 'info' | 'debug';

/** One event of the `log` option. */
export type LogEvent = { level: LogLevel; sourceId: string } & (
  | {
      event: 'batch';
      kind: 'schema' | 'copy' | 'changes';
      rows: number;
      statements: number;
      bytes: number;
      ms: number;
      /** 'debug' only: each statement's size in bytes (a sync endpoint's request: one). */
      statementBytes?: number[];
    }
  | { event: 'retry'; code: D1SyncErrorCode; delayMs: number; attempt: number }
  | { event: 'fenced' | 'failed'; code: D1SyncErrorCode; message?: string }
  | { event: 'quarantined'; table: string; code: D1SyncErrorCode }
  | { event: 'schema'; tables: string[]; dropped: string[] }
  | { event: 'progress'; table: string; percent: number; copied: number; total: number }
  | { event: 'claimed'; epoch: number; appliedSeq: number }
  | { event: 'warning'; message: string }
) & {
    /** Events the engine could not queue (its host did not drain them), counted on the next one. */
    dropped?: number;
  };

/** What {@link Replicator.health} returns. */
export interface Health {
  state: 'initial_sync' | 'streaming' | 'idle' | 'backoff' | 'error';
  /** False in 'backoff' and 'error', while changes sit in quarantine, and when `error` is set. */
  healthy: boolean;
  /** Set only when the local read behind the live figures failed; they are null then. */
  error?: string;
  sourceId: string;
  /** ms epoch of D1's last answer. */
  lastSyncAt: number;
  /** ms epoch of the last batch D1 accepted. */
  lastSuccessAt: number;
  lastError: string | null;
  lastErrorCode: D1SyncErrorCode | null;
  /** Batches sent, refused, and their ratio. */
  totalSyncs: number;
  syncErrors: number;
  errorRate: number;
  /** Retries after transient failures. */
  retries: number;
  /** Captured changes D1 does not have yet (null when unreadable: see `error`). */
  pendingChanges: number | null;
  /** Changes D1 refused for good (see quarantined()). */
  quarantined: number | null;
  /** Age of the oldest change D1 does not have yet, in ms. */
  lagMs: number | null;
  /** Last outbox sequence captured locally / known to be in D1. */
  capturedSeq: number | null;
  appliedSeq: number;
  rowsReplicated: number;
  /** Rows a hydrate wrote locally from D1. */
  rowsHydrated: number;
  /** ms epoch when the last verify() ended, and whether D1 matched (null: never verified). */
  lastVerifiedAt: number | null;
  lastVerifyEqual: boolean | null;
  statementsSent: number;
  batchesSent: number;
  bytesSent: number;
  /** Rows D1 reported reading / writing (its meta) for the batches it committed. */
  d1RowsRead: number;
  d1RowsWritten: number;
  epoch: number;
  /** The same value nextRetryAt() returns. */
  nextRetryAt: number | null;
  /** Tables skipped (virtual tables) and other things worth knowing. */
  warnings: string[];
  /**
   * Batches this replicator prepared while the one before was in flight, and how many of them
   * were sent as prepared (the others were read again: the batch before failed, or the schema
   * or the state moved meanwhile).
   */
  lookAhead: { prepared: number; used: number; sentBeforeAnswer: number };
  initialSync: {
    done: boolean;
    tables: Record<
      string,
      { copied: number; total: number; phase: 'create' | 'copy' | 'swap' | 'live' }
    >;
  };
}

/** A change D1 refused for good. */
export interface QuarantinedChange {
  /** Its place in the list: pass the last one seen as `after` to read the next page. */
  id: number;
  table: string;
  /** The row's key as SQL literals, comma-separated. */
  key: string;
  code: D1SyncErrorCode;
  error: string;
  /** ms epoch when it was quarantined. */
  at: number;
}

/** A key where D1 differs from the local database. */
export interface VerifyDifference {
  /** The key as SQL literals, comma-separated (the form quarantined() uses). */
  key: string;
  /**
   * The row on each side as a tuple of SQL literals, "(1,'a',X'00')", with a rowid table's
   * rowid first; values over 4,096 bytes appear as ~t<bytes> / ~b<bytes>. null: no such row.
   */
  local: string | null;
  d1: string | null;
}

/** What {@link Replicator.verify} resolves with. */
export interface VerifyReport {
  /** True when every table holds the same rows, value for value (NULL, '', X'', 1 and 1.0 differ). */
  equal: boolean;
  tables: Array<{
    table: string;
    rowsLocal: number;
    rowsD1: number;
    /** Key-range fingerprints compared. */
    ranges: number;
    differences: VerifyDifference[];
    /** Ranges known to differ but not narrowed once `maxDifferences` keys were listed. */
    unresolved: Array<{
      from: string | null;
      to: string | null;
      rowsLocal: number;
      rowsD1: number;
    }>;
  }>;
  /** Rows each side read (D1's own figure, from its meta: what it bills). */
  rowsReadLocal: number;
  rowsReadD1: number;
  /** D1 requests and statements the verify sent. */
  batches: number;
  statements: number;
  ms: number;
  /** The watermark both sides were compared at. */
  appliedSeq: number;
  /** Only in the partial report of a verify() that stopped (`error.report`): why. */
  errorCode?: D1SyncErrorCode;
  error?: string;
}

/** One replicating database. Owns WASM memory: call close() when done. */
export class Replicator {
  /** Made by {@link createReplicator} only: it builds the engine the replicator drives. */
  private constructor();
  /** Installs capture, claims the sourceId in D1 and creates or alters the D1 schema. */
  start(): Promise<void>;
  /**
   * Resolves once D1 holds every change captured before the call (a call made while a sync
   * runs is served by the next one). Rejects with D1SyncError: FENCED, CONFIG (also when
   * close() is called meanwhile), SCHEMA, INTERNAL, or the last error's code (usually
   * D1_TRANSIENT) after `flushRetryMs` of backoff. `maxBatches` bounds the work of one call.
   */
  flush(options?: { maxBatches?: number }): Promise<void>;
  health(): Health;
  /** Prometheus text exposition. */
  metrics(): string;
  /**
   * Call from the Durable Object's alarm(): retries due work. Throws only what stops the
   * engine for good (health().state 'error'); other failures wait for nextRetryAt().
   */
  onAlarm(): Promise<void>;
  /**
   * ms epoch of the next due retry or flush (a past time: due now), or null: set the alarm to
   * it. Always equal to health().nextRetryAt; costs two index seeks, whatever the backlog.
   */
  nextRetryAt(): number | null;
  /** Recopies one table (or all) for this source, leaving other sources' rows alone. */
  resync(options?: { table?: string }): Promise<void>;
  /** Oldest first; `after` (an entry's id) and `limit` page through a long list. */
  quarantined(options?: { after?: number; limit?: number }): QuarantinedChange[];
  /** Re-sends every quarantined change. */
  retryQuarantined(): Promise<void>;
  /**
   * Proves D1 holds what the local database says it should, or names the keys where it does
   * not, without moving the rows: once every captured change is in D1, key ranges (about
   * 1,000 rows each, at most ~100 per table) are fingerprinted in SQL on both sides and the
   * differing ones narrowed to their keys. Cost: an equal table of n rows reads about n rows
   * of D1 (plus one per request) in about 5 requests per table up to 2,000,000 rows (20
   * ranges a request), one per 200,000 rows beyond; a range holding a difference
   * costs one more statement that lists its ~1,000 rows, and one that reads the differing
   * rows. Only this replicator's tenant is read. Rejects with CONFIG for a bad option, or
   * with the code of what stopped it (the partial report as `error.report`).
   */
  verify(options?: {
    table?: string;
    /** Must be this replicator's own tenant value when given. */
    tenant?: string | number;
    /** Keys to list before the rest is reported as `unresolved` ranges (default 1,000). */
    maxDifferences?: number;
  }): Promise<VerifyReport>;
  /** Sends again exactly the keys of a verify() report, then flushes. */
  repair(report: VerifyReport): Promise<void>;
  /**
   * Removes capture from the local database (triggers, outbox, state, quarantine). D1 keeps
   * its rows and the sourceId's fence row; starting again begins a new incarnation, which
   * needs `takeover: true` to keep the same sourceId.
   */
  uninstall(): Promise<void>;
  /** Frees the engine's WASM objects (after a running flush(), which then rejects with CONFIG). */
  close(): void;
  [Symbol.dispose](): void;
}

export function createReplicator(options: ReplicatorOptions): Promise<Replicator>;

/** The parts of a Durable Object's storage d1sync uses. */
export interface DurableObjectStorageLike {
  sql: {
    exec(
      query: string,
      ...bindings: unknown[]
    ): { raw(): Iterable<unknown[]>; columnNames: string[] };
  };
  transactionSync<T>(fn: () => T): T;
}

/**
 * The parts of an @sqlite.org/sqlite-wasm oo1.DB d1sync uses: savepoint(), not transaction(),
 * so that it also works while the application holds a transaction open.
 */
export interface SqliteWasmDbLike {
  /** `resultRows` receives the values sqlite-wasm reads (the ones its own typings name). */
  exec(options: {
    sql: string;
    rowMode: 'array';
    resultRows: (string | number | bigint | null | Uint8Array | Int8Array | ArrayBuffer)[][];
    columnNames: string[];
  }): unknown;
  savepoint<T>(fn: () => T): T;
}

/** The parts of a D1 binding d1sync uses (`meta`'s counts feed health()'s d1RowsRead/Written). */
export interface D1DatabaseLike {
  prepare(query: string): unknown;
  batch(statements: unknown[]): Promise<
    {
      results?: Record<string, unknown>[];
      meta?: { rows_read?: number; rows_written?: number };
    }[]
  >;
}
