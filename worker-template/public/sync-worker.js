// The page's database, in a module Web Worker: @sqlite.org/sqlite-wasm on the origin-private
// file system through the opfs-sahpool VFS (synchronous access handles: no COOP/COEP headers
// needed, and the file survives reloads and browser restarts), replicated into D1 by d1sync
// through the template's /d1sync endpoint.
//
// Requests from the page: { id, op, args }; answers: { id, ok: true, result } or
// { id, ok: false, error }.
//   list                       every task, in id order
//   add { title }              inserts a task; answers it
//   toggle { id }              flips `done`; answers the task, or null
//   remove { id }              deletes a task; answers whether it existed
//   addMany { count, prefix }  `count` tasks in one transaction
//   query { sql }              the rows (arrays) of one read-only statement: for diagnostics
//   health                     replication health (d1sync's health() shape), or
//                              { state: 'local', reason } before a token arrives
//   connect { token }          replicate as the token's client (its `sub` claim)
//   verify { repair? }         compare the tasks with their rows in D1 (d1sync's verify());
//                              with repair, send the differing keys again and verify again
// Events sent unasked: { event: 'ready', info }, { event: 'failed', error },
// { event: 'waiting' } (another tab holds the database), { event: 'health', health } after
// each replication attempt.
import sqlite3InitModule from './lib/sqlite-wasm/index.mjs';
import { createReplicator, httpTarget, sqliteWasmSource } from './lib/d1sync/js/entry-browser.js';

const DB_FILE = '/tasks.sqlite3';
const VFS_NAME = 'opfs-sahpool';
// One tab at a time owns the pool's access handles; the lock orders a reloaded page's worker
// after the old one, which releases both when it terminates.
const LOCK_NAME = 'd1sync-tasks-db';
const SYNC_PATH = '/d1sync';

const SCHEMA = `CREATE TABLE IF NOT EXISTS tasks(
  id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL)`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves once this worker holds the lock, which it keeps until it terminates.
function holdLock(name) {
  return new Promise((acquired, failed) => {
    navigator.locks
      .request(name, () => {
        acquired();
        return new Promise(() => {});
      })
      .catch(failed);
  });
}

async function isLockFree(name) {
  const { held = [] } = await navigator.locks.query();
  return !held.some((lock) => lock.name === name);
}

// The access handles of a worker that just terminated can outlive its lock for a moment:
// retry, with the install's failure forgotten each time.
async function installPool(sqlite3) {
  for (let attempt = 1; ; ++attempt) {
    try {
      return await sqlite3.installOpfsSAHPoolVfs({
        name: VFS_NAME,
        forceReinitIfPreviouslyFailed: true,
      });
    } catch (e) {
      if (attempt >= 20) throw e;
      await sleep(100 * attempt);
    }
  }
}

async function openDatabase() {
  if (!(await isLockFree(LOCK_NAME))) postMessage({ event: 'waiting' });
  await holdLock(LOCK_NAME);
  const sqlite3 = await sqlite3InitModule();
  const pool = await installPool(sqlite3);
  const db = new pool.OpfsSAHPoolDb(DB_FILE);
  db.exec(SCHEMA);
  return { sqlite3, pool, db };
}

// ---- tasks ----------------------------------------------------------------------------------

