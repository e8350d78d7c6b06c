// node bench/capture.mjs [--host do|wasm|both] [--rounds 5] [--n 20000] [--chunk 2000]
//                        [--variants off,engine,old,...|all] [--shape plain|unique] [--txn]
//                        [--clear] [--nice -19] [--json]
// Where capture's cost goes (issue 14): the single-row INSERT / UPDATE / DELETE workload of
// bench/run.mjs's "capture on vs off" (bench/worker.js capRound: n statements of each kind per
// table and round), run on one table per capture variant, the tables taking turns every `chunk`
// statements in a rotating order; each variant and kind against the table without capture.
//   --host do     a SQLite-backed Durable Object under Miniflare (bench/capture-worker.js), one
//                 implicit transaction per round as in bench/worker.js; wall time
//   --host wasm   @sqlite.org/sqlite-wasm in Node, in memory, prepared statements reused, each
//                 statement its own transaction; --txn: one per round, as in the DO; CPU time
//   --variants    see VARIANTS (default: DEFAULT_VARIANTS; `all`: every one)
//   --shape       'unique' gives every table a UNIQUE index, so capture adds its victim triggers
//   --clear       empties the outboxes after each round (a replicator keeping up); by default
//                 they grow, as in bench/run.mjs
//   --nice N      runs workerd at niceness N (root only): on a busy machine, fewer preemptions
// Two figures per cell: the bench's (median over rounds of each table's total, over the same for
// "off") and a paired one (see measure()), steadier when other work shares the machine.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { CAP_TABLE_DDL, capWrites } from './capture-forms.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}
const ROUNDS = Number(arg('rounds', 5));
const N = Number(arg('n', 20000));
const CHUNK = Number(arg('chunk', 2000));
const HOST = arg('host', 'do');
const SHAPE = arg('shape', 'plain');
const TXN = process.argv.includes('--txn');
const CLEAR = process.argv.includes('--clear');
const NICE = Number(arg('nice', 0));
const KINDS = ['insert', 'update', 'delete'];

// Runs workerd (this process's child) at niceness n.
function renice(n) {
  const children = execFileSync('pgrep', ['-P', String(process.pid)], { encoding: 'utf8' });
  for (const pid of children.split('\n').filter(Boolean)) {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (comm === 'workerd') execFileSync('renice', ['-n', String(n), '-p', pid]);
  }
}

// ---- trigger SQL by hand, one option changed at a time ---------------------------------------

const NOW_MS = "CAST((julianday('now')-2440587.5)*86400000 AS INTEGER)";

// keyLiteralExpr() of a declared one-column key "id" (render.cpp), today's form.
function keyCase(a) {
  const x = `${a}."id"`;
  return (
    `CASE typeof(${x}) WHEN 'integer' THEN CAST(${x} AS TEXT) WHEN 'text' THEN CASE WHEN ${x} ` +
    `GLOB '*[^'||char(1)||'-'||char(127)||']*' OR instr(${x},char(0))>0 THEN 'CAST(X'''||hex(${x})` +
    `||''' AS TEXT)' ELSE quote(${x}) END WHEN 'real' THEN (SELECT CASE WHEN abs(v)<9e12 AND ` +
    `round(v*1000)/1000=v THEN iif(0,'-0.0',iif(round(v)=v,CAST(v AS INTEGER)||'.0',` +
    `CAST(round(v*1000) AS INTEGER)||'e-3')) WHEN abs(v)=9e999 THEN iif(v>0,'9e999','-9e999') ` +
    `ELSE (SELECT printf('(%d*pow(2,%d)'||iif(k<-970,'*pow(2,-200))',')'),iif(k<0,` +
    `v*pow(2,600)*pow(2,-548-k),v*pow(2,52-k)),k-52+200*(k<-970))FROM(SELECT ` +
    `floor(log2(abs(v)))-1 k))END FROM(SELECT ${x} v)) ELSE quote(${x}) END`
  );
}

