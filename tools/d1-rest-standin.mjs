// A stand-in for Cloudflare's D1 REST API (API v4, base path /client/v4) over Miniflare's real
// D1: SQLite in workerd with D1's limits, statements run by the D1 binding, each request's
// statements applied all-or-nothing by D1's own batch(). The native `d1sync push` client, its
// tests and the benchmark talk to it exactly as they talk to api.cloudflare.com; it can inject
// the failures a client must survive (429 with Retry-After, 5xx, a lost answer after a commit, a
// request that never answers, a dropped connection, a slow answer).
//
//   node tools/d1-rest-standin.mjs --port 0 [--host 127.0.0.1] [--persist DIR]
//        [--database NAME=ID ...] [--token T] [--account A] [--delay-ms N]
//        [--wrangler-config PATH --binding DB [--persist-to DIR] [--env NAME]] [--exit-with-stdin]
//
// prints ONE JSON line on stdout once listening, then serves until SIGTERM/SIGINT (or, with
// --exit-with-stdin, until its stdin closes) and disposes Miniflare:
//
//   {"url":"http://127.0.0.1:PORT","port":PORT,"account":"...","databases":[{"name","uuid"}],
//    "persist":"DIR"|null, "token":"..." (only when the stand-in generated it)}
//
// The token comes from --token, else the D1_STANDIN_TOKEN environment variable, else a random
// one that is printed in that line (to the process that started it, which has no other way to
// learn it). A token the caller supplied is never printed or logged, nor is any request header.
// As a library: `startStandin(options)` (below) returns the same facts plus stats, faults and
// close().
//
// Routes (Authorization: Bearer <token> on all of them):
//   POST /client/v4/accounts/{account}/d1/database/{id}/query  {sql, params?} | {batch: [...]}
//   POST /client/v4/accounts/{account}/d1/database/{id}/raw    the same bodies
//   GET  /client/v4/accounts/{account}/d1/database[?name=X&page=N&per_page=N]
//   GET  /client/v4/accounts/{account}/d1/database/{id}
// and, without auth, on the stand-in only:
//   GET  /__standin/stats          {requests, byRoute, statements, committed, faultsInjected,
//                                   bytesIn, batches, batchesCommitted, sqlErrors, rowsRead,
//                                   rowsWritten, held}
//   POST /__standin/reset-stats
//   POST /__standin/faults         {next?: [fault...], every?: {...fault, rate, seed} | null,
//                                   clear?: true, delayMs?: N}   -> the fault state
//   GET  /__standin/faults         {pending: [...], every, delayMs}
//
// Faults. `next` queues one fault per following API request (any /client/v4 route), in order;
// `every` draws, for each API request with no queued fault, a seeded random number (mulberry32
// of `seed`) and injects its fault when the draw is below `rate`. `delayMs` is added to every
// API request (a benchmark simulating 20 ms of network per request). Kinds:
//   {kind:'status', status:429, retryAfter?}  nothing applied; 429 answers Cloudflare's rate-limit
//       body (code 971) with Retry-After (retryAfter, default 1 s) and the Ratelimit headers.
//   {kind:'status', status:500, retryAfter?}  nothing applied; JSON body, D1's internal-error form
//       (code 7500 "internal error; reference = <hex>").
//   {kind:'status', status:502|503|504}       nothing applied; the HTML page Cloudflare's edge
//       (nginx) answers for a gateway error, text/html. Any other status answers a JSON envelope
//       with `code` (default 7500) and `message`. `body` / `contentType` override either body.
//   {kind:'timeout'}            never answers: the socket stays open until the client gives up
//                               (or close()); nothing applied.
//   {kind:'drop-after-commit'}  runs the request (committed in D1), then destroys the socket
//                               without answering: the lost answer of a committed batch.
//   {kind:'slow', ms}           runs the request, answers after `ms`.
//   {kind:'drop-before'}        destroys the socket before anything is applied.
//
// Storage. Without --persist the databases live in memory. `--persist DIR` is Miniflare's
// `d1Persist` directory: with DIR = <project>/.wrangler/state/v3/d1 and `--database NAME=ID`
// where ID is what `wrangler d1 execute NAME --local` uses (preview_database_id ?? database_id
// ?? binding), the stand-in reads and writes the very file wrangler does
// (miniflare-D1DatabaseObject/<sha>.sqlite): wrangler 4.86.0's executeLocally()
// (node_modules/wrangler/wrangler-dist/cli.js; packages/wrangler/src/d1/execute.ts upstream)
// builds `new Miniflare({modules: true, script: "", d1Persist: <persistTo or the config file's
// folder + .wrangler/state>/v3/d1, d1Databases: {DATABASE: previewDatabaseUuid ?? uuid}})`, and
// the binding name does not enter the storage key (the Durable Object is named by the id).
// `--wrangler-config PATH --binding DB` does that lookup itself: it reads the project's
// wrangler.toml / wrangler.json / wrangler.jsonc with wrangler's own reader
// (`experimental_readRawConfig`, exported by the wrangler package), picks the d1_databases entry
// whose binding or database_name is DB (as `wrangler d1 execute` does; `--env` reads
// env.<NAME>.d1_databases), and persists under `--persist-to` (relative to the working
// directory, as wrangler's flag) or else <config folder>/.wrangler/state. It serves the database
// as uuid = preview_database_id ?? database_id ?? binding and also answers under database_id.
// This is the mode a native `d1sync push --local` spawns to reach wrangler's local D1, so
// Miniflare is resolved as the project's wrangler resolves it: first from the project's
// wrangler, then from the project, and only then the stand-in's own (the storage format follows
// the Miniflare version). wrangler itself (reader and splitter) is resolved from the project
// first as well.
//
// What it reproduces faithfully
//   - SQL semantics and limits: the statements run in workerd's SQLite through Miniflare's D1
//     (100 bound parameters, 100 KB statements, SQLITE_NOMEM-style failures, denied functions
//     such as sqlite_version(), no BEGIN/SAVEPOINT, foreign keys on).
//   - Atomicity: every statement of one request (a multi-statement `sql`, or all of `batch`) is
//     one D1 batch, a single transaction: a failure anywhere rolls everything back.
//   - The envelope: {success, errors: [{code, message}], messages: [], result: [...]}, one result
//     per statement, `meta` taken from D1's own result meta (changes, duration, last_row_id,
//     rows_read, rows_written, changed_db, size_after; plus served_by_primary: true and
//     timings.sql_duration_ms = duration, which the real API adds). /raw answers
//     {columns, rows} per statement with D1's real column list (duplicates and empty results
//     included: it asks the D1 object for rows and columns, as the binding's raw() does).
//   - Parameters arrive as strings: every element of `params` is bound as a JS string
//     (numbers and booleans converted with String(), null stays null), as the API's schema
//     types them (`params: array of string`). A client sends typed values as SQL literals, CAST
//     or unhex(). Objects or arrays in `params` are refused with 400/7400.
//   - An SQL error: HTTP 400, {success: false, errors: [{code: 7500, message}], messages: [],
//     result: []}, where message is D1's text without the binding's "D1_ERROR: " prefix, e.g.
//     "no such table: t: SQLITE_ERROR", "too many SQL variables at offset 207: SQLITE_ERROR",
//     "statement too long: SQLITE_TOOBIG", "UNIQUE constraint failed: t.a: SQLITE_CONSTRAINT
//     (extended: SQLITE_CONSTRAINT_PRIMARYKEY)", "FOREIGN KEY constraint failed:
//     SQLITE_CONSTRAINT ...". The " [code: 7500]" suffix people quote is added by wrangler when
//     it prints the error, not by the API.
//   - Multi-statement `sql`: split with wrangler's own splitter (`unstable_splitSqlQuery`, the
//     one `wrangler d1 execute --local` uses; quotes, comments and BEGIN/CASE ... END blocks
//     are respected, comments are dropped), never a tokenizer of this file; text without ';' is
//     prepared as is. wrangler's trimming of a .dump's BEGIN TRANSACTION/COMMIT is kept out
//     (it rewrites the text, string literals included), so such a statement reaches D1, which
//     refuses it. Each `batch` item may hold several statements too (the schema says so for
//     both forms). A multi-statement text with `params` is refused (400/7400): how the real API
//     binds one params list to several statements is not documented.
//   - Auth and lookups, as far as the research below found them: no Authorization header ->
//     400/9106; a malformed one -> 400/6003 (chain 6111); a wrong token -> 401/10000
//     "Authentication error"; an account the token cannot reach -> 403/10000 "Authentication
//     error"; an unknown database -> 404/7404 "The database <id> could not be found"; an unknown
//     route -> 404/7003 "No route for the URI"; a body that is not JSON, lacks `sql` or has a
//     malformed `batch`/`params` -> 400/7400 ("Invalid property: sql => Required" and the like).
//   - The database listing: {uuid, name, created_at, version: "production", jurisdiction: null},
//     result_info {page, per_page, count, total_count, total_pages}; `name` filters by
//     case-insensitive substring as Miniflare's own API emulation (local explorer) does, so a
//     client must still compare names exactly.
//
// What it does NOT reproduce
//   - Real rate limits (1,200 requests per 5 minutes per user, 200/s per IP) and their
//     Ratelimit headers on ordinary answers; a 429 exists only as an injected fault.
//   - The real API's other error codes and texts (quota exhausted, database overloaded or
//     reset, "Network connection lost.", request body size limits, token permissions per
//     resource, X-Auth-Email/X-Auth-Key authentication, the exact text for a non-JSON body).
//   - How the real API splits a multi-statement `sql`: it uses its own server-side splitter,
//     which has been reported to end a CREATE TRIGGER body at an inner CASE ... END; and to
//     mishandle CRLF inside compound statements ("incomplete input: SQLITE_ERROR");
//     wrangler's splitter used here copes with both. Text that the real API would refuse may
//     therefore pass here. wrangler's splitter in turn reads `$` as a PostgreSQL dollar quote:
//     a `;` right after a `$name` parameter does not split there.
//   - Read replication, bookmarks, served_by_colo / served_by_region, timings beyond
//     sql_duration_ms, real durations (local ones are ~0 ms), the network (no TLS, no
//     latency besides delayMs), Cloudflare's edge and proxies, the import/export/time-travel
//     endpoints, and databases created or deleted through the API (the set is fixed at start).
//
// Research (what the real API guarantees; sources)
//   - A multi-statement request is one batch: the API reference for POST .../query and .../raw
//     says of `sql`: "Your SQL query. Supports multiple statements, joined by semicolons, which
//     will be executed as a batch", and the body is "A single query object or a batch query
//     object" ({sql, params} or {batch: [{sql, params}]})
//     (https://developers.cloudflare.com/api/resources/d1/subresources/database/methods/query/;
//     Cloudflare's OpenAPI as filtered into workers-sdk
//     packages/miniflare/src/workers/local-explorer/openapi.local.json, schemas d1_sql,
//     d1_batch-query, d1_single-query, d1_params).
//   - A D1 batch is a transaction: "Batched statements are SQL transactions. If a statement in
//     the sequence fails, then an error is returned for that specific statement, and it aborts
//     or rolls back the entire sequence" (cloudflare-docs src/content/docs/d1/worker-api/
//     d1-database.mdx, batch()). wrangler relies on the same for the REST form: `d1 migrations
//     apply --remote` sends a migration's SQL and its ledger INSERT as one {sql} to /query
//     (workers-sdk packages/wrangler/src/d1/migrations/helpers.ts buildMigrationQuery,
//     apply.ts) and documents "If applying a migration results in an error, this migration will
//     be rolled back" (apply.ts epilogue); wrangler's trimmer strips a dump's BEGIN/COMMIT
//     "as the D1 API already does it for us" / "D1 runs your SQL in a transaction for you"
//     (packages/wrangler/src/d1/trimmer.ts); `d1 execute --remote --command` posts the whole
//     text as {sql} and notes "The D1 query API splits multi-statement SQL on `;` server-side"
//     (packages/wrangler/src/d1/execute.ts). A reported remote failure of a long migration
//     (400, "incomplete input: SQLITE_ERROR") left nothing applied. So: all or nothing, the
//     request stops at the first failing statement, and `result` holds one entry per statement
//     on success and nothing on failure. Which statement failed is not reported here (D1's
//     message does not say); whether the real API says so was not found.
//   - SQL error shape: HTTP 400 with {"messages":[],"result":[],"success":false,"errors":
//     [{"code":7500,"message":"no such table: raw_mails: SQLITE_ERROR"}]} (captured responses
//     quoted in public code); wrangler renders errors as `${message} [code: ${code}]`
//     (packages/workers-utils/src/cfetch/index.ts renderError), hence the "[code: 7500]" seen
//     in its output.
//   - Database not found: "The database db could not be found [code: 7404]" (wrangler output of
//     a real request with a placeholder id); Miniflare's emulation answers 404 with code 7404
//     and "The database ${databaseId} could not be found"
//     (packages/miniflare/src/workers/local-explorer/resources/d1.ts).
//   - Authentication: a fake token answers HTTP 401 {"result":null,"success":false,"errors":
//     [{"code":10000,"message":"Authentication error"}],"messages":[]}; a token without access
//     to the resource/account answers 403 with the same code and text; no credentials answer
//     400 {"code":9106,"message":"Missing X-Auth-Key, X-Auth-Email or Authorization
//     headers"}; a malformed header 400 {"code":6003,"message":"Invalid request headers",
//     "error_chain":[{"code":6111,"message":"Invalid format for Authorization header"}]}
//     (captured responses in public issues and code; wrangler treats 9106 and 10000 as
//     authentication errors, packages/wrangler/src/core/handle-errors.ts).
//   - Rate limit: "1200 requests per five minutes per user ... all API calls for the next five
//     minutes will be blocked, receiving a HTTP 429"; `retry-after` (seconds, rounded up) is
//     returned when the limit is exceeded, with `Ratelimit` / `Ratelimit-Policy`
//     (https://developers.cloudflare.com/fundamentals/api/reference/limits/); the body is
//     {"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling
//     your request speed"}],"messages":[],"result":null} (captured responses in public code).
//   - Validation: D1's API answers 400 {"code":7400,"message":"Invalid property: name =>
//     Required"} for a body missing a required property (captured response in public code).
//   - Listing: GET .../d1/database takes name ("a database name to search for"), page and
//     per_page (10..10000) and returns {created_at, jurisdiction, name, uuid, version}
//     (https://developers.cloudflare.com/api/resources/d1/subresources/database/methods/list/).
import http from 'node:http';
import { createRequire } from 'node:module';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const selfDir = path.dirname(fileURLToPath(import.meta.url));
const API_PREFIX = '/client/v4/';
const CONTROL_PREFIX = '/__standin/';
const COMPATIBILITY_DATE = '2026-04-26';
const FAULT_KINDS = new Set(['status', 'timeout', 'drop-after-commit', 'slow', 'drop-before']);