function taskOps(db) {
  const one = (sql, bind) => db.selectObject(sql, bind) ?? null;
  return {
    list: () => db.selectObjects('SELECT * FROM tasks ORDER BY id'),
    add({ title }) {
      if (typeof title !== 'string' || !title.trim()) throw new Error('a task needs a title');
      return one('INSERT INTO tasks(title, done, updated_at) VALUES (?, 0, ?) RETURNING *', [
        title,
        Date.now(),
      ]);
    },
    toggle: ({ id }) =>
      one('UPDATE tasks SET done = 1 - done, updated_at = ? WHERE id = ? RETURNING *', [
        Date.now(),
        id,
      ]),
    remove: ({ id }) => one('DELETE FROM tasks WHERE id = ? RETURNING id', [id]) !== null,
    addMany({ count, prefix = 'task' }) {
      if (!Number.isSafeInteger(count) || count < 0) throw new Error('count must be an integer');
      db.transaction(() => {
        db.exec({
          sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                INSERT INTO tasks(title, done, updated_at)
                SELECT ? || ' ' || i, i % 2, ? FROM n WHERE ? > 0`,
          bind: [count, String(prefix), Date.now(), count],
        });
      });
      return count;
    },
    query({ sql }) {
      const stmt = db.prepare(sql);
      try {
        if (!stmt.isReadOnly()) throw new Error('query runs read-only statements only');
        const rows = [];
        while (stmt.step()) rows.push(stmt.get([]));
        return rows;
      } finally {
        stmt.finalize();
      }
    },
  };
}

const WRITES = new Set(['add', 'toggle', 'remove', 'addMany']);

// ---- replication ----------------------------------------------------------------------------

// A JWT's claims, read without checking it: the endpoint does that. The client id (`sub`)
// is this database's sourceId.
function claimsOf(token) {
  const part = String(token).split('.')[1];
  if (!part) throw new Error('the token is not a JWT');
  const bytes = Uint8Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/')), (c) =>
    c.charCodeAt(0),
  );
  return JSON.parse(new TextDecoder().decode(bytes));
}

// Drives one replicator: start() (capture is installed even when the endpoint is down), then
// flushes after writes and at the time the engine asks to be woken for a retry. One attempt
// runs at a time.
class Replication {
  #db;
  #sync = null;
  #token = null;
  #sourceId = null;
  #started = false;
  #fatal = null;
  #connectError = null;
  #running = false;
  #again = false;
  #timer = null;

  constructor(db) {
    this.#db = db;
  }

  async connect(token) {
    try {
      const result = await this.#connect(token);
      this.#connectError = null;
      return result;
    } catch (e) {
      this.#connectError = String(e?.message ?? e);
      throw e;
    }
  }

  async #connect(token) {
    const { sub } = claimsOf(token);
    if (typeof sub !== 'string' || !sub) throw new Error('the token names no client (sub)');
    if (this.#sourceId !== null && sub !== this.#sourceId) {
      throw new Error(`this database replicates as ${this.#sourceId}, not ${sub}`);
    }
    this.#token = token;
    if (!this.#sync) {
      this.#sourceId = sub;
      this.#sync = await createReplicator({
        source: sqliteWasmSource(this.#db),
        // After a 401 the target asks again (refresh: true) and gets the newest token the page
        // sent; while none is accepted, health() reports UNAUTHORIZED and the engine retries.
        target: httpTarget(new URL(SYNC_PATH, self.location.href).href, {
          getToken: async () => this.#token,
        }),
        sourceId: sub,
        tables: ['tasks'],
      });
    }
    this.kick();
    return { sourceId: sub };
  }

  async verify({ repair = false } = {}) {
    if (!this.#sync || !this.#started) throw new Error('not replicating yet: connect first');
    const report = await this.#sync.verify();
    if (!repair || report.equal) return { report };
    await this.#sync.repair(report);
    return { repaired: report, report: await this.#sync.verify() };
  }

  health() {
    if (this.#sync) {
      const h = this.#sync.health();
      if (this.#fatal) return { ...h, state: 'error', healthy: false, lastError: this.#fatal };
      return h;
    }
    if (this.#connectError)
      return { state: 'error', healthy: false, lastError: this.#connectError };
    return { state: 'local', reason: 'no sync token yet: the tasks stay in this browser' };
  }

  // Asks for an attempt now (after a write, or on connect).
  kick() {
    if (this.#sync) this.#schedule(0);
  }

  #schedule(delayMs) {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#attempt(), Math.max(0, delayMs));
  }

  async #attempt() {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      if (!this.#started) {
        try {
          await this.#sync.start();
        } catch (e) {
          // Unreachable: capture is on already; the retry below finishes starting.
          if (e?.code !== 'D1_TRANSIENT') throw e;
        }
        this.#started = true;
      }
      await this.#sync.onAlarm(); // swallows what the engine will retry
      this.#fatal = null;
    } catch (e) {
      // FENCED, CONFIG, SCHEMA, INTERNAL: the engine will not retry these by itself.
      this.#fatal = `${e?.code ?? 'INTERNAL'}: ${e?.message ?? e}`;
    } finally {
      this.#running = false;
    }
    postMessage({ event: 'health', health: this.health() });
    if (this.#again) {
      this.#again = false;
      this.#schedule(0);
      return;
    }
    const at = this.#fatal ? null : this.#sync.nextRetryAt();
    if (at !== null) this.#schedule(at - Date.now());
  }
}

// ---- messages -------------------------------------------------------------------------------

const opened = openDatabase();
const pending = [];
let handle = (message) => pending.push(message);

self.onmessage = (event) => handle(event.data);

opened.then(
  ({ sqlite3, pool, db }) => {
    const tasks = taskOps(db);
    const replication = new Replication(db);
    const ops = {
      ...tasks,
      health: () => replication.health(),
      connect: ({ token }) => replication.connect(token),
      verify: (args) => replication.verify(args),
    };
    handle = async ({ id, op, args = {} }) => {
      try {
        if (!Object.hasOwn(ops, op)) throw new Error(`unknown op ${op}`);
        const result = await ops[op](args);
        postMessage({ id, ok: true, result });
        if (WRITES.has(op)) replication.kick();
      } catch (e) {
        postMessage({ id, ok: false, error: String(e?.message ?? e) });
      }
    };
    postMessage({
      event: 'ready',
      info: {
        vfs: VFS_NAME,
        file: DB_FILE,
        vfsList: sqlite3.capi.sqlite3_js_vfs_list(),
        poolFiles: pool.getFileNames(),
        sqliteVersion: sqlite3.version.libVersion,
        crossOriginIsolated: self.crossOriginIsolated === true,
      },
    });
    for (const message of pending.splice(0)) handle(message);
  },
  (e) => {
    const error = String(e?.message ?? e);
    postMessage({ event: 'failed', error });
    handle = ({ id }) => postMessage({ id, ok: false, error });
    for (const message of pending.splice(0)) handle(message);
  },
);
