// D1 in a process of its own, for the benchmark's out-of-process mode (bench/remote.mjs): the
// Worker of a second Miniflare (its own workerd) holding a D1 database (env.DB). Every contender
// in the first process reaches it through bench/remote-d1.js, a binding-shaped proxy, over a
// local socket. In production the Durable Object and D1 are different machines; in one workerd
// they share a thread and their work adds up.
//
//   POST /  { statements: [{ sql, params }] }            -> env.DB.batch(...): D1's results array
//   POST /  { statement: { sql, params }, method, arg }  -> one statement's first/all/run/raw
//   POST /  { exec: sql }                                -> env.DB.exec(sql)
//   POST /  { stats: 'take' }   what this process did since the last take, then zeroed, not
//                               delayed: { requests, appliedMs (time inside env.DB calls),
//                               charsIn / charsOut (the bodies' lengths, in UTF-16 units),
//                               spans: [start, end] of each env.DB call, Date.now() ms }
//
// Answers are JSON: 200 { result } with D1's results as D1 returns them (results, meta with
// rows_read / rows_written, success; BLOB columns as arrays of numbers, as the binding gives
// them), or 400 { error: { message, cause } } with D1's own words unchanged (d1sync classifies a
// failure by its text). Bound values arrive tagged where JSON cannot carry them (remote-d1.js):
// { $blob: base64 } -> Uint8Array, { $num: 'NaN' | 'Infinity' | '-Infinity' }, { $bigint: '…' },
// { $undefined: 1 } (the last two so that D1 refuses them with its own message).
//
// The delay: every request waits DELAY_MS (a binding; an `x-delay-ms` header overrides it) of
// wall-clock time, half before D1 sees the statements (the request's trip) and half after (the
// answer's trip). Timers of equal length fire in the order they were set, so requests keep
// their order, as on one connection. `x-d1-arrived-at` (Date.now() on arrival) and
// `x-d1-applied-ms` (the time D1 took) come back as headers for the checks.

function decodeValue(v) {
  if (v === null || typeof v !== 'object') return v;
  if (typeof v.$blob === 'string') {
    const bin = atob(v.$blob);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; ++i) bytes[i] = bin.charCodeAt(i);
    return bytes;
  }
  if (typeof v.$num === 'string') return Number(v.$num);
  if (typeof v.$bigint === 'string') return BigInt(v.$bigint);
  if (v.$undefined) return undefined;
  return v;
}

function prepared(db, s) {
  const stmt = db.prepare(s.sql);
  return s.params && s.params.length ? stmt.bind(...s.params.map(decodeValue)) : stmt;
}

// JSON drops what it cannot say: non-finite REALs (SQLite can hold ±Infinity) are tagged.
function replacer(key, value) {
  return typeof value === 'number' && !Number.isFinite(value) ? { $num: String(value) } : value;
}

// Module state: one isolate serves every request of this process.
const fresh = () => ({ requests: 0, appliedMs: 0, charsIn: 0, charsOut: 0, spans: [] });
let stats = fresh();

const sleep = (ms) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : null);

async function apply(db, body) {
  if (Array.isArray(body.statements)) {
    return db.batch(body.statements.map((s) => prepared(db, s)));
  }
  if (body.statement) {
    const stmt = prepared(db, body.statement);
    switch (body.method) {
      case 'first':
        return body.arg === undefined ? stmt.first() : stmt.first(body.arg);
      case 'all':
        return stmt.all();
      case 'run':
        return stmt.run();
      case 'raw':
        return body.arg === undefined ? stmt.raw() : stmt.raw(body.arg);
      default:
        throw new Error(`remote D1: unknown method '${body.method}'`);
    }
  }
  if (typeof body.exec === 'string') return db.exec(body.exec);
  throw new Error('remote D1: the body needs statements, statement or exec');
}

export default {
  async fetch(request, env) {
    const arrivedAt = Date.now();
    if (request.method !== 'POST') return new Response('POST only', { status: 405 });
    const header = request.headers.get('x-delay-ms');
    const delayMs = Math.max(0, Number(header ?? env.DELAY_MS ?? 0) || 0);
    const there = Math.floor(delayMs / 2);
    const back = delayMs - there;
    const bodyText = await request.text();
    if (bodyText.startsWith('{"stats":')) {
      const taken = stats;
      stats = fresh();
      return Response.json(taken);
    }
    await sleep(there);
    let status = 200;
    let payload;
    let t = performance.now();
    let wall = Date.now();
    try {
      const body = JSON.parse(bodyText);
      t = performance.now();
      wall = Date.now();
      payload = { result: await apply(env.DB, body) };
    } catch (e) {
      status = 400;
      const cause = e?.cause && typeof e.cause.message === 'string' ? e.cause.message : undefined;
      payload = { error: { message: String(e?.message ?? e), cause } };
    }
    const appliedMs = performance.now() - t;
    const text = JSON.stringify(payload, replacer);
    stats.requests += 1;
    stats.spans.push([wall, Date.now()]);
    stats.appliedMs += appliedMs;
    stats.charsIn += bodyText.length;
    stats.charsOut += text.length;
    await sleep(back);
    return new Response(text, {
      status,
      headers: {
        'content-type': 'application/json',
        'x-d1-arrived-at': String(arrivedAt),
        'x-d1-applied-ms': String(appliedMs),
      },
    });
  },
};