// ---------------------------------------------------------------------------------------------
// Module resolution: the project's wrangler and Miniflare first, then the stand-in's own.

function resolveFrom(fromFile, name) {
  try {
    return createRequire(fromFile).resolve(name);
  } catch {
    return undefined;
  }
}

// Where `miniflare` and `wrangler` come from. projectDir: the project whose wrangler's local D1
// the stand-in must match (undefined: the stand-in's own packages).
function resolvePackages(projectDir) {
  const own = path.join(selfDir, '..', 'package.json');
  const project = projectDir ? path.join(projectDir, 'package.json') : undefined;
  const projectWrangler = project && resolveFrom(project, 'wrangler');
  const ownMiniflare = resolveFrom(own, 'miniflare');
  const miniflare =
    (projectWrangler && resolveFrom(projectWrangler, 'miniflare')) ??
    (project && resolveFrom(project, 'miniflare')) ??
    ownMiniflare;
  return {
    wrangler: projectWrangler ?? resolveFrom(own, 'wrangler'),
    miniflare,
    ownMiniflare: miniflare === ownMiniflare,
  };
}

const imported = new Map();
function importOnce(file) {
  if (!imported.has(file)) imported.set(file, import(pathToFileURL(file).href));
  return imported.get(file);
}

// ---------------------------------------------------------------------------------------------
// wrangler configuration (project mode).

