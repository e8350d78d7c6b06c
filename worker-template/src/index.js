// A read-replica application: every room is a SQLite-backed Durable Object that owns its
// tasks (strongly consistent, single writer) and replicates each write into one shared D1
// table with a room_id column, where the Worker queries across all rooms.
//
//   POST   /rooms/:room/tasks            {"title": "..."}          add a task (201)
//   PATCH  /rooms/:room/tasks/:id        {"title"?: "...", "done"?: bool}
//   DELETE /rooms/:room/tasks/:id
//   GET    /rooms/:room/tasks            the room's own tasks, read from its Durable Object
//   GET    /tasks?done=0|1&room=&limit=  tasks across every room, read from D1
//   GET    /rooms/:room/health           the room's replication health (SPEC shape)
//   POST   /rooms/:room/resync           recopy this room's rows into D1
//   GET    /metrics                      Prometheus text for every room D1 knows of
import { DurableObject } from 'cloudflare:workers';
import { createReplicator, durableObjectSource, d1BindingTarget, D1SyncError } from 'd1sync';

const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;
// The room's own periodic work, sharing the one alarm with d1sync: purge finished tasks.
const PURGE_EVERY_MS = 24 * 60 * 60 * 1000;
// If a write's flush never gets to schedule the alarm (the object is evicted first), this one
// still brings the changes to D1.
const SAFETY_ALARM_MS = 30 * 1000;

export class Room extends DurableObject {
  #sync = null;
  #starting = null;
  #roomId = null;

  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS tasks(
        id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL)`);
      this.#roomId = (await ctx.storage.get('roomId')) ?? null;
    });
  }

  // ---- RPC used by the Worker -------------------------------------------------------------

  async addTask(roomId, title) {
    await this.#bind(roomId);
    const task = this.sql
      .exec(
        'INSERT INTO tasks(title, done, updated_at) VALUES (?, 0, ?) RETURNING *',
        title,
        Date.now(),
      )
      .one();
    await this.#replicateSoon();
    return task;
  }

  async updateTask(roomId, id, { title, done }) {
    await this.#bind(roomId);
    const rows = this.sql
      .exec(
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

  async deleteTask(roomId, id) {
    await this.#bind(roomId);
    const gone =
      this.sql.exec('DELETE FROM tasks WHERE id = ? RETURNING id', id).toArray().length > 0;
    if (gone) await this.#replicateSoon();
    return gone;
  }

  async listTasks(roomId) {
    await this.#bind(roomId);
    return this.sql.exec('SELECT * FROM tasks ORDER BY id').toArray();
  }

  async getSyncStatus(roomId) {
    const sync = await this.#replicator(roomId);
    return sync ? sync.health() : { state: 'error', healthy: false, lastError: this.#startError };
  }

  async getMetrics(roomId) {
    const sync = await this.#replicator(roomId);
    return sync ? sync.metrics() : '';
  }

  async resync(roomId) {
    const sync = await this.#replicator(roomId);
    if (!sync) throw new Error(this.#startError ?? 'replication is not running');
    await sync.resync();
    return sync.health();
  }

  // ---- the one alarm, shared with d1sync ----------------------------------------------------

  async alarm() {
    const lastPurge = (await this.ctx.storage.get('lastPurge')) ?? 0;
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

  #startError = null;

  async #bind(roomId) {
    if (this.#roomId === roomId) return;
    if (this.#roomId !== null) throw new Error(`this object belongs to room ${this.#roomId}`);
    this.#roomId = roomId;
    await this.ctx.storage.put('roomId', roomId);
  }

