// A read-replica application: every room is a SQLite-backed Durable Object that owns its
// tasks (strongly consistent, single writer) and replicates each write into one shared D1
// table with a room_id column, where the Worker queries across rooms.
//
// Every route needs `Authorization: Bearer <JWT>` (src/auth.ts); the token names a tenant, and
// a caller only ever reaches its own tenant's rooms: room `r` of tenant `t` is the Durable
// Object named `t/r` and its rows sit in D1 under room_id `t/r`. The plain room_id `t` is kept
// for the tenant's own browser page, so no room uses it.
//
//   POST   /rooms/:room/tasks            {"title": "..."}          add a task (201)
//   PATCH  /rooms/:room/tasks/:id        {"title"?: "...", "done"?: bool}
//   DELETE /rooms/:room/tasks/:id
//   GET    /rooms/:room/tasks            the room's own tasks, read from its Durable Object
//   GET    /tasks?done=0|1&room=&limit=  the tenant's tasks across its rooms, read from D1
//   GET    /rooms/:room/health           the room's replication health (SPEC shape)
//   POST   /rooms/:room/resync           recopy this room's rows into D1
//   POST   /rooms/:room/verify[?repair=1] compare the room with its rows in D1 (the report:
//                                        equal, differing keys, rows read); with repair=1,
//                                        send the differing keys again and verify once more
//   GET    /metrics                      Prometheus text for every room of the tenant
//   GET    /sources?offset=&limit=&sort= one page of the tenant's sources (rooms and browser
//                                        pages) as D1 knows them, each room with its health:
//                                        what the dashboard (public/dashboard.html) draws
//   POST   /d1sync/:op                   the sync endpoint the browser page (public/) replicates
//                                        its own database through, into room_id = tenant
//
// Errors are JSON { error: { code, message } }: 400 BAD_REQUEST, 401 UNAUTHORIZED, 404
// NOT_FOUND, 405 METHOD_NOT_ALLOWED, 500 CONFIG (AUTH_SECRET missing) or INTERNAL.
import { DurableObject } from 'cloudflare:workers';
import {
  createReplicator,
  createSyncEndpoint,
  durableObjectSource,
  d1BindingTarget,
  D1SyncError,
  type Health,
  type LogLevel,
  type Replicator,
  type ReplicatorOptions,
  type SyncEndpoint,
  type VerifyReport,
} from 'd1sync';
import { AuthConfigError, authenticate } from './auth';
import { sourcesPage, sourcesQuery } from './sources';

// A room's name within its tenant, as in the URL; tenants follow the same pattern (auth.ts).
const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
// What a room is called in D1 and among Durable Objects: `tenant/room`. Neither half can hold
// a '/', so no two (tenant, room) pairs share one, and none equals a bare tenant.
const PARTITION = /^[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9_-]{1,64}$/;
// The room's own periodic work, sharing the one alarm with d1sync: purge finished tasks.
const PURGE_EVERY_MS = 24 * 60 * 60 * 1000;
// If a write's flush never gets to schedule the alarm (the object is evicted first), this one
// still brings the changes to D1.
const SAFETY_ALARM_MS = 30 * 1000;

// A row of the room's tasks table, as GET /rooms/:room/tasks returns it.
export type Task = { id: number; title: string; done: number; updated_at: number };
// What PATCH /rooms/:room/tasks/:id may change.
export interface TaskPatch {
  title?: string;
  done?: boolean;
}
// A room's health: d1sync's, or why replication could not start.
export type RoomHealth = Health | { state: 'error'; healthy: false; lastError: string | null };
// POST /rooms/:room/verify: the report, and with repair the report that led to the repair.
export interface VerifyAnswer {
  report: VerifyReport;
  repaired?: VerifyReport;
}

// d1sync's `log` option from the D1SYNC_LOG variable (wrangler.toml): 'off' silences it, unset
// is d1sync's default (warn). Any other word reaches createReplicator(), which refuses it with
// CONFIG naming the option, so a typo fails loudly instead of logging nothing.
function logOption(level: string | undefined): ReplicatorOptions['log'] {
  if (level === undefined || level === '') return undefined;
  return level === 'off' ? false : (level as LogLevel);
}