function findConfigFile(p) {
  if (existsSync(p) && statSync(p).isDirectory()) {
    for (const name of ['wrangler.json', 'wrangler.jsonc', 'wrangler.toml']) {
      if (existsSync(path.join(p, name))) return path.join(p, name);
    }
    throw new Error(`no wrangler.json, wrangler.jsonc or wrangler.toml in ${p}`);
  }
  if (!existsSync(p)) throw new Error(`wrangler configuration ${p} does not exist`);
  return p;
}

// The d1_databases entry `binding` names (by binding or database_name), read with wrangler's own
// reader, and where wrangler keeps its local state: {name, id, aliases, persist}.
async function databaseFromWranglerConfig({
  configFile: configPath,
  binding,
  persistTo,
  env,
  wrangler,
}) {
  if (!binding) throw new Error('--wrangler-config needs --binding');
  if (!wrangler) throw new Error('wrangler is not installed: it reads the configuration');
  const { experimental_readRawConfig: readRawConfig } = await importOnce(wrangler);
  const { rawConfig, userConfigPath } = readRawConfig({ config: configPath });
  const section = env ? rawConfig.env?.[env] : rawConfig;
  if (!section) throw new Error(`${configPath} has no [env.${env}]`);
  const entry = (section.d1_databases ?? []).find(
    (d) => d.binding === binding || d.database_name === binding,
  );
  if (!entry) {
    throw new Error(`${configPath} has no d1_databases entry with binding or name '${binding}'`);
  }
  // As wrangler's getDatabaseInfoFromConfig + executeLocally.
  const id = entry.preview_database_id ?? entry.database_id ?? entry.binding;
  const state = persistTo
    ? path.resolve(process.cwd(), persistTo)
    : path.resolve(path.dirname(userConfigPath ?? configPath), '.wrangler/state');
  const aliases = entry.database_id && entry.database_id !== id ? [entry.database_id] : [];
  return {
    name: entry.database_name ?? entry.binding,
    id,
    aliases,
    persist: path.join(state, 'v3', 'd1'),
  };
}

