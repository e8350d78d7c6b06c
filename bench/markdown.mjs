// The bench's results (bench/results.json) as markdown: bench/results.md (bench/run.mjs) and the
// README's generated blocks (bench/readme.mjs) come from these functions, so the README quotes
// exactly what a run wrote. Each section is { name, title, lines }: results.md gives it a
// `## title` heading; the README has a hand-written heading and prose around the block
// `<!-- bench:begin NAME -->` … `<!-- bench:end NAME -->`, whose content is the section's lines
// with their headings one level down.
import { cliMarkdown } from './cli.mjs';
import { verifyMarkdown } from './verify.mjs';
import { remoteMarkdown } from './remote.mjs';
import { scaleMarkdown } from './scale.mjs';

export const fmt = (x, d = 0) =>
  x === undefined || x === null || Number.isNaN(x)
    ? '—'
    : Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

// The run: mode, date, commit, versions, machine, the .wasm.
export function runLines(results) {
  const lines = [`- mode: ${results.mode}; date: ${results.date}`];
  if (results.commit) lines.push(`- d1sync at \`${results.commit}\``);
  lines.push(`- node ${results.node}, miniflare ${results.miniflare}, workerd ${results.workerd}`);
  lines.push(
    `- machine: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.os}`,
  );
  if (results.wasm) {
    lines.push(
      `- .wasm: ${fmt(results.wasm.rawBytes)} bytes raw, ${fmt(results.wasm.gzipBytes)} gzipped; ` +
        `Node compile ${fmt(results.wasm.nodeCompileMs, 1)} ms, instantiate ${fmt(results.wasm.nodeInstantiateMs, 1)} ms`,
    );
  }
  lines.push('- every figure below comes from this one run');
  return lines;
}

// A contender run in several rounds: the fastest and slowest beside its median.
const spread = (runsMs) =>
  runsMs?.length > 1
    ? ` (${fmt(Math.min(...runsMs) / 1000, 2)}–${fmt(Math.max(...runsMs) / 1000, 2)})`
    : '';

const contenderTable = (contenders, limit) => {
  const lines = [
    '| contender | rows | seconds | rows/s | batch() calls per 100k rows | statements per 100k rows | ratio to the limit |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of contenders) {
    const per = 100000 / c.rows;
    lines.push(
      `| ${c.label} | ${fmt(c.rows)} | ${fmt(c.ms / 1000, 2)}${spread(c.runsMs)} | ${fmt(c.rowsPerSec)} | ` +
        `${fmt(c.batchCalls * per, 1)} | ${fmt(c.statements * per, 1)} | ${fmt(c.rowsPerSec / limit, 2)}× |`,
    );
  }
  return lines;
};