// `CODE: message` for a replicator that failed to start (d1sync's errors carry their code).
function startFailure(e: unknown): string {
  const code = e instanceof D1SyncError ? e.code : 'INTERNAL';
  return `${code}: ${errorMessage(e)}`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Room extends DurableObject<Env> {
  protected readonly sql: SqlStorage;
  #sync: Replicator | null = null;
  #starting: Promise<Replicator> | null = null;
  #roomId: string | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS tasks(
        id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL)`);
      this.#roomId = (await ctx.storage.get<string>('roomId')) ?? null;
    });
  }

  // ---- RPC used by the Worker -------------------------------------------------------------

  async addTask(roomId: string, title: string): Promise<Task> {
    await this.#bind(roomId);
    const task = this.sql
      .exec<Task>(
        'INSERT INTO tasks(title, done, updated_at) VALUES (?, 0, ?) RETURNING *',
        title,
        Date.now(),
      )
      .one();
    await this.#replicateSoon();
    return task;
  }

  async updateTask(roomId: string, id: number, { title, done }: TaskPatch): Promise<Task | null> {
    await this.#bind(roomId);
    const rows = this.sql
      .exec<Task>(
        `UPDATE tasks SET title = coalesce(?, title), done = coalesce(?, done), updated_at = ?
             WHERE id = ? RETURNING *`,
        title ?? null,
        done === undefined ? null : Number(done),
        Date.now(),
        id,
      )
      .toArray();
    if (rows.length) await this.#replicateSoon();
    return rows[0] ?? null;
  }

  async deleteTask(roomId: string, id: number): Promise<boolean> {
    await this.#bind(roomId);
    const gone =
      this.sql.exec('DELETE FROM tasks WHERE id = ? RETURNING id', id).toArray().length > 0;
    if (gone) await this.#replicateSoon();
    return gone;
  }

  async listTasks(roomId: string): Promise<Task[]> {
    await this.#bind(roomId);
    return this.sql.exec<Task>('SELECT * FROM tasks ORDER BY id').toArray();
  }

  async getSyncStatus(roomId: string): Promise<RoomHealth> {
    const sync = await this.#replicator(roomId);
    return sync ? sync.health() : { state: 'error', healthy: false, lastError: this.#startError };
  }

  async getMetrics(roomId: string): Promise<string> {
    const sync = await this.#replicator(roomId);
    return sync ? sync.metrics() : '';
  }

  async resync(roomId: string): Promise<Health> {
    const sync = await this.#replicator(roomId);
    if (!sync) throw new Error(this.#startError ?? 'replication is not running');
    await sync.resync();
    return sync.health();
  }

  // The room's rows compared with D1's (d1sync's verify()); `repair` re-sends the keys that
  // differ and verifies again, so the answer says whether D1 now matches.
  async verify(roomId: string, { repair = false } = {}): Promise<VerifyAnswer> {
    const sync = await this.#replicator(roomId);
    if (!sync) throw new Error(this.#startError ?? 'replication is not running');
    const report = await sync.verify();
    if (!repair || report.equal) return { report };
    await sync.repair(report);
    return { repaired: report, report: await sync.verify() };
  }

  // ---- the one alarm, shared with d1sync ----------------------------------------------------

  async alarm(): Promise<void> {
    const lastPurge = (await this.ctx.storage.get<number>('lastPurge')) ?? 0;
    if (Date.now() - lastPurge >= PURGE_EVERY_MS) {
      this.sql.exec(
        'DELETE FROM tasks WHERE done = 1 AND updated_at < ?',
        Date.now() - PURGE_EVERY_MS,
      );
      await this.ctx.storage.put('lastPurge', Date.now());
    }
    const sync = await this.#replicator();
    if (sync) await sync.onAlarm(); // retries what D1 refused; throws only FENCED/CONFIG/SCHEMA
    await this.#scheduleAlarm();
  }

  // ---- replication --------------------------------------------------------------------------

  #startError: string | null = null;

  // roomId is the room's room_id in D1, `tenant/room` (see PARTITION); the Worker derives it
  // from the caller's token, and one Durable Object serves one roomId for good.
  async #bind(roomId: string): Promise<void> {
    if (this.#roomId === roomId) return;
    if (typeof roomId !== 'string' || !PARTITION.test(roomId)) {
      throw new Error(`room ids are tenant/room, not ${JSON.stringify(roomId)}`);
    }
    if (this.#roomId !== null) throw new Error(`this object belongs to room ${this.#roomId}`);
    this.#roomId = roomId;
    await this.ctx.storage.put('roomId', roomId);
  }

  // The replicator, created on first use. Its start() installs change capture before it
  // talks to D1, so writes are captured even while D1 is unreachable.
  async #replicator(roomId?: string): Promise<Replicator | null> {
    if (roomId !== undefined) await this.#bind(roomId);
    if (this.#sync) return this.#sync;
    const sourceRoom = this.#roomId;
    if (sourceRoom === null) return null;
    this.#starting ??= (async () => {
      const sync = await createReplicator({
        source: durableObjectSource(this.ctx.storage),
        target: d1BindingTarget(this.env.DB),
        sourceId: `room:${sourceRoom}`,
        tenant: { column: 'room_id', value: sourceRoom },
        tables: ['tasks'],
        log: logOption(this.env.D1SYNC_LOG),
      });
      try {
        await sync.start();
        this.#startError = null;
      } catch (e) {
        // D1 unreachable: capture runs already; the alarm finishes starting later.
        if (!(e instanceof D1SyncError) || e.code !== 'D1_TRANSIENT') {
          this.#startError = startFailure(e);
        }
      }
      this.#sync = sync;
      return sync;
    })().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  // Ships the write to D1 without holding up the response (ctx.waitUntil does nothing in a
  // Durable Object): the flush runs on, and the alarm covers whatever it cannot finish.
  async #replicateSoon(): Promise<void> {
    const now = Date.now();
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > now + SAFETY_ALARM_MS) {
      await this.ctx.storage.setAlarm(now + SAFETY_ALARM_MS);
    }
    this.#replicator()
      .then((sync) => sync?.flush())
      .catch(() => {}) // health() reports it; the alarm retries with backoff
      .finally(() => this.#scheduleAlarm());
  }

  async #scheduleAlarm(): Promise<void> {
    const lastPurge = (await this.ctx.storage.get<number>('lastPurge')) ?? Date.now();
    const times = [lastPurge + PURGE_EVERY_MS];
    const retry = this.#sync?.nextRetryAt();
    if (retry !== null && retry !== undefined) times.push(retry);
    await this.ctx.storage.setAlarm(Math.min(...times));
  }
}

