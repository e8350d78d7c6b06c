// The template's dashboard (public/dashboard.html) in Chromium against the template served by
// workerd: its numbers are /metrics' for the same moment, a room whose D1 fails turns to
// `backoff` by the first refresh that starts after it did, and 1,000 sources render a page at
// a time with one request per refresh, as with three. A screenshot goes under the test output
// (D1SYNC_TEST_OUTPUT, default build/test-output/) for people to look at.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { client, waitIdle } from '../template/helpers.mjs';
import { launchBrowser, repoRoot, startServer, tempDir, tokenFor, waitFor } from './harness.mjs';

const OUTPUT = process.env.D1SYNC_TEST_OUTPUT ?? path.join(repoRoot, 'build/test-output');
const ROOMS = ['attic', 'garage', 'kitchen'];
const EVERY_MS = 400;

// Prometheus text -> { 'name{labels}': number }.
function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return out;
}

// The table as the page shows it: sourceId -> { field: raw value }.
function pageRows(page) {
  return page.$$eval('#sources tr', (rows) =>
    Object.fromEntries(
      rows.map((tr) => [
        tr.dataset.source,
        Object.fromEntries(
          [...tr.querySelectorAll('td[data-field]')].map((td) => [
            td.dataset.field,
            td.dataset.value,
          ]),
        ),
      ]),
    ),
  );
}

const refreshes = (page) => page.evaluate(() => Number(document.body.dataset.refreshes ?? 0));

// Resolves once a refresh that started after this call has been drawn: the one in flight (if
// any) may have asked before, so the count must move by two.
async function nextFullRefresh(page) {
  const n = await refreshes(page);
  await waitFor('the next full refresh', async () => (await refreshes(page)) >= n + 2);
}