const DEFAULTS = {
  body: 'insert', // or noop, fnnoop, tiny, tinyseq, tinytime, select (VARIANTS)
  key: 'case', // 'case' | 'cast' (CAST(id AS TEXT)) | 'const' ('1') | 'int' (id, INTEGER column)
  now: 'jd', // 'jd' (nowMsExpr) | 'zero'
  tbl: 'name', // 'name' | 'int' (1)
  k: 'separate', // key-change trigger: 'separate' (its own) | 'merged' (in the UPDATE trigger) | 'none'
  kOf: 'key', // its UPDATE OF list: 'key' (the key column) | 'rowid' (and the rowid's three names)
  timing: 'AFTER', // 'AFTER' | 'BEFORE'
  conflict: '', // '' | 'OR IGNORE' | ...
  notNull: true, // outbox columns NOT NULL
  keep: true, // the outbox's BEFORE DELETE keep trigger
  victims: true, // REPLACE victim triggers (only with --shape unique)
};

// The DDL of one variant on table T with outbox L. With the default options the triggers are
// those d1sync installed before (`old`), to the byte but for the outbox's name; `new` gives
// today's (checked against `engine` when both run).
function variantDdl(T, L, o) {
  const nn = o.notNull ? ' NOT NULL' : '';
  const keyType = o.key === 'int' ? 'INTEGER' : 'TEXT';
  const tblType = o.tbl === 'int' ? 'INTEGER' : 'TEXT';
  const out = [];
  if (L !== '_d1sync_log')
    out.push(
      `CREATE TABLE ${L}(seq INTEGER PRIMARY KEY, tbl ${tblType}${nn}, op TEXT${nn}, key ${keyType}${nn}, at_ms INTEGER${nn})`,
    );
  if (o.keep && L !== '_d1sync_log')
    out.push(
      `CREATE TRIGGER ${L}_keep BEFORE DELETE ON ${L} WHEN OLD.seq = (SELECT max(seq) FROM ${L}) BEGIN SELECT RAISE(IGNORE); END`,
    );
  const key = (a) =>
    ({
      case: keyCase(a),
      cast: `CAST(${a}."id" AS TEXT)`,
      const: "'1'",
      int: `${a}."id"`,
      case0: `CASE typeof(${a}."id") WHEN 'integer' THEN CAST(${a}."id" AS TEXT) ELSE quote(${a}."id") END`,
    })[o.key];
  const tbl = o.tbl === 'int' ? '1' : `'${T}'`;
  const now = {
    jd: NOW_MS,
    zero: '0',
    jdonly: "julianday('now')",
    jdconst: "CAST((julianday('2024-01-01')-2440587.5)*86400000 AS INTEGER)",
    unix: 'unixepoch()',
  }[o.now];
  const values = (op, a) => `${tbl}, '${op}', ${key(a)}, ${now}`;
  const into = `INSERT ${o.conflict ? `${o.conflict} ` : ''}INTO ${L}(tbl, op, key, at_ms)`;
  const ins = (op, a) =>
    ({
      insert: `${into} VALUES (${values(op, a)});`,
      noop: 'SELECT 1;',
      select: `SELECT ${values(op, a)};`,
      tiny: `INSERT INTO ${L}(tbl) VALUES (NULL);`,
      tinyseq: `INSERT INTO ${L}(seq) VALUES (NULL);`,
      tinytime: `INSERT INTO ${L}(tbl, at_ms) VALUES (NULL, ${now});`,
      fnnoop: `SELECT ${now};`,
    })[o.body];
  const trig = (name, event, body, when = '') =>
    `CREATE TRIGGER "_d1sync_${name}_${T}" ${o.timing} ${event} ON "${T}"${when} BEGIN ${body} END`;
  out.push(trig('i', 'INSERT', ins('I', 'NEW')));
  const keyOf = o.kOf === 'rowid' ? '"id",rowid,oid,_rowid_' : '"id"';
  if (o.k === 'merged') {
    const old =
      o.body === 'insert'
        ? `${into} SELECT ${values('D', 'OLD')} WHERE OLD."id" IS NOT NEW."id"; `
        : '';
    out.push(trig('u', 'UPDATE', old + ins('U', 'NEW')));
  } else {
    out.push(trig('u', 'UPDATE', ins('U', 'NEW')));
    // Created after 'u': SQLite runs the newest trigger first.
    if (o.k === 'separate')
      out.push(trig('k', `UPDATE OF ${keyOf}`, ins('D', 'OLD'), ' WHEN OLD."id" IS NOT NEW."id"'));
  }
  out.push(trig('d', 'DELETE', ins('D', 'OLD')));
  if (SHAPE === 'unique' && o.victims && o.body === 'insert') {
    const cond = `(v."price"=NEW."price" COLLATE "BINARY" AND v."id"=NEW."id" COLLATE "BINARY")`;
    const sel = (self) =>
      `${into} SELECT ${tbl}, 'R', ${key('v')}, ${now} FROM "${T}" AS v WHERE (${cond})${self};`;
    out.push(trig('R', 'BEFORE INSERT', sel('')).replace(` ${o.timing} BEFORE`, ' BEFORE'));
    out.push(
      trig('S', 'BEFORE UPDATE OF "price","id"', sel(' AND v."id" IS NOT OLD."id"')).replace(
        ` ${o.timing} BEFORE`,
        ' BEFORE',
      ),
    );
  }
  return out;
}