// ---- the Worker -------------------------------------------------------------------------------

function json(body: unknown, status = 200): Response {
  return Response.json(body, { status });
}

const CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  500: 'INTERNAL',
};

function problem(
  status: number,
  message: string,
  { code = CODES[status], headers }: { code?: string; headers?: HeadersInit } = {},
): Response {
  return Response.json({ error: { code, message } }, { status, headers });
}

function unauthorized(request: Request): Response {
  const tokenSent = request.headers.has('authorization');
  return tokenSent
    ? problem(401, 'the bearer token is malformed, wrongly signed, expired or lacks sub/tenant', {
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      })
    : problem(401, 'send Authorization: Bearer <token> (a JWT naming your tenant)', {
        headers: { 'www-authenticate': 'Bearer' },
      });
}

// The request's JSON body when it is an object, else null.
async function body(request: Request): Promise<Record<string, unknown> | null> {
  try {
    const value: unknown = await request.json();
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function room(env: Env, roomId: string): DurableObjectStub<Room> {
  return env.ROOMS.get(env.ROOMS.idFromName(roomId));
}

// The tenant's rows in D1: its browser page's (room_id = tenant) and its rooms' (room_id
// starting with `tenant/`). A range, not LIKE, for the prefix: LIKE would read `_` in a tenant
// as a wildcard ('a_c/%' matches 'abc/x'). '0' follows '/' in byte order, so ['t/', 't0') holds
// exactly the strings that start with 't/', and the primary key (room_id, id) serves the range.
function tenantRange(tenant: string): { from: string; to: string } {
  return { from: `${tenant}/`, to: `${tenant}0` };
}

// The tenant's rooms that D1 has heard of, from d1sync's own bookkeeping table; tenant_value
// holds the SQL literal ('t/room'), room ids never contain quotes.
async function tenantRooms(env: Env, tenant: string): Promise<string[]> {
  const { from, to } = tenantRange(tenant);
  try {
    const { results } = await env.DB.prepare(
      `SELECT tenant_value FROM _d1sync_sources
        WHERE tenant_column = 'room_id' AND tenant_value >= ? AND tenant_value < ? ORDER BY 1`,
    )
      .bind(`'${from}`, `'${to}`)
      .all<{ tenant_value: string }>();
    return results
      .map((r) => r.tenant_value.slice(1, -1))
      .filter((r) => PARTITION.test(r) && r.startsWith(from));
  } catch {
    return [];
  }
}

// One exposition for all rooms: HELP/TYPE once per metric, samples from every room.
function mergeMetrics(texts: string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (!line) continue;
      if (line.startsWith('#')) {
        if (seen.has(line)) continue;
        seen.add(line);
      }
      out.push(line);
    }
  }
  // Group samples under their # lines, as the text format expects.
  const byName = new Map<string, string[]>();
  for (const line of out) {
    const name = line.startsWith('#')
      ? line.split(' ')[2]
      : line.split(/[{ ]/)[0].replace(/_(sum|count)$/, '');
    const group = byName.get(name);
    if (group) group.push(line);
    else byName.set(name, [line]);
  }
  return [...byName.values()].flat().join('\n') + '\n';
}

// /rooms/:room/...: the room is the caller's tenant's room of that name.
async function roomRoute(
  request: Request,
  env: Env,
  tenant: string,
  parts: string[],
): Promise<Response | null> {
  const url = new URL(request.url);
  const method = request.method;
  let name = '';
  try {
    name = decodeURIComponent(parts[1]);
  } catch {
    /* malformed %-escape: a bad name */
  }
  if (!ROOM_NAME.test(name)) return problem(400, 'room names are 1-64 letters, digits, _ or -');
  const roomId = `${tenant}/${name}`;
  const stub = room(env, roomId);
  if (parts[2] === 'tasks' && parts.length === 3) {
    if (method === 'GET') return json(await stub.listTasks(roomId));
    if (method === 'POST') {
      const b = await body(request);
      if (!b || typeof b.title !== 'string' || !b.title.trim() || b.title.length > 500) {
        return problem(400, 'body must be JSON with a non-empty "title" of at most 500 characters');
      }
      return json(await stub.addTask(roomId, b.title), 201);
    }
    return problem(405, `${method} is not allowed on ${url.pathname}`);
  }
  if (parts[2] === 'tasks' && parts.length === 4) {
    const id = /^\d+$/.test(parts[3]) ? Number(parts[3]) : NaN; // not 1e3, 0x10, +5
    if (!Number.isSafeInteger(id) || id <= 0) return problem(400, 'task ids are positive integers');
    if (method === 'PATCH') {
      const patch = taskPatch(await body(request));
      if (!patch) {
        return problem(
          400,
          'body must be JSON with "title" (string of at most 500 characters) and/or "done" (boolean)',
        );
      }
      const task = await stub.updateTask(roomId, id, patch);
      return task ? json(task) : problem(404, `no task ${id} in room ${name}`);
    }
    if (method === 'DELETE') {
      return (await stub.deleteTask(roomId, id))
        ? new Response(null, { status: 204 })
        : problem(404, `no task ${id} in room ${name}`);
    }
    return problem(405, `${method} is not allowed on ${url.pathname}`);
  }
  if (parts[2] === 'health' && parts.length === 3 && method === 'GET') {
    return json(await stub.getSyncStatus(roomId));
  }
  if (parts[2] === 'resync' && parts.length === 3 && method === 'POST') {
    return json(await stub.resync(roomId));
  }
  if (parts[2] === 'verify' && parts.length === 3 && method === 'POST') {
    const repair = url.searchParams.get('repair');
    if (repair !== null && repair !== '0' && repair !== '1') {
      return problem(400, 'repair must be 0 or 1');
    }
    return json(await stub.verify(roomId, { repair: repair === '1' }));
  }
  if (['health', 'resync', 'verify'].includes(parts[2]) && parts.length === 3) {
    return problem(405, `${method} is not allowed on ${url.pathname}`);
  }
  return null;
}

// A PATCH body's changes: a non-empty title of at most 500 characters and/or a boolean done,
// at least one of them; null for anything else.
function taskPatch(b: Record<string, unknown> | null): TaskPatch | null {
  if (!b) return null;
  const { title, done } = b;
  if (title !== undefined && !(typeof title === 'string' && title.trim() && title.length <= 500)) {
    return null;
  }
  if (done !== undefined && typeof done !== 'boolean') return null;
  if (title === undefined && done === undefined) return null;
  return { title, done };
}

// GET /tasks: the tenant's tasks from D1, optionally one room's.
async function queryTasks(env: Env, tenant: string, url: URL): Promise<Response> {
  const done = url.searchParams.get('done');
  const roomFilter = url.searchParams.get('room');
  const limitText = url.searchParams.get('limit') ?? '100';
  const limit = /^\d+$/.test(limitText) ? Number(limitText) : NaN;
  if (done !== null && done !== '0' && done !== '1') return problem(400, 'done must be 0 or 1');
  if (roomFilter !== null && !ROOM_NAME.test(roomFilter)) return problem(400, 'bad room name');
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    return problem(400, 'limit must be 1-1000');
  }
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (roomFilter !== null) {
    where.push('room_id = ?');
    args.push(`${tenant}/${roomFilter}`);
  } else {
    const { from, to } = tenantRange(tenant);
    where.push('(room_id = ? OR (room_id >= ? AND room_id < ?))');
    args.push(tenant, from, to);
  }
  if (done !== null) {
    where.push('done = ?');
    args.push(Number(done));
  }
  try {
    const { results } = await env.DB.prepare(
      `SELECT room_id, id, title, done, updated_at FROM tasks
        WHERE ${where.join(' AND ')} ORDER BY room_id, id LIMIT ?`,
    )
      .bind(...args, limit)
      .all();
    return json(results);
  } catch (e) {
    if (/no such table/.test(errorMessage(e))) return json([]); // nothing replicated yet
    throw e;
  }
}