// Every contender inside one workerd against its local D1, per size.
export function workerdLines(results) {
  if (!results.sizes?.length) return [];
  const lines = [
    '- all contenders run inside workerd (Miniflare) against the same local D1 binding, upsert form ' +
      '`INSERT … ON CONFLICT(id) DO UPDATE`; table `items(id INTEGER PRIMARY KEY, name TEXT ~100 B, price REAL, ' +
      'data BLOB 64 B, note TEXT 10% NULL)`; (a)/(b) read the rows from the DO inside the clock, (c) is built before it; ' +
      "workerd's performance.now() has 1 ms resolution",
  ];
  const rounds = results.sizes[0].contenders[0]?.runsMs?.length ?? 1;
  if (rounds > 1) {
    lines.push(
      `- each contender ${rounds} times, in interleaved rounds (each round a freshly seeded DO, ` +
        'starting at a different contender); the median run is shown, its seconds with the ' +
        'fastest and slowest round beside them',
    );
  }
  lines.push('');
  for (const size of results.sizes) {
    const limit = size.limitRowsPerSec;
    lines.push(`### ${fmt(size.rows)} rows`, '');
    lines.push(...contenderTable(size.contenders, limit));
    const ini = size.contenders.find((c) => c.id === 'd1sync-initial');
    const inc = size.contenders.find((c) => c.id === 'd1sync-incremental');
    lines.push('');
    lines.push(`- the limit = the faster (c): ${fmt(limit)} rows/s`);
    lines.push(
      `- d1sync initial sync: ${fmt(ini.ms / 1000, 2)} s total = engine ${fmt(ini.engineMs / 1000, 2)} s (time inside source.transaction() around engine.next/complete, minus its source.exec SQL) ` +
        `(${fmt((ini.engineMs * 1000) / ini.rows, 2)} µs/row) + local SQL reads ${fmt(ini.localSqlMs / 1000, 2)} s + ` +
        `D1 batch() ${fmt(ini.targetBatchMs / 1000, 2)} s + other ${fmt((ini.ms - ini.engineMs - ini.localSqlMs - ini.targetBatchMs) / 1000, 2)} s; ` +
        `start() ${fmt(ini.startMs / 1000, 2)} s, flush() ${fmt(ini.flushMs / 1000, 2)} s ` +
        `(flush() alone: ${fmt(ini.rows / (ini.flushMs / 1000))} rows/s)`,
    );
    lines.push(
      `- reading the rows' five columns out of the DO into JS, nothing else (20,000-row pages, median of 3): ` +
        `${fmt(size.readFloorMs / 1000, 2)} s; added to the limit's ${fmt(size.rows / limit, 2)} s (workerd runs the DO and ` +
        `D1 on one thread), a replicator reading this DO cannot exceed ${fmt(size.localCeiling, 2)}× the limit here`,
    );
    lines.push(
      `- d1sync incremental: ${fmt(inc.rows)} changes (${JSON.stringify(inc.changeMix)}), ` +
        `${fmt(inc.outboxRowsPerChange, 3)} outbox rows per change (capturedSeq delta ÷ changes; ${fmt(inc.outboxRowsBeforeFlush)} outbox rows before the flush), engine ${fmt(inc.engineMs, 0)} ms ` +
        `(${fmt((inc.engineMs * 1000) / inc.rows, 2)} µs/change), D1 batch() ${fmt(inc.targetBatchMs, 0)} ms, ` +
        `${fmt(inc.rowsReplicatedDelta)} rows sent after coalescing`,
    );
    lines.push(
      `- ratios: initial sync / limit ${fmt(size.ratios.toLimit, 2)}×, / one-row-per-statement ` +
        `${fmt(size.ratios.toOneRow, 1)}×, / ORM ${fmt(size.ratios.toOrm, 2)}×`,
    );
    const cp = size.capture;
    lines.push(
      `- local write cost with capture on vs off (${fmt(cp.n)} single-row statements per table, median of 5 rounds): ` +
        ['insert', 'update', 'delete']
          .map(
            (k) =>
              `${k} ${fmt(cp[k].onMs, 1)} vs ${fmt(cp[k].offMs, 1)} ms = ${fmt(cp[k].ratio, 2)}×`,
          )
          .join('; '),
    );
    const rss = size.workerdRssAfter;
    lines.push(
      `- WASM heap (engine module HEAP8.length, high-water): after the initial sync ${fmt(size.heapAfterInitialSync / 1048576, 1)} MiB, ` +
        `after everything ${fmt(size.heap / 1048576, 1)} MiB; ` +
        (rss
          ? `workerd RSS ${fmt(rss.rssBytes / 1048576, 0)} MiB, peak ${fmt(rss.hwmBytes / 1048576, 0)} MiB ` +
            "(reported, not targeted: the DO's SQLite and the local D1 live in that process)"
          : 'workerd RSS n/a'),
      '',
    );
    if (size.profile) {
      lines.push('CPU profile of the d1sync initial sync (self time per isolate, ms):', '');
      for (const p of size.profile) {
        lines.push(
          `- ${p.isolate}: ` +
            p.byCategory
              .filter((c) => c.ms >= 5 && c.where !== 'idle')
              .map((c) => `${c.where} ${c.ms}`)
              .join(', '),
        );
      }
      lines.push('');
    }
  }
  return lines;
}

// The initial sync from @sqlite.org/sqlite-wasm in Node through Miniflare's D1 proxy.
export function sqliteWasmLines(results) {
  const lines = [];
  for (const w of results.sqliteWasm ?? []) {
    lines.push(`### ${fmt(w.rows)} rows`, '');
    lines.push(...contenderTable(w.contenders, w.limitRowsPerSec));
    const ini = w.contenders[0];
    lines.push(
      '',
      `- d1sync: engine ${fmt(ini.engineMs / 1000, 2)} s (${fmt((ini.engineMs * 1000) / ini.rows, 2)} µs/row), ` +
        `local SQL reads ${fmt(ini.localSqlMs / 1000, 2)} s, D1 batch() ${fmt(ini.targetBatchMs / 1000, 2)} s`,
      '',
    );
  }
  return lines;
}