// name → options (null: no capture; 'engine': d1sync's own). Each changes one thing, so that
// the difference to its neighbour is the cost of that thing.
const VARIANTS = {
  off: null,
  off2: null, // a second table without capture: how far apart two equal tables measure
  engine: 'engine', // what d1sync installs (createReplicator; the DO only)
  old: {}, // what d1sync installed before issue 14, by hand (typeof() keys, UPDATE OF "id")
  new: { key: 'cast', kOf: 'rowid' }, // what it installs now, by hand: checked against engine
  // Floors: triggers that do (almost) nothing.
  noop: { body: 'noop', k: 'none', victims: false }, // SELECT 1: a trigger at all
  fnnoop: { body: 'fnnoop', k: 'none', victims: false }, // SELECT <the time>: one function call
  tiny: { body: 'tiny', notNull: false, k: 'none', victims: false }, // a row of NULLs
  tinyseq: { body: 'tinyseq', notNull: false, k: 'none', victims: false }, // ... naming seq
  tinytime: { body: 'tinytime', notNull: false, k: 'none', victims: false }, // ... and the time
  select: { body: 'select' }, // today's values computed, nothing written
  constrow: { key: 'const', now: 'zero', k: 'none' }, // constant values written
  // One part of `old` changed.
  nonow: { now: 'zero' }, // at_ms 0: no time
  castkey: { key: 'cast' }, // CAST(id AS TEXT) for the key
  intkey: { key: 'int' }, // the key as an INTEGER, not a literal
  tblint: { tbl: 'int' }, // a table number, not its name
  nok: { k: 'none' }, // no key-change trigger
  mergedk: { k: 'merged' }, // the key change logged by the UPDATE trigger itself
  beforetrig: { timing: 'BEFORE' }, // BEFORE triggers
  nokeep: { keep: false }, // no keep trigger on the outbox
  nonull: { notNull: false }, // no NOT NULL on the outbox
  ignore: { conflict: 'OR IGNORE' }, // INSERT OR IGNORE into the outbox
  // Without NOT NULL, function calls taken out one at a time.
  nncast: { notNull: false, key: 'cast' }, // the time is the one call left
  nncast0: { notNull: false, key: 'cast', now: 'zero' }, // no call at all
  nncase0: { notNull: false, now: 'zero' }, // today's typeof() key, no time
  nnsimple0: { notNull: false, now: 'zero', key: 'case0' }, // typeof() and quote() only
  nnjdonly: { notNull: false, key: 'cast', now: 'jdonly' }, // julianday('now') alone
  nnjdconst: { notNull: false, key: 'cast', now: 'jdconst' }, // julianday of a constant
  nnunix: { notNull: false, key: 'cast', now: 'unix' }, // unixepoch()
};
const DEFAULT_VARIANTS = 'off,off2,engine,old,new,noop,fnnoop,tiny,tinytime,nncast0';
const wanted = arg('variants', DEFAULT_VARIANTS);
const allNames = ['off'].concat(
  (wanted === 'all' ? Object.keys(VARIANTS) : wanted.split(',')).filter((n) => n !== 'off'),
);
for (const n of allNames) if (!(n in VARIANTS)) throw new Error(`unknown variant ${n}`);
// The engine's own capture needs its host: the DO.
let names = allNames;