// ---------------------------------------------------------------------------------------------
// Envelopes.

const json = (status, body, headers = {}) => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
const failure = (status, errors, result = null) =>
  json(status, { success: false, errors, messages: [], result });
const error = (status, code, message, result = null) =>
  failure(status, [{ code, message }], result);
const ok = (result, extra = {}) =>
  json(200, { success: true, errors: [], messages: [], result, ...extra });

class BadRequest extends Error {}

const EDGE_HTML = {
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
};

function faultAnswer(fault) {
  const headers = {};
  const retryAfter = fault.retryAfter ?? (fault.status === 429 ? 1 : undefined);
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  let answer;
  if (fault.status === 429) {
    headers.ratelimit = `"default";r=0;t=${retryAfter}`;
    headers['ratelimit-policy'] = '"default";q=1200;w=300';
    answer = error(429, 971, 'Please wait and consider throttling your request speed');
  } else if (EDGE_HTML[fault.status]) {
    const title = `${fault.status} ${EDGE_HTML[fault.status]}`;
    answer = {
      status: fault.status,
      headers: { 'content-type': 'text/html' },
      body:
        `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n` +
        `<center><h1>${title}</h1></center>\r\n<hr><center>cloudflare</center>\r\n` +
        `</body>\r\n</html>\r\n`,
    };
  } else if (fault.status >= 500) {
    const reference = randomBytes(12).toString('hex');
    answer = error(fault.status, fault.code ?? 7500, `internal error; reference = ${reference}`);
  } else {
    answer = error(fault.status, fault.code ?? 7500, fault.message ?? 'Injected failure');
  }
  if (fault.body !== undefined) {
    answer.body = typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body);
  }
  if (fault.contentType) answer.headers['content-type'] = fault.contentType;
  Object.assign(answer.headers, headers);
  return answer;
}

