// The worker-template's health and metrics endpoints inside workerd: GET /rooms/:room/health
// has the SPEC's shape, GET /metrics is valid Prometheus text exposition covering every room.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTemplate, waitIdle } from './helpers.mjs';

const STATES = ['initial_sync', 'streaming', 'idle', 'backoff', 'error'];
const COUNTERS = [
  'lastSyncAt',
  'lastSuccessAt',
  'totalSyncs',
  'syncErrors',
  'retries',
  'pendingChanges',
  'quarantined',
  'lagMs',
  'capturedSeq',
  'appliedSeq',
  'rowsReplicated',
  'statementsSent',
  'batchesSent',
  'bytesSent',
  'd1RowsRead',
  'd1RowsWritten',
];
const FAMILIES = [
  'd1sync_syncs_total',
  'd1sync_sync_duration_seconds',
  'd1sync_last_success_timestamp_seconds',
  'd1sync_pending_changes',
  'd1sync_lag_seconds',
  'd1sync_rows_total',
  'd1sync_d1_rows_read_total',
  'd1sync_d1_rows_written_total',
  'd1sync_quarantined',
];

// Every field SPEC.md lists for health(), with its JS type; roomId is the room's `tenant/room`.
function assertHealthShape(h, roomId) {
  assert.equal(typeof h, 'object');
  assert.ok(STATES.includes(h.state), `state ${JSON.stringify(h.state)}`);
  assert.equal(typeof h.healthy, 'boolean');
  assert.equal(h.sourceId, `room:${roomId}`);
  assert.ok(h.lastError === null || typeof h.lastError === 'string', `lastError ${h.lastError}`);
  for (const key of COUNTERS) {
    assert.ok(Number.isSafeInteger(h[key]) && h[key] >= 0, `${key} = ${JSON.stringify(h[key])}`);
  }
  assert.equal(typeof h.errorRate, 'number');
  assert.ok(h.errorRate >= 0 && h.errorRate <= 1, `errorRate ${h.errorRate}`);
  assert.equal(typeof h.initialSync, 'object');
  assert.equal(typeof h.initialSync.done, 'boolean');
  assert.equal(typeof h.initialSync.tables, 'object');
  const tasks = h.initialSync.tables.tasks;
  assert.ok(tasks, `initialSync.tables has no tasks entry: ${JSON.stringify(h.initialSync)}`);
  assert.ok(Number.isSafeInteger(tasks.copied) && tasks.copied >= 0, `copied ${tasks.copied}`);
  assert.ok(Number.isSafeInteger(tasks.total) && tasks.total >= 0, `total ${tasks.total}`);
  assert.deepEqual(Object.keys(h.initialSync.tables), ['tasks'], 'only the tasks table replicates');
}

// Prometheus text exposition format 0.0.4, strictly: comment lines are "# HELP name text" or
// "# TYPE name type"; every other line is `name{labels} value`; each family has one HELP and
// one TYPE line, before its samples, and its samples are contiguous; no sample repeats.
const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(
  `^(${NAME})\\{((?:${LABEL})(?:,${LABEL})*,?)?\\} ` +
    '([-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|NaN|[-+]Inf)$',
);