function setupSpec() {
  return names.map((name) => {
    const o = VARIANTS[name];
    if (o === null || o === 'engine') return { name, engine: o === 'engine' };
    return { name, ddl: variantDdl(`v_${name}`, `log_${name}`, { ...DEFAULTS, ...o }) };
  });
}

// ---- hosts -------------------------------------------------------------------------------------

async function doHost() {
  const mf = new Miniflare({
    modules: true,
    modulesRoot: repoRoot,
    scriptPath: path.join(here, 'capture-worker.js'),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2026-04-26',
    durableObjects: { CAP: { className: 'Cap', useSQLite: true } },
    d1Databases: ['DB'],
  });
  await mf.ready;
  if (NICE) renice(NICE);
  const call = async (op, args = {}) => {
    const res = await mf.dispatchFetch('http://cap.test/cap/capture', {
      method: 'POST',
      body: JSON.stringify({ op, ...args }),
    });
    const r = JSON.parse(await res.text());
    if (!r.ok) throw new Error(`${op}: ${r.error.message}\n${r.error.stack ?? ''}`);
    return r;
  };
  return {
    label: 'Durable Object (Miniflare/workerd)',
    setup: (variants) => call('setup', { variants, shape: SHAPE }),
    round: (args) => call('round', args),
    clear: () => call('clear'),
    close: () => mf.dispose(),
  };
}

// This process's CPU time in ms (µs resolution): unlike wall time, no other process adds to it.
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function wasmHost() {
  const sqlite3 = await sqlite3InitModule({ print: () => {}, printErr: console.error });
  const db = new sqlite3.oo1.DB(':memory:');
  const cache = new Map();
  const exec = (sql, ...bind) => {
    let st = cache.get(sql);
    if (!st) cache.set(sql, (st = db.prepare(sql)));
    if (bind.length) st.bind(bind);
    st.step();
    st.reset(true);
  };
  const writes = capWrites(exec);
  return {
    label: `sqlite-wasm ${sqlite3.version.libVersion} in Node (:memory:, ${TXN ? 'a transaction per round' : 'autocommit'}, CPU time)`,
    async setup(variants) {
      for (const v of variants) {
        db.exec(CAP_TABLE_DDL(`v_${v.name}`, SHAPE));
        for (const s of v.ddl ?? []) db.exec(s);
      }
    },
    async round({ n, base, chunk, names: ns, rotate }) {
      const ms = Object.fromEntries(ns.map((x) => [x, { insert: [], update: [], delete: [] }]));
      if (TXN) exec('BEGIN');
      for (const kind of KINDS) {
        for (let from = 0, c = 0; from < n; from += chunk, ++c) {
          const to = Math.min(n, from + chunk);
          const k = (c + rotate) % ns.length;
          for (const name of [...ns.slice(k), ...ns.slice(0, k)]) {
            const t = cpuMs();
            writes[kind](`v_${name}`, base, from, to);
            ms[name][kind].push(cpuMs() - t);
          }
        }
      }
      if (TXN) exec('COMMIT');
      return { ms };
    },
    async clear() {
      for (const name of names) if (VARIANTS[name]) db.exec(`DELETE FROM log_${name}`);
    },
    close: () => db.close(),
  };
}

// ---- the run -----------------------------------------------------------------------------------

