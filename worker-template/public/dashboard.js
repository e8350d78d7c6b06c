// The replication dashboard: one page of the tenant's sources from GET /sources (rooms with
// their health, browser pages with what D1 knows of them), refreshed every few seconds with
// that one request, whatever the number of sources. The plots of pending changes and lag are
// kept by this page, in memory, for the sources it has shown in the last 15 minutes: a reload
// starts them afresh (the sources keep no history, and the page's own requests stay bounded).
//
// The token (a JWT naming the tenant) comes from `#token=...` once and is kept in localStorage.
// `?every=ms` sets the refresh interval (default 2000), `?limit=` the sources per page.
import uPlot from './lib/uplot/uPlot.esm.js';

const TOKEN_KEY = 'd1sync-dashboard-token';
const HISTORY_MS = 15 * 60 * 1000;
const params = new URLSearchParams(location.search);
const EVERY_MS = Math.max(250, Number(params.get('every')) || 2000);
const LIMIT = Math.min(100, Math.max(1, Number(params.get('limit')) || 25));

const $ = (selector) => document.querySelector(selector);
const view = { offset: 0, sort: 'name', total: 0 };
const trail = new Map(); // sourceId -> [{ t, pending, lag }]
const plots = { pending: null, lag: null, key: '' };
let refreshes = 0;
let timer = null;
let running = false; // one refresh at a time: a click during one asks for another after it
let again = false;

function token() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState?.(null, '', location.pathname + location.search);
  }
  return localStorage.getItem(TOKEN_KEY);
}

function ago(ms, now) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toISOString().slice(0, 10);
}

function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}

const number = (n) => (n === null || n === undefined ? '–' : n.toLocaleString('en'));

// A cell with the raw value in data-value (what the tests and scripts read) and its text.
function cell(row, field, value, text, className) {
  const td = document.createElement('td');
  td.dataset.field = field;
  td.dataset.value = value === null || value === undefined ? '' : String(value);
  if (className) td.className = className;
  if (text instanceof Node) td.append(text);
  else td.textContent = text;
  row.append(td);
  return td;
}

function copyProgress(health) {
  const box = document.createElement('div');
  const tables = Object.entries(health?.initialSync?.tables ?? {});
  if (!health) return box;
  if (health.initialSync?.done) {
    box.textContent = 'done';
    return box;
  }
  for (const [name, t] of tables) {
    const line = document.createElement('div');
    line.className = 'copy';
    line.dataset.table = name;
    const bar = document.createElement('progress');
    bar.max = Math.max(1, t.total);
    bar.value = Math.min(t.copied, bar.max);
    line.append(bar, ` ${name} ${number(t.copied)} / ${number(t.total)}`);
    box.append(line);
  }
  return box;
}

function renderRow(s, now) {
  const h = s.health;
  const tr = document.createElement('tr');
  tr.dataset.source = s.sourceId;
  tr.dataset.kind = s.kind;
  cell(tr, 'name', s.name, `${s.kind === 'room' ? 'room' : 'browser'} ${s.name}`);
  const state = h ? h.state : 'browser';
  const badge = document.createElement('span');
  badge.className = 'state';
  badge.dataset.state = state;
  badge.textContent = state.replace('_', ' ');
  cell(tr, 'state', state, badge);
  cell(tr, 'pending', h?.pendingChanges, number(h?.pendingChanges), 'num');
  cell(tr, 'lag', h?.lagMs, h ? duration(h.lagMs) : '–', 'num');
  // A room's own last success; for a browser page, when its last batch reached D1.
  const last = h ? (h.lastSuccessAt ?? 0) : s.lastBatchAt;
  const lastCell = cell(tr, 'lastSuccessAt', last, ago(last, now));
  if (last) lastCell.title = new Date(last).toISOString();
  const errors = cell(tr, 'syncErrors', h?.syncErrors, number(h?.syncErrors), 'num');
  if (h?.lastErrorCode || (h && !h.healthy && h.lastError)) {
    const why = document.createElement('div');
    why.className = 'error';
    why.textContent = h.lastErrorCode ?? 'error';
    why.title = h.lastError ?? '';
    errors.append(why);
  }
  cell(tr, 'quarantined', h?.quarantined, number(h?.quarantined), 'num');
  cell(tr, 'initialSync', h?.initialSync?.done ?? '', copyProgress(h));
  const verified = h?.lastVerifiedAt ?? null;
  cell(
    tr,
    'lastVerifiedAt',
    verified,
    verified ? `${ago(verified, now)}${h.lastVerifyEqual ? '' : ' (differs)'}` : 'never',
  );
  return tr;
}

