// CPU profile of workerd while a benchmark step runs, through the V8 inspector Miniflare
// exposes (inspectorPort). Summarises self time by where it was spent: the engine's WASM, the
// package's JS, the benchmark's JS, and workerd/V8 internals (native code, SQLite, GC).
import WebSocket from 'ws';

async function targets(port) {
  const res = await fetch(`http://127.0.0.1:${port}/json`);
  return res.json();
}

class Session {
  #ws;
  #next = 1;
  #pending = new Map();
  constructor(ws) {
    this.#ws = ws;
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${msg.error.message}`));
      else p.resolve(msg.result);
    });
  }
  send(method, params = {}) {
    const id = this.#next++;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }
  close() {
    this.#ws.close();
  }
}

async function connect(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return new Session(ws);
}

function category(frame) {
  const url = frame.url || '';
  if (url.includes('.wasm') || url.startsWith('wasm://')) return 'engine (WASM)';
  if (url.includes('d1sync_engine.js')) return 'Embind glue (JS)';
  if (/\/js\/[a-z-]+\.js/.test(url)) return `package JS (${url.match(/js\/([a-z-]+\.js)/)[1]})`;
  if (url.includes('bench/worker.js')) return 'benchmark worker (JS)';
  if (frame.functionName === '(garbage collector)') return 'V8 garbage collector';
  if (frame.functionName === '(idle)') return 'idle';
  if (frame.functionName === '(program)') return 'workerd native (SQLite, RPC, serialization)';
  if (url === '') return `native: ${frame.functionName || '(anonymous)'}`;
  return `other JS (${url.split('/').pop()})`;
}

function summarise(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const fns = new Map();
  const total = new Map();
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop()}`;
  for (let i = 0; i < profile.samples.length; ++i) {
    const node = byId.get(profile.samples[i]);
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const cat = category(node.callFrame);
    self.set(cat, (self.get(cat) ?? 0) + dt);
    fns.set(label(node), (fns.get(label(node)) ?? 0) + dt);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const l = label(byId.get(id));
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + dt);
    }
  }
  const sort = (m) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([k, ms]) => ({ where: k, ms: Math.round(ms) }));
  return {
    byCategory: sort(self),
    topFunctions: sort(fns).slice(0, 40),
    inclusive: sort(total)
      .filter((f) => !/^\(root\)|^\(program\)|^\(idle\)/.test(f.where))
      .slice(0, 40),
  };
}

// Profiles every isolate workerd exposes while `work` runs.
export async function profiled(port, work) {
  const sessions = [];
  for (const t of await targets(port)) {
    if (!t.webSocketDebuggerUrl) continue;
    const s = await connect(t.webSocketDebuggerUrl);
    await s.send('Profiler.enable');
    await s.send('Profiler.setSamplingInterval', { interval: 200 });
    await s.send('Profiler.start');
    sessions.push({ title: t.title, s });
  }
  const result = await work();
  const profiles = [];
  for (const { title, s } of sessions) {
    const { profile } = await s.send('Profiler.stop');
    profiles.push({ isolate: title, ...summarise(profile) });
    s.close();
  }
  return { result, profiles };
}