const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// Two figures per variant and kind: `ratio`, as bench/run.mjs computes it (median over rounds of
// the round's total, over the same for "off"), and `paired`: for every chunk of every round, the
// chunk's time over the time "off" took for the same rows in the same round, averaged over the
// middle 60% of those pairs. A preemption by another process spoils a pair or two instead of a
// round. (workerd's performance.now() ticks in whole milliseconds: with --chunk 5000 a chunk
// takes 10 ms or more.)
const trimmedMean = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const cut = Math.floor(s.length * 0.2);
  const mid = s.slice(cut, s.length - cut);
  return sum(mid) / mid.length;
};

async function measure(host) {
  const { triggers } = (await host.setup(setupSpec())) ?? {};
  if (triggers && names.includes('engine')) {
    // `new` by hand must be what the engine installs, or the comparison means nothing.
    const want = variantDdl('v_engine', '_d1sync_log', { ...DEFAULTS, ...VARIANTS.new });
    const got = triggers.filter((t) => t.tbl_name === 'v_engine').map((t) => t.sql);
    const same = want.length === got.length && want.every((w) => got.includes(w));
    console.error(`[capture] the engine's triggers are variant 'new' to the byte: ${same}`);
    if (!same) console.error({ want, got });
  }
  const runs = Object.fromEntries(names.map((x) => [x, { insert: [], update: [], delete: [] }]));
  for (let round = 0; round < ROUNDS; ++round) {
    const { ms } = await host.round({
      n: N,
      base: round * N + 1,
      chunk: CHUNK,
      names,
      rotate: round,
    });
    for (const x of names) for (const kind of KINDS) runs[x][kind].push(ms[x][kind]);
    if (CLEAR) await host.clear();
    console.error(`[capture] ${host.label}: round ${round + 1}/${ROUNDS}`);
  }
  const total = (x, k) => median(runs[x][k].map(sum));
  const off = Object.fromEntries(KINDS.map((k) => [k, total('off', k)]));
  const paired = (x, k) =>
    trimmedMean(runs[x][k].flatMap((chunks, r) => chunks.map((ms, c) => ms / runs.off[k][r][c])));
  const rows = names.map((x) => ({
    variant: x,
    ...Object.fromEntries(
      KINDS.map((k) => [k, { ratio: total(x, k) / off[k], paired: paired(x, k) }]),
    ),
  }));
  return { off, rows, runs };
}

const hosts = HOST === 'both' ? ['do', 'wasm'] : [HOST];
const report = { n: N, rounds: ROUNDS, chunk: CHUNK, shape: SHAPE, clear: CLEAR, hosts: [] };
for (const h of hosts) {
  names = allNames.filter((n) => h === 'do' || VARIANTS[n] !== 'engine');
  const host = h === 'do' ? await doHost() : await wasmHost();
  try {
    const r = await measure(host);
    report.hosts.push({ host: host.label, ...r });
    console.log(
      `\n${host.label}: ${N} single-row statements per table and kind, median of ${ROUNDS} rounds, ` +
        `shape ${SHAPE}${CLEAR ? ', outbox emptied each round' : ''}`,
    );
    console.log(
      `off (no capture): insert ${r.off.insert.toFixed(0)} ms, update ${r.off.update.toFixed(0)} ms, ` +
        `delete ${r.off.delete.toFixed(0)} ms`,
    );
    console.log(
      '| variant | insert | update | delete | insert (paired) | update (paired) | delete (paired) |\n' +
        '|---|---|---|---|---|---|---|',
    );
    const f = (x) => `${x.toFixed(2)}×`;
    for (const row of r.rows)
      console.log(
        `| ${row.variant} | ${KINDS.map((k) => f(row[k].ratio)).join(' | ')} | ` +
          `${KINDS.map((k) => f(row[k].paired)).join(' | ')} |`,
      );
  } finally {
    await host.close();
  }
}
if (process.argv.includes('--json')) console.log(JSON.stringify(report));