function remember(page) {
  const cutoff = page.now - HISTORY_MS;
  for (const s of page.sources) {
    if (!s.health || s.health.pendingChanges === undefined) continue;
    const points = trail.get(s.sourceId) ?? [];
    points.push({ t: page.now, pending: s.health.pendingChanges, lag: s.health.lagMs });
    trail.set(s.sourceId, points);
  }
  for (const [id, points] of trail) {
    while (points.length && points[0].t < cutoff) points.shift();
    if (!points.length) trail.delete(id);
  }
}

// One chart per figure, one series per room on this page; rebuilt when the rooms change.
function plot(page) {
  const ids = page.sources.filter((s) => trail.has(s.sourceId)).map((s) => s.sourceId);
  const times = [...new Set(ids.flatMap((id) => trail.get(id).map((p) => p.t)))].sort(
    (a, b) => a - b,
  );
  const column = (id, field) => {
    const byTime = new Map(trail.get(id).map((p) => [p.t, p[field]]));
    return times.map((t) => (byTime.has(t) ? byTime.get(t) : null));
  };
  const width = Math.max(300, $('#plot-pending').clientWidth || 500);
  const key = `${ids.join('\n')}|${width}`;
  for (const [field, scale] of [
    ['pending', 1],
    ['lag', 1 / 1000],
  ]) {
    const data = [
      times.map((t) => t / 1000),
      ...ids.map((id) => column(id, field).map((v) => (v === null ? null : v * scale))),
    ];
    if (plots.key !== key || !plots[field]) {
      plots[field]?.destroy();
      plots[field] = new uPlot(
        {
          width,
          height: 200,
          legend: { show: ids.length <= 12 },
          scales: { x: { time: true } },
          series: [
            {},
            ...ids.map((id, i) => ({
              label: id.replace(/^room:[^/]*\//, ''),
              stroke: `hsl(${(i * 137) % 360} 65% 42%)`,
              spanGaps: true,
              points: { show: false },
            })),
          ],
        },
        data,
        $(`#plot-${field}`),
      );
    } else {
      plots[field].setData(data);
    }
  }
  plots.key = key;
}

function render(page) {
  view.total = page.total;
  const body = $('#sources');
  body.replaceChildren(...page.sources.map((s) => renderRow(s, page.now)));
  const states = {};
  for (const s of page.sources) {
    const st = s.health ? s.health.state : 'browser';
    states[st] = (states[st] ?? 0) + 1;
  }
  const summary = $('#summary');
  summary.replaceChildren();
  for (const [label, value, field] of [
    ['sources', page.total, 'total'],
    ['rooms', page.rooms, 'rooms'],
    ['browser pages', page.clients, 'clients'],
  ]) {
    const span = document.createElement('span');
    span.dataset.field = field;
    span.dataset.value = String(value);
    span.textContent = `${number(value)} ${label}`;
    summary.append(span);
  }
  const first = page.total ? page.offset + 1 : 0;
  const last = page.offset + page.sources.length;
  $('#range').textContent = `${number(first)}–${number(last)} of ${number(page.total)}`;
  $('#prev').disabled = page.offset === 0;
  $('#next').disabled = last >= page.total;
  remember(page);
  plot(page);
  document.body.dataset.states = JSON.stringify(states);
}

async function fetchPage(bearer) {
  const q = new URLSearchParams({ offset: view.offset, limit: LIMIT, sort: view.sort });
  const res = await fetch(`/sources?${q}`, { headers: { authorization: `Bearer ${bearer}` } });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

async function refresh() {
  clearTimeout(timer);
  if (running) {
    again = true;
    return;
  }
  const bearer = token();
  if (!bearer) {
    $('#problem').textContent = 'No token: open this page with #token=… or paste one below.';
    $('details').open = true;
    return;
  }
  running = true;
  try {
    let body = await fetchPage(bearer);
    if (body.offset > 0 && body.sources.length === 0 && body.total > 0) {
      view.offset = Math.floor((body.total - 1) / LIMIT) * LIMIT; // the list shrank
      body = await fetchPage(bearer);
    }
    render(body);
    $('#problem').textContent = '';
    $('#refreshed').textContent = `updated ${new Date(body.now).toLocaleTimeString()}`;
  } catch (e) {
    $('#problem').textContent = `Could not refresh: ${e.message}`;
  } finally {
    running = false;
    refreshes += 1;
    document.body.dataset.refreshes = String(refreshes);
    timer = setTimeout(refresh, again ? 0 : EVERY_MS);
    again = false;
  }
}

$('#prev').addEventListener('click', () => {
  view.offset = Math.max(0, view.offset - LIMIT);
  refresh();
});
$('#next').addEventListener('click', () => {
  if (view.offset + LIMIT < view.total) view.offset += LIMIT;
  refresh();
});
$('#sort').addEventListener('change', (e) => {
  view.sort = e.target.value;
  view.offset = 0;
  refresh();
});
$('#token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('#token').value.trim();
  if (!value) return;
  localStorage.setItem(TOKEN_KEY, value);
  $('#token').value = '';
  refresh();
});

refresh();