function checkFault(f) {
  if (!f || typeof f !== 'object' || !FAULT_KINDS.has(f.kind)) {
    throw new BadRequest(`a fault needs kind ${[...FAULT_KINDS].join(' | ')}`);
  }
  if (f.kind === 'status' && !(Number.isInteger(f.status) && f.status >= 400 && f.status < 600)) {
    throw new BadRequest('a status fault needs status 400..599');
  }
  if (f.kind === 'slow' && !(Number.isFinite(f.ms) && f.ms >= 0)) {
    throw new BadRequest('a slow fault needs ms >= 0');
  }
  return { ...f };
}

// Seeded random draws for `every`.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Request bodies.

// One request body -> [{sql, params}] as sent (before splitting).
function parseQueries(buf) {
  let body;
  try {
    body = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new BadRequest('Invalid JSON body: the request body must be a JSON object');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequest('Invalid JSON body: the request body must be a JSON object');
  }
  let items;
  let where;
  if (body.batch !== undefined) {
    if (!Array.isArray(body.batch))
      throw new BadRequest('Invalid property: batch => Expected array');
    items = body.batch;
    where = (i) => `batch[${i}].`;
  } else {
    items = [body];
    where = () => '';
  }
  return items.map((item, i) => {
    if (!item || typeof item !== 'object' || typeof item.sql !== 'string') {
      throw new BadRequest(`Invalid property: ${where(i)}sql => Required`);
    }
    let params = item.params ?? [];
    if (!Array.isArray(params)) {
      throw new BadRequest(`Invalid property: ${where(i)}params => Expected array`);
    }
    params = params.map((p, j) => {
      if (p === null) return null;
      if (typeof p === 'string') return p;
      if (typeof p === 'number' || typeof p === 'boolean') return String(p);
      throw new BadRequest(`Invalid property: ${where(i)}params[${j}] => Expected string`);
    });
    return { sql: item.sql, params };
  });
}

// D1's message as the API words it: the binding's "D1_ERROR: " prefix off.
function d1Message(e) {
  const message = e?.cause?.message ?? e?.message ?? String(e);
  return String(message).replace(/^D1_[A-Z_]+: /, '');
}

// ---------------------------------------------------------------------------------------------
// The stand-in.

function normaliseDatabases(databases) {
  if (databases === undefined) return [{ name: 'd1sync', id: randomUUID() }];
  const list = Array.isArray(databases)
    ? databases
    : Object.entries(databases).map(([name, id]) => ({ name, id }));
  return list.map((d) => {
    if (typeof d === 'string') {
      const eq = d.indexOf('=');
      if (eq <= 0 || eq === d.length - 1) throw new Error(`--database wants NAME=ID, got '${d}'`);
      return { name: d.slice(0, eq), id: d.slice(eq + 1), aliases: [] };
    }
    if (!d?.name || !d?.id) throw new Error('each database needs a name and an id');
    return { name: d.name, id: d.id, aliases: d.aliases ?? [] };
  });
}