// GET /metrics: every room of the tenant, none of any other tenant's.
async function tenantMetrics(env: Env, tenant: string): Promise<Response> {
  const rooms = await tenantRooms(env, tenant);
  const texts = await Promise.all(
    rooms.map((r) =>
      room(env, r)
        .getMetrics(r)
        .catch(() => ''),
    ),
  );
  return new Response(mergeMetrics(texts), {
    headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
  });
}

// The tenant's routes: a new one is one more branch here (or in roomRoute, under a room).
async function route(request: Request, env: Env, tenant: string): Promise<Response> {
  const url = new URL(request.url);
  const parts = url.pathname.split('/').filter(Boolean);
  const method = request.method;
  if (parts[0] === 'rooms' && parts.length >= 2) {
    const answer = await roomRoute(request, env, tenant, parts);
    if (answer) return answer;
  }
  if (parts.length === 1 && parts[0] === 'tasks' && method === 'GET') {
    return queryTasks(env, tenant, url);
  }
  if (parts.length === 1 && parts[0] === 'metrics' && method === 'GET') {
    return tenantMetrics(env, tenant);
  }
  if (parts.length === 1 && parts[0] === 'sources' && method === 'GET') {
    const q = sourcesQuery(url);
    if (typeof q === 'string') return problem(400, q);
    return json(
      await sourcesPage(env.DB, tenant, tenantRange(tenant), q, (r) =>
        room(env, r).getSyncStatus(r),
      ),
    );
  }
  if (parts.length === 1 && ['tasks', 'metrics', 'sources'].includes(parts[0])) {
    return problem(405, `${method} is not allowed on ${url.pathname}`);
  }
  return problem(404, `no route for ${method} ${url.pathname}`);
}