function parseExposition(text) {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const families = new Map(); // name -> { help, type, samples: [{ name, labels, value }] }
  const finished = new Set();
  let current = null;
  const familyOf = (name) => {
    if (families.has(name)) return name;
    const base = name.replace(/_(sum|count|bucket)$/, '');
    if (families.has(base) && ['summary', 'histogram'].includes(families.get(base).type))
      return base;
    return null;
  };
  const seenSamples = new Set();
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      assert.ok(m, `${where}: a comment that is neither HELP nor TYPE`);
      const [, kind, name, rest] = m;
      assert.match(name, new RegExp(`^${NAME}$`), where);
      if (!families.has(name)) families.set(name, { help: null, type: null, samples: [] });
      const f = families.get(name);
      assert.equal(f.samples.length, 0, `${where}: ${kind} after the family's samples`);
      if (current !== null && current !== name) finished.add(current);
      assert.ok(!finished.has(name), `${where}: family ${name} resumed after another family`);
      current = name;
      if (kind === 'HELP') {
        assert.equal(f.help, null, `${where}: a second HELP for ${name}`);
        f.help = rest;
      } else {
        assert.equal(f.type, null, `${where}: a second TYPE for ${name}`);
        assert.match(rest, /^(counter|gauge|summary|histogram|untyped)$/, where);
        f.type = rest;
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `${where}: not "name{labels} value"`);
    const [, name, labelText = '', value] = m;
    const family = familyOf(name);
    assert.ok(family, `${where}: sample of ${name} before (or without) its # HELP / # TYPE`);
    if (current !== family) finished.add(current);
    assert.ok(!finished.has(family), `${where}: the samples of ${family} are not contiguous`);
    current = family;
    const f = families.get(family);
    assert.ok(
      f.help !== null && f.type !== null,
      `${where}: ${family} lacks HELP or TYPE before it`,
    );
    const labels = Object.fromEntries(
      [...labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [
        k,
        v,
      ]),
    );
    const identity = `${name}|${Object.entries(labels)
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
    assert.ok(!seenSamples.has(identity), `${where}: a duplicate sample`);
    seenSamples.add(identity);
    f.samples.push({ name, labels, value: Number(value) });
  }
  for (const [name, f] of families) {
    assert.ok(f.help !== null && f.type !== null, `family ${name} lacks HELP or TYPE`);
  }
  return families;
}

test('the exposition checker itself rejects malformed text', () => {
  const ok = '# HELP m_total Things.\n# TYPE m_total counter\nm_total{source="room:a"} 1\n';
  assert.equal(parseExposition(ok).get('m_total').samples[0].value, 1);
  const bad = {
    'sample before HELP/TYPE':
      'm_total{source="room:a"} 1\n# HELP m_total T.\n# TYPE m_total counter\n',
    'two TYPE lines': ok + '# TYPE m_total counter\n',
    'no value': '# HELP m T.\n# TYPE m gauge\nm{source="room:a"}\n',
    'unquoted label': '# HELP m T.\n# TYPE m gauge\nm{source=room:a} 1\n',
    'duplicate sample': ok + 'm_total{source="room:a"} 2\n',
    'interleaved families':
      ok + '# HELP g T.\n# TYPE g gauge\ng{source="room:a"} 1\nm_total{source="room:b"} 1\n',
    'no final newline': ok.slice(0, -1),
  };
  for (const [what, text] of Object.entries(bad)) {
    assert.throws(() => parseExposition(text), assert.AssertionError, what);
  }
});

describe('worker-template: health and metrics', () => {
  let t;
  const rooms = ['obs-1', 'obs-2', 'obs_3'];
  const healths = new Map();
  before(async () => {
    t = await startTemplate();
    const { api } = t;
    await Promise.all(
      rooms.map(async (room, k) => {
        for (let i = 1; i <= 4 + k; ++i) await api.addTask(room, `${room} task ${i}`);
        await api.patchTask(room, 1, { done: true });
        await api.deleteTask(room, 2);
      }),
    );
    for (const [k, h] of (await waitIdle(api, rooms)).entries()) healths.set(rooms[k], h);
  });
  after(async () => {
    await t?.dispose();
  });

  test('GET /rooms/:room/health has the SPEC shape and agrees with the room', async () => {
    for (const room of rooms) {
      const res = await t.api.call('GET', `/rooms/${room}/health`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /application\/json/);
      const h = res.body;
      assertHealthShape(h, t.api.roomId(room));
      const tasks = await t.api.listTasks(room);
      assert.equal(h.state, 'idle');
      assert.equal(h.healthy, true);
      assert.equal(h.lastError, null);
      assert.equal(h.pendingChanges, 0);
      assert.equal(h.quarantined, 0);
      assert.equal(h.lagMs, 0);
      assert.equal(h.appliedSeq, h.capturedSeq);
      assert.ok(
        h.capturedSeq >= tasks.length + 2,
        `capturedSeq ${h.capturedSeq}: every write was captured`,
      );
      assert.ok(h.rowsReplicated >= tasks.length, `rowsReplicated ${h.rowsReplicated}`);
      assert.ok(h.batchesSent >= 1 && h.statementsSent >= h.batchesSent && h.bytesSent > 0);
      assert.ok(h.totalSyncs >= 1 && h.syncErrors === 0 && h.errorRate === 0);
      assert.ok(h.lastSuccessAt > 0 && h.lastSyncAt >= h.lastSuccessAt);
      assert.equal(h.initialSync.done, true);
      assert.ok(h.initialSync.tables.tasks.copied <= h.initialSync.tables.tasks.total);
    }
  });

  test('a room never written to still answers health in the SPEC shape', async () => {
    const h = await t.api.health('quiet-room');
    assertHealthShape(h, t.api.roomId('quiet-room'));
    assert.equal(h.pendingChanges, 0);
    assert.equal(h.capturedSeq, 0);
    assert.notEqual(h.state, 'error', JSON.stringify(h));
    assert.deepEqual(await t.api.listTasks('quiet-room'), []);
  });

  test('GET /metrics is Prometheus text exposition with a source label for every room', async () => {
    const res = await t.api.call('GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const families = parseExposition(res.text);
    for (const name of FAMILIES) assert.ok(families.has(name), `family ${name} is missing`);
    assert.equal(families.get('d1sync_syncs_total').type, 'counter');
    assert.equal(families.get('d1sync_rows_total').type, 'counter');
    assert.equal(families.get('d1sync_pending_changes').type, 'gauge');

    for (const [name, f] of families) {
      for (const s of f.samples) {
        assert.match(
          s.labels.source ?? '',
          /^room:[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+$/,
          `${s.name} has no room source label`,
        );
        assert.ok(
          Number.isFinite(s.value) && s.value >= 0,
          `${s.name}{source="${s.labels.source}"} = ${s.value}`,
        );
      }
      assert.ok(f.samples.length > 0, `${name} has no samples`);
    }
    const value = (name, room, extra = {}) => {
      const hits = [...families.values()]
        .flatMap((f) => f.samples)
        .filter(
          (s) =>
            s.name === name &&
            s.labels.source === `room:${t.api.roomId(room)}` &&
            Object.entries(extra).every(([k, v]) => s.labels[k] === v),
        );
      assert.equal(hits.length, 1, `one ${name} sample for room ${room} ${JSON.stringify(extra)}`);
      return hits[0].value;
    };
    for (const room of rooms) {
      const h = healths.get(room);
      for (const name of FAMILIES) {
        const family = families.get(name);
        assert.ok(
          family.samples.some((s) => s.labels.source === `room:${t.api.roomId(room)}`),
          `${name} lacks room ${room}`,
        );
      }
      // The numbers are the room's own (it has been idle since `healths` was taken).
      assert.equal(
        value('d1sync_syncs_total', room, { status: 'ok' }),
        h.totalSyncs - h.syncErrors,
      );
      assert.equal(value('d1sync_syncs_total', room, { status: 'error' }), h.syncErrors);
      assert.equal(value('d1sync_sync_duration_seconds_count', room), h.batchesSent);
      assert.ok(value('d1sync_sync_duration_seconds_sum', room) >= 0);
      assert.equal(value('d1sync_last_success_timestamp_seconds', room), h.lastSuccessAt / 1000);
      assert.equal(value('d1sync_pending_changes', room), 0);
      assert.equal(value('d1sync_lag_seconds', room), 0);
      assert.equal(value('d1sync_rows_total', room), h.rowsReplicated);
      assert.equal(value('d1sync_quarantined', room), 0);
    }
  });
});

describe('worker-template: logs (D1SYNC_LOG)', () => {
  const TITLE = 'call Dr. Rivera about the results';

  // The Worker's console output, line by line.
  function capture() {
    const lines = [];
    let rest = '';
    const take = (chunk) => {
      rest += chunk;
      const parts = rest.split('\n');
      rest = parts.pop();
      lines.push(...parts);
    };
    return {
      lines,
      stdio: (stdout, stderr) => {
        stdout.setEncoding('utf8').on('data', take);
        stderr.setEncoding('utf8').on('data', take);
      },
    };
  }

  test("D1SYNC_LOG=info: each room's batches and claim as JSON lines, no task in them", async () => {
    const out = capture();
    const t = await startTemplate(undefined, { vars: { D1SYNC_LOG: 'info' }, stdio: out.stdio });
    try {
      await t.api.addTask('logged', TITLE);
      await waitIdle(t.api, ['logged']);
      const events = out.lines
        .filter((l) => l.trimStart().startsWith('{"level"'))
        .map((l) => JSON.parse(l.trim()));
      const mine = events.filter((e) => e.sourceId === 'room:acme/logged');
      assert.ok(
        mine.some((e) => e.event === 'claimed'),
        out.lines.join('\n'),
      );
      const batches = mine.filter((e) => e.event === 'batch');
      assert.ok(batches.length >= 1, out.lines.join('\n'));
      assert.equal(
        batches.reduce((n, e) => n + e.rows, 0),
        (await t.api.health('logged')).rowsReplicated,
      );
      assert.ok(!out.lines.some((l) => l.includes(TITLE) || l.includes('Rivera')));
    } finally {
      await t.dispose();
    }
  });

  test('D1SYNC_LOG=off prints nothing; a word d1sync does not know is a CONFIG error naming log', async () => {
    const quiet = capture();
    const t = await startTemplate(undefined, { vars: { D1SYNC_LOG: 'off' }, stdio: quiet.stdio });
    try {
      await t.api.addTask('quiet', TITLE);
      await waitIdle(t.api, ['quiet']);
      assert.deepEqual(
        quiet.lines.filter((l) => l.includes('"level"')),
        [],
      );
    } finally {
      await t.dispose();
    }
    const wrong = await startTemplate(undefined, { vars: { D1SYNC_LOG: 'verbose' } });
    try {
      const res = await wrong.api.call('GET', '/rooms/typo/health');
      assert.equal(res.status, 500);
      assert.match(res.body.error.message, /log must be 'warn', 'info', 'debug', false/);
    } finally {
      await wrong.dispose();
    }
  });
});