// startStandin(options) -> Promise<{url, port, token, account, databases, persist, stats(),
//   resetStats(), faults, setDelayMs(ms), d1(idOrName), mf, close()}>
//
// options: port (0), host ('127.0.0.1'), token (random), account (random 32 hex), databases
// ([{name, id}] | {NAME: ID} | ['NAME=ID'], default one database 'd1sync' with a random uuid),
// persist (Miniflare's d1Persist directory; undefined keeps the databases in memory), delayMs,
// and project mode: wranglerConfig (a wrangler.toml/.json/.jsonc or its folder), binding,
// persistTo, env. faults: next(...faults), every(spec | null), clear(), pending(), state().
export async function startStandin(options = {}) {
  const {
    port = 0,
    host = '127.0.0.1',
    token = randomBytes(30).toString('base64url'),
    account = randomBytes(16).toString('hex'),
  } = options;
  let delayMs = options.delayMs ?? 0;

  let projectDir = options.projectDir;
  let persist = options.persist;
  let dbList;
  let packages = resolvePackages(projectDir);
  if (options.wranglerConfig) {
    const configFile = path.resolve(findConfigFile(String(options.wranglerConfig)));
    projectDir ??= path.dirname(configFile);
    packages = resolvePackages(projectDir);
    const found = await databaseFromWranglerConfig({
      configFile,
      binding: options.binding,
      persistTo: options.persistTo,
      env: options.env,
      wrangler: packages.wrangler,
    });
    persist ??= found.persist;
    dbList = [{ name: found.name, id: found.id, aliases: found.aliases }];
  } else {
    dbList = normaliseDatabases(options.databases);
  }
  if (!packages.miniflare) throw new Error('miniflare is not installed');
  const { Miniflare } = await importOnce(packages.miniflare);

  const mf = new Miniflare({
    modules: true,
    script: 'export default {}',
    // A project's older Miniflare may not know this date; wrangler sets none either.
    ...(packages.ownMiniflare ? { compatibilityDate: COMPATIBILITY_DATE } : {}),
    d1Databases: Object.fromEntries(dbList.map((d, i) => [`DB_${i}`, d.id])),
    ...(persist ? { d1Persist: path.resolve(persist) } : {}),
  });
  await mf.ready;
  const createdAt = new Date().toISOString();
  const dbs = [];
  for (const [i, d] of dbList.entries()) {
    dbs.push({ ...d, binding: `DB_${i}`, d1: await mf.getD1Database(`DB_${i}`) });
  }
  const byId = new Map();
  for (const d of dbs) for (const id of [d.id, ...d.aliases]) byId.set(id, d);

  // wrangler's splitter, loaded on the first text holding a ';'. Its entry point first trims a
  // .dump's "BEGIN TRANSACTION;" and "COMMIT;" by plain text replacement, anywhere in the text
  // (string literals included): every "BEGIN TRANSACTION" is disguised by one character the text
  // does not hold, so nothing is trimmed, and put back in the statements it returns.
  let splitter;
  async function split(sql) {
    if (!sql.includes(';')) return [sql];
    if (splitter === undefined) {
      splitter = null;
      if (packages.wrangler) {
        const w = await importOnce(packages.wrangler);
        splitter = w.unstable_splitSqlQuery ?? null;
      }
    }
    if (!splitter) return [sql];
    const marker = 'BEGIN TRANSACTION';
    let disguise;
    if (sql.includes(marker)) {
      for (let c = 0xe000; c <= 0xf8ff && !disguise; c++) {
        if (!sql.includes(String.fromCharCode(c)))
          disguise = `BEGIN TRANSACTIO${String.fromCharCode(c)}`;
      }
      if (!disguise) return [sql];
    }
    try {
      const parts = splitter(disguise ? sql.replaceAll(marker, disguise) : sql);
      if (parts.length === 0) return [sql];
      return disguise ? parts.map((p) => p.replaceAll(disguise, marker)) : parts;
    } catch {
      return [sql];
    }
  }

  // -------------------------------------------------------------------------------------------
  // Stats and faults.
  const zeroStats = () => ({
    requests: 0,
    byRoute: {},
    statements: 0,
    committed: 0,
    batches: 0,
    batchesCommitted: 0,
    sqlErrors: 0,
    rowsRead: 0,
    rowsWritten: 0,
    faultsInjected: 0,
    faultsByKind: {},
    bytesIn: 0,
  });
  let counters = zeroStats();
  const held = new Set(); // responses held open by a timeout fault
  const queue = [];
  let every = null; // {fault, rate, seed, draw}

  const faults = {
    next(...list) {
      queue.push(...list.flat().map(checkFault));
      return faults.state();
    },
    every(spec) {
      if (spec === null || spec === undefined) {
        every = null;
      } else {
        const { rate, seed = 1, ...fault } = spec;
        if (!(rate >= 0 && rate <= 1)) throw new BadRequest('every needs a rate in 0..1');
        every = { fault: checkFault(fault), rate, seed, draw: mulberry32(seed) };
      }
      return faults.state();
    },
    clear() {
      queue.length = 0;
      every = null;
      return faults.state();
    },
    pending: () => queue.length,
    state: () => ({
      pending: queue.map((f) => ({ ...f })),
      every: every && { ...every.fault, rate: every.rate, seed: every.seed },
      delayMs,
    }),
  };
  function takeFault() {
    if (queue.length > 0) return queue.shift();
    if (every && every.draw() < every.rate) return { ...every.fault };
    return undefined;
  }

  // Timers that close() cuts short.
  const timers = new Set();
  const sleep = (ms) =>
    new Promise((resolve) => {
      if (!(ms > 0)) return resolve();
      const t = setTimeout(() => {
        timers.delete(entry);
        resolve();
      }, ms);
      const entry = { t, resolve };
      timers.add(entry);
    });

  // -------------------------------------------------------------------------------------------
  // Running statements.
  function decorateMeta(meta = {}) {
    return {
      ...meta,
      served_by_primary: true,
      timings: { sql_duration_ms: meta.duration ?? 0 },
    };
  }

  async function execute(db, queries, raw) {
    const statements = [];
    for (const q of queries) {
      const parts = await split(q.sql);
      if (parts.length > 1 && q.params.length > 0) {
        return error(
          400,
          7400,
          'A query with several statements cannot take params: send one statement per batch item',
        );
      }
      for (const sql of parts) statements.push({ sql, params: q.params });
    }
    counters.batches += 1;
    counters.statements += statements.length;
    let results;
    try {
      results = raw ? await runRaw(db, statements) : await runObjects(db, statements);
    } catch (e) {
      if (closing) throw e;
      counters.sqlErrors += 1;
      return error(400, 7500, d1Message(e), []);
    }
    counters.batchesCommitted += 1;
    counters.committed += statements.length;
    for (const r of results) {
      counters.rowsRead += r.meta?.rows_read ?? 0;
      counters.rowsWritten += r.meta?.rows_written ?? 0;
    }
    return ok(results);
  }

  async function runObjects(db, statements) {
    const prepared = statements.map(({ sql, params }) => {
      const s = db.d1.prepare(sql);
      return params.length > 0 ? s.bind(...params) : s;
    });
    const results = await db.d1.batch(prepared);
    return results.map((r) => ({
      results: r.results ?? [],
      success: r.success,
      meta: decorateMeta(r.meta),
    }));
  }

  // Rows and columns as D1 produces them: the binding's raw() path, for a whole batch.
  async function runRaw(db, statements) {
    let fetcher;
    try {
      fetcher = db.d1.fetcher; // workerd's D1 binding keeps its D1 object's fetcher here
    } catch {
      fetcher = undefined;
    }
    if (fetcher && typeof fetcher.fetch === 'function') {
      const res = await fetcher.fetch('http://d1/query?resultsFormat=ROWS_AND_COLUMNS', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(statements),
      });
      const body = await res.json();
      if (!Array.isArray(body)) {
        throw new Error(body?.error ?? `D1 answered ${res.status}`);
      }
      return body.map((r) => ({
        results: r.results ?? { columns: [], rows: [] },
        success: r.success,
        meta: decorateMeta(r.meta),
      }));
    }
    // Another Miniflare: the binding's objects, columns from the first row.
    return (await runObjects(db, statements)).map((r) => {
      const columns = r.results.length > 0 ? Object.keys(r.results[0]) : [];
      return { ...r, results: { columns, rows: r.results.map((o) => columns.map((c) => o[c])) } };
    });
  }

  async function details(db) {
    const r = await db.d1
      .prepare(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
      )
      .all();
    return {
      uuid: db.id,
      name: db.name,
      created_at: createdAt,
      version: 'production',
      num_tables: r.results[0]?.n ?? 0,
      file_size: r.meta?.size_after ?? 0,
      jurisdiction: null,
      read_replication: { mode: 'disabled' },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Routes.
  const ROUTE = /^\/client\/v4\/accounts\/([^/]+)\/d1\/database(?:\/([^/]+)(?:\/([^/]+))?)?\/?$/;

  function routeName(method, pathname) {
    const m = ROUTE.exec(pathname);
    if (!m) return 'other';
    if (!m[2]) return method === 'GET' ? 'list' : 'other';
    if (!m[3]) return method === 'GET' ? 'database' : 'other';
    if (method === 'POST' && (m[3] === 'query' || m[3] === 'raw')) return m[3];
    return 'other';
  }

  function authenticate(req) {
    const header = req.headers.authorization;
    if (header === undefined) {
      return error(400, 9106, 'Missing X-Auth-Key, X-Auth-Email or Authorization headers');
    }
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    if (!m) {
      return failure(400, [
        {
          code: 6003,
          message: 'Invalid request headers',
          error_chain: [{ code: 6111, message: 'Invalid format for Authorization header' }],
        },
      ]);
    }
    const given = Buffer.from(m[1]);
    const want = Buffer.from(token);
    if (given.length !== want.length || !timingSafeEqual(given, want)) {
      return error(401, 10000, 'Authentication error');
    }
    return undefined;
  }

  async function api(req, url, body) {
    const refused = authenticate(req);
    if (refused) return refused;
    const m = ROUTE.exec(url.pathname);
    const accountMatch = /^\/client\/v4\/accounts\/([^/]+)\//.exec(url.pathname);
    if (accountMatch && decodeURIComponent(accountMatch[1]) !== account) {
      return error(403, 10000, 'Authentication error');
    }
    if (!m) return error(404, 7003, 'No route for the URI');
    const route = routeName(req.method, url.pathname);
    if (route === 'list') {
      const name = url.searchParams.get('name');
      const page = Math.max(1, Number.parseInt(url.searchParams.get('page') ?? '1', 10) || 1);
      const perPage = Math.min(
        10000,
        Math.max(1, Number.parseInt(url.searchParams.get('per_page') ?? '1000', 10) || 1000),
      );
      const all = dbs
        .filter((d) => !name || d.name.toLowerCase().includes(name.toLowerCase()))
        .map((d) => ({
          uuid: d.id,
          name: d.name,
          created_at: createdAt,
          version: 'production',
          jurisdiction: null,
        }));
      const slice = all.slice((page - 1) * perPage, page * perPage);
      return ok(slice, {
        result_info: {
          page,
          per_page: perPage,
          count: slice.length,
          total_count: all.length,
          total_pages: Math.max(1, Math.ceil(all.length / perPage)),
        },
      });
    }
    if (route === 'other') return error(404, 7003, 'No route for the URI');
    const id = decodeURIComponent(m[2]);
    const db = byId.get(id);
    if (!db) return error(404, 7404, `The database ${id} could not be found`);
    if (route === 'database') return ok(await details(db));
    let queries;
    try {
      queries = parseQueries(body);
    } catch (e) {
      if (e instanceof BadRequest) return error(400, 7400, e.message);
      throw e;
    }
    return execute(db, queries, route === 'raw');
  }

  function control(req, url, body) {
    const p = url.pathname;
    const parseBody = () => {
      if (body.length === 0) return {};
      try {
        return JSON.parse(body.toString('utf8'));
      } catch {
        throw new BadRequest('the body must be JSON');
      }
    };
    try {
      if (p === '/__standin/stats' && req.method === 'GET') return json(200, stats());
      if (p === '/__standin/reset-stats' && req.method === 'POST') {
        resetStats();
        return json(200, stats());
      }
      if (p === '/__standin/faults' && req.method === 'GET') return json(200, faults.state());
      if (p === '/__standin/faults' && req.method === 'POST') {
        const b = parseBody();
        if (b.clear) faults.clear();
        if (b.delayMs !== undefined) {
          if (!(Number.isFinite(b.delayMs) && b.delayMs >= 0)) {
            throw new BadRequest('delayMs must be >= 0');
          }
          delayMs = b.delayMs;
        }
        if (b.next !== undefined) {
          if (!Array.isArray(b.next)) throw new BadRequest('next must be an array of faults');
          // Validate all before queueing any.
          b.next.forEach(checkFault);
          faults.next(...b.next);
        }
        if (b.every !== undefined) faults.every(b.every);
        return json(200, faults.state());
      }
      return json(404, { error: `no control route ${req.method} ${p}` });
    } catch (e) {
      if (e instanceof BadRequest) return json(400, { error: e.message });
      throw e;
    }
  }

  function stats() {
    return { ...structuredClone(counters), held: held.size };
  }
  function resetStats() {
    counters = zeroStats();
  }

  // -------------------------------------------------------------------------------------------
  // HTTP.
  let closing = false;

  function send(res, answer) {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(answer.status, {
      ...answer.headers,
      'content-length': Buffer.byteLength(answer.body),
    });
    res.end(answer.body);
  }

  function readBody(req) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://standin');
    const body = await readBody(req);
    if (url.pathname.startsWith(CONTROL_PREFIX)) return send(res, control(req, url, body));
    if (!url.pathname.startsWith(API_PREFIX)) {
      return send(res, error(404, 7003, 'No route for the URI'));
    }
    counters.requests += 1;
    const route = routeName(req.method, url.pathname);
    counters.byRoute[route] = (counters.byRoute[route] ?? 0) + 1;
    counters.bytesIn += body.length;
    const fault = takeFault();
    if (fault) {
      counters.faultsInjected += 1;
      counters.faultsByKind[fault.kind] = (counters.faultsByKind[fault.kind] ?? 0) + 1;
    }
    await sleep(delayMs);
    if (closing) return;
    if (fault?.kind === 'drop-before') return req.socket.destroy();
    if (fault?.kind === 'status') return send(res, faultAnswer(fault));
    if (fault?.kind === 'timeout') {
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    const answer = await api(req, url, body);
    if (closing) return;
    if (fault?.kind === 'drop-after-commit') return req.socket.destroy();
    if (fault?.kind === 'slow') await sleep(fault.ms);
    send(res, answer);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (closing) return;
      send(res, error(500, 7500, `internal error in the stand-in: ${e?.message ?? e}`));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = server.address().port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closed;
  async function close() {
    closed ??= (async () => {
      closing = true;
      for (const entry of timers) {
        clearTimeout(entry.t);
        entry.resolve();
      }
      timers.clear();
      for (const res of held) res.socket?.destroy();
      held.clear();
      const done = new Promise((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
      await mf.dispose();
    })();
    return closed;
  }

  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    token,
    account,
    databases: dbs.map((d) => ({ name: d.name, uuid: d.id })),
    persist: persist ? path.resolve(persist) : null,
    stats,
    resetStats,
    faults,
    setDelayMs(ms) {
      delayMs = ms;
    },
    // The D1 binding behind a database id or name (tests seed and inspect through it).
    d1(idOrName) {
      const d = byId.get(idOrName) ?? dbs.find((x) => x.name === idOrName);
      if (!d) throw new Error(`no database ${idOrName}`);
      return d.d1;
    },
    mf,
    close,
  };
}

// ---------------------------------------------------------------------------------------------
// Command line.

async function main() {
  // stdout carries the one JSON line; anything else (wrangler's config warnings) goes to stderr.
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  console.log = console.info = console.debug = console.error;
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      persist: { type: 'string' },
      database: { type: 'string', multiple: true },
      token: { type: 'string' },
      account: { type: 'string' },
      'delay-ms': { type: 'string', default: '0' },
      'wrangler-config': { type: 'string' },
      binding: { type: 'string' },
      'persist-to': { type: 'string' },
      env: { type: 'string' },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const suppliedToken = values.token ?? process.env.D1_STANDIN_TOKEN;
  const standin = await startStandin({
    port: Number(values.port),
    host: values.host,
    persist: values.persist,
    databases: values.database,
    token: suppliedToken || undefined,
    account: values.account,
    delayMs: Number(values['delay-ms']),
    wranglerConfig: values['wrangler-config'],
    binding: values.binding,
    persistTo: values['persist-to'],
    env: values.env,
  });
  const line = {
    url: standin.url,
    port: standin.port,
    account: standin.account,
    databases: standin.databases,
    persist: standin.persist,
    ...(suppliedToken ? {} : { token: standin.token }),
  };
  stdoutWrite(`${JSON.stringify(line)}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await standin.close();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (values['exit-with-stdin']) {
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`d1-rest-standin: ${e?.message ?? e}\n`);
    process.exit(1);
  });
}