// D1's tasks table, as the rooms' replicators create it: the browser page's endpoint may be
// first to need it, and an endpoint never creates tables from what a client sends.
const TASKS_D1 = `CREATE TABLE IF NOT EXISTS tasks(room_id TEXT NOT NULL, id INTEGER,
  title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, id))`;
let endpoint: SyncEndpoint | null = null;
let tasksTable: Promise<D1Result> | null = null;

// One endpoint per isolate (it caches D1's schema). The token's tenant is the page's partition
// of tasks (room_id = tenant) and its subject the device (the page's sourceId).
async function syncEndpoint(env: Env): Promise<SyncEndpoint> {
  tasksTable ??= env.DB.prepare(TASKS_D1)
    .run()
    .catch((e) => {
      tasksTable = null;
      throw e;
    });
  await tasksTable;
  endpoint ??= createSyncEndpoint({
    db: env.DB,
    tables: ['tasks'],
    tenantColumn: 'room_id',
    authenticate,
    limits: { requestBytes: 1 << 20, rowsPerRequest: 10000, requestsPerMinute: 600 },
  });
  return endpoint;
}

export default {
  async fetch(request, env): Promise<Response> {
    if (new URL(request.url).pathname.startsWith('/d1sync/')) {
      try {
        return await (await syncEndpoint(env)).handle(request, env);
      } catch (e) {
        return problem(503, errorMessage(e), { code: 'TRANSIENT' });
      }
    }
    try {
      const caller = await authenticate(request, env);
      if (!caller) return unauthorized(request);
      return await route(request, env, caller.tenant);
    } catch (e) {
      if (e instanceof AuthConfigError) return problem(500, e.message, { code: e.code });
      return problem(500, errorMessage(e));
    }
  },
} satisfies ExportedHandler<Env>;