  // The replicator, created on first use. Its start() installs change capture before it
  // talks to D1, so writes are captured even while D1 is unreachable.
  async #replicator(roomId) {
    if (roomId !== undefined) await this.#bind(roomId);
    if (this.#sync) return this.#sync;
    if (this.#roomId === null) return null;
    this.#starting ??= (async () => {
      const sync = await createReplicator({
        source: durableObjectSource(this.ctx.storage),
        target: d1BindingTarget(this.env.DB),
        sourceId: `room:${this.#roomId}`,
        tenant: { column: 'room_id', value: this.#roomId },
        tables: ['tasks'],
      });
      try {
        await sync.start();
        this.#startError = null;
      } catch (e) {
        // D1 unreachable: capture runs already; the alarm finishes starting later.
        if (!(e instanceof D1SyncError) || e.code !== 'D1_TRANSIENT') {
          this.#startError = `${e.code ?? 'INTERNAL'}: ${e.message}`;
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
  async #replicateSoon() {
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

  async #scheduleAlarm() {
    const lastPurge = (await this.ctx.storage.get('lastPurge')) ?? Date.now();
    const times = [lastPurge + PURGE_EVERY_MS];
    const retry = this.#sync?.nextRetryAt();
    if (retry !== null && retry !== undefined) times.push(retry);
    await this.ctx.storage.setAlarm(Math.min(...times));
  }
}

// ---- the Worker -------------------------------------------------------------------------------

function json(body, status = 200) {
  return Response.json(body, { status });
}

function problem(status, message) {
  return json({ error: message }, status);
}

async function body(request) {
  try {
    const value = await request.json();
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

function room(env, roomId) {
  return env.ROOMS.get(env.ROOMS.idFromName(roomId));
}

// Every room D1 has heard of, from d1sync's own bookkeeping table.
async function knownRooms(env) {
  try {
    const { results } = await env.DB.prepare(
      "SELECT tenant_value FROM _d1sync_sources WHERE tenant_column = 'room_id' ORDER BY 1",
    ).all();
    // tenant_value holds the SQL literal ('room-a'); room ids never contain quotes.
    return results.map((r) => r.tenant_value.slice(1, -1)).filter((r) => ROOM_ID.test(r));
  } catch {
    return [];
  }
}

// One exposition for all rooms: HELP/TYPE once per metric, samples from every room.
function mergeMetrics(texts) {
  const seen = new Set();
  const out = [];
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
  const byName = new Map();
  for (const line of out) {
    const name = line.startsWith('#')
      ? line.split(' ')[2]
      : line.split(/[{ ]/)[0].replace(/_(sum|count)$/, '');
    if (!byName.has(name)) byName.set(name, []);
    byName.get(name).push(line);
  }
  return [...byName.values()].flat().join('\n') + '\n';
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const parts = url.pathname.split('/').filter(Boolean);
    const method = request.method;
    try {
      if (parts[0] === 'rooms' && parts.length >= 2) {
        let roomId = '';
        try {
          roomId = decodeURIComponent(parts[1]);
        } catch {
          /* malformed %-escape: a bad id */
        }
        if (!ROOM_ID.test(roomId)) return problem(400, 'room ids are 1-64 letters, digits, _ or -');
        const stub = room(env, roomId);
        if (parts[2] === 'tasks' && parts.length === 3) {
          if (method === 'GET') return json(await stub.listTasks(roomId));
          if (method === 'POST') {
            const b = await body(request);
            if (!b || typeof b.title !== 'string' || !b.title.trim() || b.title.length > 500) {
              return problem(
                400,
                'body must be JSON with a non-empty "title" of at most 500 characters',
              );
            }
            return json(await stub.addTask(roomId, b.title), 201);
          }
          return problem(405, `${method} is not allowed on ${url.pathname}`);
        }
        if (parts[2] === 'tasks' && parts.length === 4) {
          const id = /^\d+$/.test(parts[3]) ? Number(parts[3]) : NaN; // not 1e3, 0x10, +5
          if (!Number.isSafeInteger(id) || id <= 0)
            return problem(400, 'task ids are positive integers');
          if (method === 'PATCH') {
            const b = await body(request);
            const okTitle =
              b &&
              (b.title === undefined ||
                (typeof b.title === 'string' && b.title.trim() && b.title.length <= 500));
            const okDone = b && (b.done === undefined || typeof b.done === 'boolean');
            if (!b || !okTitle || !okDone || (b.title === undefined && b.done === undefined)) {
              return problem(
                400,
                'body must be JSON with "title" (string of at most 500 characters) and/or "done" (boolean)',
              );
            }
            const task = await stub.updateTask(roomId, id, b);
            return task ? json(task) : problem(404, `no task ${id} in room ${roomId}`);
          }
          if (method === 'DELETE') {
            return (await stub.deleteTask(roomId, id))
              ? new Response(null, { status: 204 })
              : problem(404, `no task ${id} in room ${roomId}`);
          }
          return problem(405, `${method} is not allowed on ${url.pathname}`);
        }
        if (parts[2] === 'health' && parts.length === 3 && method === 'GET') {
          return json(await stub.getSyncStatus(roomId));
        }
        if (parts[2] === 'resync' && parts.length === 3 && method === 'POST') {
          return json(await stub.resync(roomId));
        }
        if ((parts[2] === 'health' || parts[2] === 'resync') && parts.length === 3) {
          return problem(405, `${method} is not allowed on ${url.pathname}`);
        }
      }
      if (parts.length === 1 && parts[0] === 'tasks' && method === 'GET') {
        const done = url.searchParams.get('done');
        const roomFilter = url.searchParams.get('room');
        const limitText = url.searchParams.get('limit') ?? '100';
        const limit = /^\d+$/.test(limitText) ? Number(limitText) : NaN;
        if (done !== null && done !== '0' && done !== '1')
          return problem(400, 'done must be 0 or 1');
        if (roomFilter !== null && !ROOM_ID.test(roomFilter)) return problem(400, 'bad room id');
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
          return problem(400, 'limit must be 1-1000');
        const where = [];
        const args = [];
        if (done !== null) {
          where.push('done = ?');
          args.push(Number(done));
        }
        if (roomFilter !== null) {
          where.push('room_id = ?');
          args.push(roomFilter);
        }
        try {
          const { results } = await env.DB.prepare(
            `SELECT room_id, id, title, done, updated_at FROM tasks
             ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY room_id, id LIMIT ?`,
          )
            .bind(...args, limit)
            .all();
          return json(results);
        } catch (e) {
          if (/no such table/.test(String(e?.message))) return json([]); // nothing replicated yet
          throw e;
        }
      }
      if (parts.length === 1 && parts[0] === 'metrics' && method === 'GET') {
        const rooms = await knownRooms(env);
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
      if (parts.length === 1 && (parts[0] === 'tasks' || parts[0] === 'metrics')) {
        return problem(405, `${method} is not allowed on ${url.pathname}`);
      }
      return problem(404, `no route for ${method} ${url.pathname}`);
    } catch (e) {
      return problem(500, String(e?.message ?? e));
    }
  },
};