// Browser-style: sqlite-wasm → httpTarget → createSyncEndpoint → D1.
export function browserLines(results) {
  const lines = [];
  for (const h of results.http ?? []) {
    const doPath = results.sizes
      ?.find((s) => s.rows === h.rows)
      ?.contenders.find((c) => c.id === 'd1sync-initial');
    lines.push(
      `- ${fmt(h.rows)} rows: ${fmt(h.rowsPerSec)} rows/s (${fmt(h.ms / 1000, 2)} s)` +
        (h.rounds
          ? `, the median of ${h.rounds} rounds (${fmt(h.minRowsPerSec)}–${fmt(h.maxRowsPerSec)})`
          : '') +
        `, ${fmt(h.d1Rows)} rows in D1; ` +
        `${fmt(h.requests)} requests (claim included); engine ${fmt(h.engineMs / 1000, 2)} s, ` +
        `local SQL reads ${fmt(h.localSqlMs / 1000, 2)} s`,
      `- on the wire ${fmt(h.wireBytes / h.rows, 1)} bytes per row against ` +
        `${fmt(h.literalBytes / h.rows, 1)} bytes of the rows' literal SQL: ` +
        `${fmt(h.wireBytes / h.literalBytes, 2)}×`,
    );
    if (doPath) {
      lines.push(
        `- against the Durable Object path in this run (${fmt(doPath.rowsPerSec)} rows/s): ` +
          `${fmt(h.rowsPerSec / doPath.rowsPerSec, 2)}×`,
      );
    }
    lines.push('');
  }
  return lines;
}

export function targetLines(targets) {
  if (!targets?.length) return [];
  return [
    '| target | measured | met |',
    '| --- | --- | --- |',
    ...targets.map(
      (t) => `| ${t.target} | ${t.measured} | ${t.met === null ? 'n/a' : t.met ? 'yes' : 'NO'} |`,
    ),
    '',
  ];
}

// A section function that writes its own `## heading` first (cliMarkdown and the like): that
// heading becomes the title.
function titled(lines) {
  const i = lines.findIndex((l) => l.trim() !== '');
  if (i < 0 || !lines[i].startsWith('## ')) return { title: null, lines };
  return { title: lines[i].slice(3), lines: lines.slice(i + 1) };
}

const trimBlank = (lines) => {
  let a = 0;
  let b = lines.length;
  while (a < b && lines[a].trim() === '') ++a;
  while (b > a && lines[b - 1].trim() === '') --b;
  return lines.slice(a, b);
};

// Every section, in results.md's order; a section the run did not produce has no lines.
export function sections(results) {
  const list = [
    { name: 'run', title: null, lines: runLines(results) },
    {
      name: 'workerd',
      title: 'Inside workerd: a Durable Object and local D1 in one process',
      lines: workerdLines(results),
    },
    {
      name: 'sqlite-wasm',
      title: "From @sqlite.org/sqlite-wasm (Node, through Miniflare's D1 proxy)",
      lines: sqliteWasmLines(results),
    },
    {
      name: 'browser',
      title: 'Browser-style: sqlite-wasm → httpTarget → createSyncEndpoint → D1',
      lines: browserLines(results),
    },
    { name: 'cli', ...titled(cliMarkdown(results.cli ?? [])) },
    { name: 'verify', ...titled(verifyMarkdown(results.verify ?? [])) },
    { name: 'remote', ...titled(remoteMarkdown(results.remote ?? [])) },
    { name: 'scale', ...titled(scaleMarkdown(results.scale ?? [])) },
    { name: 'targets', title: 'SPEC targets', lines: targetLines(results.targets) },
  ];
  return list.map((s) => ({ ...s, lines: trimBlank(s.lines) }));
}

// bench/results.md.
export function markdown(results, title = `d1sync benchmark (${results.mode})`) {
  const lines = [`# ${title}`, ''];
  for (const s of sections(results)) {
    if (!s.lines.length) continue;
    if (s.title) lines.push(`## ${s.title}`, '');
    lines.push(...s.lines, '');
  }
  return (
    lines
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}

// The README's blocks: name → markdown, headings one level down (the README's own section
// headings are `###`); a section the run did not produce says so.
export function readmeBlocks(results) {
  const blocks = new Map();
  for (const s of sections(results)) {
    const body = s.lines.length
      ? s.lines.map((l) => (/^#{1,5} /.test(l) ? `#${l}` : l))
      : [`Not in this run (mode: ${results.mode}).`];
    blocks.set(s.name, body.join('\n').replace(/\n{3,}/g, '\n\n'));
  }
  return blocks;
}
