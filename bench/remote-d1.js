// A D1 binding's shape over a socket: remoteD1(fetchFn, url) talks to bench/d1-server.js (D1 in
// a second workerd) and answers as env.DB does. Works inside workerd (fetchFn = a service
// binding's fetch) and in Node (the global fetch).
//
//   const db = remoteD1(env.D1_REMOTE.fetch.bind(env.D1_REMOTE), 'http://d1.remote/');
//   await db.batch([db.prepare('INSERT …').bind(1, 'x', new Uint8Array(64))]);
//   await db.prepare('SELECT count(*) AS n FROM t').first('n');
//
// Statements: prepare(sql) -> { bind(...values), first(column?), all(), run(), raw(options?) },
// bind() returning a new statement as D1's does; batch(statements); exec(sql). Each call is one
// POST: the only work here is JSON, both ways. Bound values that JSON cannot carry travel
// tagged (ArrayBuffer and views as { $blob: base64 } of the bytes the binding would bind;
// non-finite numbers,
// BigInt, undefined, so that D1 answers them as the binding does). Results come back as D1
// gives them: rows as objects (or arrays for raw()), BLOB columns as arrays of numbers, meta
// with rows_read / rows_written. A failure throws an Error with D1's message and, when D1 gave
// one, a `cause` Error with the detail, exactly as the binding throws.

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64(bytes) {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += BASE64[n >> 18] + BASE64[(n >> 12) & 63] + BASE64[(n >> 6) & 63] + BASE64[n & 63];
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8);
    out += BASE64[n >> 18] + BASE64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? BASE64[(n >> 6) & 63] + '=' : '==';
  }
  return out;
}

function encodeValue(v) {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? v : { $num: String(v) };
    case 'bigint':
      return { $bigint: String(v) };
    case 'undefined':
      return { $undefined: 1 };
    case 'object':
      // As workerd's binding does: the elements of a view, each made a byte (an Int16Array's
      // -1 becomes 255, a DataView binds an empty BLOB).
      if (v instanceof Uint8Array) return { $blob: base64(v) };
      if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
        return { $blob: base64(new Uint8Array(v)) };
      }
      return v;
    default:
      return v;
  }
}

function revive(key, value) {
  return value !== null && typeof value === 'object' && typeof value.$num === 'string'
    ? Number(value.$num)
    : value;
}

export function remoteD1(fetchFn, url) {
  if (typeof fetchFn !== 'function') throw new TypeError('remoteD1() needs a fetch function');
  const endpoint = String(url);

  async function call(body) {
    const res = await fetchFn(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let answer;
    try {
      answer = text.includes('"$num"') ? JSON.parse(text, revive) : JSON.parse(text);
    } catch {
      throw new Error(`remote D1: HTTP ${res.status}: ${text.slice(0, 500)}`);
    }
    if (answer.error) {
      const { message, cause } = answer.error;
      throw cause === undefined
        ? new Error(message)
        : new Error(message, { cause: new Error(cause) });
    }
    return answer.result;
  }

  class Statement {
    constructor(sql, params) {
      this.sql = sql;
      this.params = params;
    }
    bind(...values) {
      return new Statement(this.sql, values);
    }
    wire() {
      return { sql: this.sql, params: this.params.map(encodeValue) };
    }
    first(column) {
      return call({ statement: this.wire(), method: 'first', arg: column });
    }
    all() {
      return call({ statement: this.wire(), method: 'all' });
    }
    run() {
      return call({ statement: this.wire(), method: 'run' });
    }
    raw(options) {
      return call({ statement: this.wire(), method: 'raw', arg: options });
    }
  }

  return {
    prepare(sql) {
      return new Statement(sql, []);
    },
    batch(statements) {
      return call({ statements: statements.map((s) => s.wire()) });
    },
    exec(sql) {
      return call({ exec: sql });
    },
  };
}