describe('the dashboard', () => {
  let server;
  let browser;
  let api;
  let token;
  const requests = [];

  before(async () => {
    server = await startServer({ entry: 'tests/template/fixture.js' });
    token = await tokenFor('acme', 'dashboard-tests');
    api = client(server.mf, { tenant: 'acme', token });
    browser = await launchBrowser(tempDir('profile'));
    browser.context.on('request', (r) => requests.push(r.url()));
    for (const room of ROOMS) {
      for (let i = 0; i < 3; i++) await api.addTask(room, `${room} task ${i}`);
    }
    await waitIdle(api, ROOMS);
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  let page;
  test('shows every room with the numbers /metrics has for the same moment', async () => {
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(`${server.url}dashboard?every=${EVERY_MS}#token=${token}`);
    await waitFor('the first refresh', async () => (await refreshes(page)) >= 1);
    assert.equal(await page.textContent('#problem'), '', browser.log.join('\n'));
    // Nothing is being written: the figures hold still between the two /metrics reads, so the
    // page's refresh between them saw the same moment.
    const before = await api.expect(200, 'GET', '/metrics');
    await nextFullRefresh(page);
    const rows = await pageRows(page);
    const afterText = await api.expect(200, 'GET', '/metrics');
    assert.equal(afterText, before, 'the rooms changed while the page refreshed');
    const metrics = parseMetrics(afterText);

    assert.deepEqual(Object.keys(rows).sort(), ROOMS.map((r) => `room:acme/${r}`).sort());
    for (const [source, cells] of Object.entries(rows)) {
      const m = (name, extra = '') => metrics[`${name}{source="${source}"${extra}}`];
      assert.equal(cells.state, 'idle', source);
      assert.equal(Number(cells.pending), m('d1sync_pending_changes'), `${source} pending`);
      assert.equal(Number(cells.quarantined), m('d1sync_quarantined'), `${source} quarantined`);
      assert.equal(Number(cells.lag) / 1000, m('d1sync_lag_seconds'), `${source} lag`);
      assert.equal(
        Number(cells.syncErrors),
        m('d1sync_syncs_total', ',status="error"'),
        `${source} errors`,
      );
      assert.ok(
        Math.abs(Number(cells.lastSuccessAt) / 1000 - m('d1sync_last_success_timestamp_seconds')) <
          1e-3,
        `${source} last success: page ${cells.lastSuccessAt}, metrics ${m('d1sync_last_success_timestamp_seconds')}`,
      );
      assert.ok(Number(cells.lastSuccessAt) > 0);
    }
    const total = await page.getAttribute('#summary [data-field="total"]', 'data-value');
    assert.equal(Number(total), ROOMS.length);
  });

  test('a room whose D1 fails turns to backoff by the next refresh, in the warning colour', async () => {
    await api.expect(200, 'POST', `/__fault/${api.roomId('kitchen')}`, { on: true });
    await api.addTask('kitchen', 'written while D1 fails');
    await waitFor('the room itself to report backoff', async () => {
      return (await api.health('kitchen')).state === 'backoff';
    });
    await nextFullRefresh(page);
    const rows = await pageRows(page);
    assert.equal(rows['room:acme/kitchen'].state, 'backoff');
    assert.equal(Number(rows['room:acme/kitchen'].pending), 1);
    assert.ok(Number(rows['room:acme/kitchen'].syncErrors) >= 1);
    assert.equal(rows['room:acme/attic'].state, 'idle');
    const colour = await page.$eval(
      'tr[data-source="room:acme/kitchen"] .state',
      (el) => getComputedStyle(el).backgroundColor,
    );
    assert.equal(colour, 'rgb(179, 107, 0)');
    // A few more refreshes give the plots some history, then a picture for the README.
    for (let i = 0; i < 3; i++) await nextFullRefresh(page);
    mkdirSync(OUTPUT, { recursive: true });
    const shot = path.join(OUTPUT, 'dashboard.png');
    await page.setViewportSize({ width: 1280, height: 900 });
    await nextFullRefresh(page);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`# the dashboard: ${shot}`);
    await api.expect(200, 'POST', `/__fault/${api.roomId('kitchen')}`, { on: false });
  });

  test('a room in its initial copy shows a bar per table; a verified room when it was', async () => {
    // A copy in progress lasts a moment in a test, so this page is given one: the answer of
    // /sources as a room mid-copy and one verified with differences would send it.
    const now = Date.now();
    const health = (over) => ({
      state: 'idle',
      healthy: true,
      pendingChanges: 0,
      lagMs: 0,
      lastSuccessAt: now - 5000,
      syncErrors: 0,
      lastErrorCode: null,
      lastError: null,
      quarantined: 0,
      lastVerifiedAt: null,
      lastVerifyEqual: null,
      initialSync: { done: true, tables: {} },
      ...over,
    });
    const answer = {
      now,
      total: 2,
      rooms: 2,
      clients: 0,
      offset: 0,
      limit: 25,
      sort: 'name',
      sources: [
        {
          sourceId: 'room:acme/big',
          kind: 'room',
          name: 'big',
          appliedSeq: 0,
          lastBatchAt: now,
          epoch: 1,
          health: health({
            state: 'initial_sync',
            initialSync: {
              done: false,
              tables: {
                tasks: { copied: 40000, total: 100000, phase: 'copy' },
                notes: { copied: 0, total: 2500, phase: 'create' },
              },
            },
          }),
        },
        {
          sourceId: 'room:acme/checked',
          kind: 'room',
          name: 'checked',
          appliedSeq: 9,
          lastBatchAt: now,
          epoch: 1,
          health: health({ lastVerifiedAt: now - 60000, lastVerifyEqual: false }),
        },
      ],
    };
    const other = await browser.context.newPage();
    await other.route('**/sources?*', (route) =>
      route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answer) }),
    );
    await other.goto(`${server.url}dashboard?every=${EVERY_MS}`);
    await waitFor('the first refresh', async () => (await refreshes(other)) >= 1);
    const bars = await other.$$eval('tr[data-source="room:acme/big"] .copy', (lines) =>
      lines.map((l) => {
        const bar = l.querySelector('progress');
        return [l.dataset.table, bar.value, bar.max, l.textContent.trim()];
      }),
    );
    assert.deepEqual(bars, [
      ['tasks', 40000, 100000, 'tasks 40,000 / 100,000'],
      ['notes', 0, 2500, 'notes 0 / 2,500'],
    ]);
    const state = await other.$eval('tr[data-source="room:acme/big"] .state', (e) => e.textContent);
    assert.equal(state, 'initial sync');
    const verified = await other.$eval(
      'tr[data-source="room:acme/checked"] td[data-field="lastVerifiedAt"]',
      (e) => e.textContent,
    );
    assert.equal(verified, '1 min ago (differs)');
    await other.close();
  });

  test('1,000 sources: a page at a time, one request per refresh as with three', async () => {
    const perRefresh = async () => {
      const from = requests.length;
      const n = await refreshes(page);
      await waitFor('three refreshes', async () => (await refreshes(page)) >= n + 4);
      // Between the first and the fourth refresh drawn: three whole refreshes' requests.
      const seen = requests
        .slice(from)
        .filter((u) => new URL(u).origin === new URL(server.url).origin);
      return seen;
    };
    const withThree = await perRefresh();
    // 997 browser pages beside the three rooms, as D1's bookkeeping holds them.
    const insert = server.d1.prepare(
      `INSERT INTO _d1sync_sources(source_id, incarnation, epoch, applied_seq, last_batch,
         tenant_column, tenant_value, updated_at) VALUES (?, 'inc', 1, ?, 'b', 'room_id', ?, ?)`,
    );
    await server.d1.batch(
      Array.from({ length: 997 }, (_, i) =>
        insert.bind(`device-${String(i).padStart(4, '0')}`, i, "'acme'", Date.now() - i * 1000),
      ),
    );
    await nextFullRefresh(page);
    const withThousand = await perRefresh();
    const sourcesCalls = (list) => list.filter((u) => new URL(u).pathname === '/sources');
    assert.ok(sourcesCalls(withThree).length >= 3 && sourcesCalls(withThree).length <= 4);
    assert.equal(withThousand.length, sourcesCalls(withThousand).length, withThousand.join('\n'));
    assert.ok(
      withThousand.length <= withThree.length + 1,
      `${withThousand.length} requests for 1,000 sources, ${withThree.length} for three`,
    );

    assert.equal(
      Number(await page.getAttribute('#summary [data-field="total"]', 'data-value')),
      1000,
    );
    assert.equal(
      Number(await page.getAttribute('#summary [data-field="clients"]', 'data-value')),
      997,
    );
    assert.equal(await page.$$eval('#sources tr', (r) => r.length), 25);
    assert.equal(await page.textContent('#range'), '1–25 of 1,000');
    const first = await pageRows(page);
    assert.equal(first['device-0000'].state, 'browser');
    await page.click('#next');
    await waitFor(
      'the second page',
      async () => (await page.textContent('#range')) === '26–50 of 1,000',
    );
    assert.ok((await pageRows(page))['device-0025']);
    // Oldest last batch first: the device that last reached D1 996 s ago leads.
    await page.selectOption('#sort', 'stale');
    await waitFor('the stale order', async () => {
      const keys = Object.keys(await pageRows(page));
      return keys[0] === 'device-0996' && (await page.textContent('#range')) === '1–25 of 1,000';
    });
  });
});
