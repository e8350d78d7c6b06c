// Setup for the command line's tests: the native `d1sync` binary run as a user runs it, against
// the D1 REST API stand-in (tools/d1-rest-standin.mjs: Miniflare's real D1 behind the API's
// envelope), with SQLite files written by the sqlite3 shell and compared with D1 through the
// typeof+hex comparison the other suites use.
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStandin } from '../../tools/d1-rest-standin.mjs';
import { sqlite3, compareTable } from '../node/helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const cliPath = path.join(repoRoot, 'build/d1sync');

export function tempDir(prefix = 'd1sync-cli-') {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

// The stand-in with `count` empty databases named db0, db1, ….
export async function startApi(count = 8) {
  const databases = Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`db${i}`, randomUUID()]),
  );
  const api = await startStandin({ databases });
  let next = 0;
  return Object.assign(api, {
    // A database no test used before: { name, id, d1 (its binding) }.
    async fresh() {
      const name = `db${next++}`;
      if (!databases[name]) throw new Error('the stand-in has no unused database left');
      return { name, id: databases[name], d1: await api.d1(name) };
    },
  });
}

// Runs d1sync; resolves { code, stdout, stderr, json } (json: stdout parsed when it is JSON).
// `shell`: bash commands run first in the process that then becomes d1sync (e.g. a ulimit).
export function runCli(args, { env = {}, cwd = repoRoot, api, onSpawn, shell } = {}) {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: build it with cmake`);
  const base = { ...process.env };
  delete base.CLOUDFLARE_API_TOKEN;
  delete base.CLOUDFLARE_ACCOUNT_ID;
  delete base.CLOUDFLARE_API_BASE_URL;
  if (api) {
    base.CLOUDFLARE_API_TOKEN = api.token;
    base.CLOUDFLARE_ACCOUNT_ID = api.account;
    base.CLOUDFLARE_API_BASE_URL = `${api.url}/client/v4`;
  }
  return new Promise((resolve, reject) => {
    const child = shell
      ? spawn('bash', ['-c', `${shell}; exec "$0" "$@"`, cliPath, ...args], {
          cwd,
          env: { ...base, ...env },
        })
      : spawn(cliPath, args, { cwd, env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      let json = null;
      try {
        json = JSON.parse(stdout);
      } catch {}
      resolve({ code, signal, stdout, stderr, json });
    });
    onSpawn?.(child);
  });
}

// Runs SQL in a file through the sqlite3 shell.
export function sqlite(file, sql) {
  return execFileSync('sqlite3', ['-bail', file], { input: sql, encoding: 'utf8' });
}

// A copy of the file in sqlite-wasm, for compareTable.
export async function loadFile(file) {
  const s = await sqlite3();
  const bytes = new Uint8Array(readFileSync(file));
  const p = s.wasm.allocFromTypedArray(bytes);
  const db = new s.oo1.DB();
  const rc = s.capi.sqlite3_deserialize(
    db.pointer,
    'main',
    p,
    bytes.length,
    bytes.length,
    s.capi.SQLITE_DESERIALIZE_FREEONCLOSE | s.capi.SQLITE_DESERIALIZE_RESIZEABLE,
  );
  if (rc) throw new Error(`cannot load ${file} into sqlite-wasm: ${rc}`);
  return db;
}

export const TABLES = ['users', 'posts', 'tags', 'events', 'pairs', 'notes'];

// Six tables, `scale` × 200,000 rows: foreign keys, NULLs, text with NUL bytes, 64-bit
// integers, blobs (empty too), random-bit-ish doubles and -0.0, a WITHOUT ROWID table and a
// table with no primary key.
export function generate(file, scale = 1) {
  const n = (k) => Math.round(k * scale);
  const seq = (to) =>
    `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<${to}) `;
  rmSync(file, { force: true });
  sqlite(
    file,
    `PRAGMA foreign_keys=ON;
    CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, big INTEGER, score REAL, avatar BLOB);
    CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), body TEXT);
    CREATE TABLE tags(name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE events(kind TEXT, payload BLOB, v REAL);
    CREATE TABLE pairs(x INTEGER NOT NULL, y TEXT NOT NULL, v REAL, PRIMARY KEY(x, y));
    CREATE TABLE notes(id INTEGER PRIMARY KEY, txt TEXT);
    BEGIN;
    ${seq(n(40000))} INSERT INTO users SELECT i, 'user-' || i,
      CASE i % 4 WHEN 0 THEN 9223372036854775807 - i WHEN 1 THEN -9007199254740993 - i
        WHEN 2 THEN NULL ELSE i * 1000003 END,
      CASE WHEN i % 5 = 0 THEN NULL ELSE i * 0.1 + 1e-7 END,
      CASE i % 3 WHEN 0 THEN randomblob(16) WHEN 1 THEN X'' ELSE NULL END FROM c;
    ${seq(n(60000))} INSERT INTO posts SELECT i, 1 + i % ${n(40000)},
      CASE i % 7 WHEN 0 THEN CAST(X'610062000063' AS TEXT) WHEN 1 THEN '' WHEN 2 THEN NULL
        ELSE 'post ' || i || ' ünïcødé ✓' END FROM c;
    ${seq(n(20000))} INSERT INTO tags SELECT printf('tag-%06d', i), i FROM c;
    ${seq(n(30000))} INSERT INTO events SELECT 'k' || (i % 10), randomblob(i % 50),
      CASE i % 9 WHEN 0 THEN -0.0 WHEN 1 THEN 4.9e-324 WHEN 2 THEN 1.7976931348623157e308
        ELSE random() / 7.0 END FROM c;
    ${seq(n(30000))} INSERT INTO pairs SELECT i % 1000, 'y' || (i / 1000), i / 3.0 FROM c;
    ${seq(n(20000))} INSERT INTO notes SELECT i, hex(randomblob(30)) FROM c;
    COMMIT;`,
  );
}

// Asserts every table of the file equals its D1 replica; returns the rows compared.
export async function expectFileEqualsD1(assert, file, d1, tables = TABLES) {
  const db = await loadFile(file);
  let rows = 0;
  try {
    for (const t of tables) {
      const { diff, rows: n } = await compareTable(db, d1, t);
      assert.equal(diff, '', diff);
      rows += n;
    }
  } finally {
    db.close();
  }
  return rows;
}

// The common arguments that point d1sync at one of the stand-in's databases.
export const at = (db) => ['--database', db.id];

export async function waitFor(check, what) {
  for (let i = 0; ; i++) {
    if (await check()) return;
    if (i > 6000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
