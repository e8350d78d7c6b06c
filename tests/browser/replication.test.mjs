// The task list replicating from a real Chromium into D1 through the template's /d1sync endpoint:
// writes made while the endpoint is unreachable wait in the OPFS outbox and arrive once it
// answers; a reload in the middle of the initial copy resumes it; a browser closed with changes
// pending finishes them after a relaunch with the same profile. D1 is compared with the browser's
// database row for row, each cell by storage class and bytes.
//
// Each test replicates a tenant of its own (room_id = tenant in D1) from a profile of its own.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  servedTemplate,
  TASK_COLUMNS,
  appReady,
  d1TaskCount,
  endpointControl,
  exactRowsSql,
  expectSameInD1,
  health,
  launchBrowser,
  openApp,
  tokenFor,
  waitFor,
  waitSynced,
} from './harness.mjs';
import { mintToken } from '../../tools/mint-token.mjs';

const ALL_ROWS = exactRowsSql('tasks', TASK_COLUMNS);
const OUTBOX = 'SELECT count(*) FROM _d1sync_log';

describe('the task list replicating into D1', () => {
  const served = servedTemplate();
  const profile = () => served.profile();

  // Waits until the page's health satisfies `ok`; returns that health.
  async function healthWhen(page, label, ok) {
    let last;
    return waitFor(
      label,
      async () => {
        last = await health(page);
        return ok(last) && last;
      },
      { describe: () => JSON.stringify(last) },
    );
  }

  test('10,000 rows written while the endpoint is down arrive once it is up', async () => {
    const tenant = 'offline';
    const browser = await launchBrowser(profile());
    try {
      const endpoint = await endpointControl(browser);
      const app = await openApp(browser, served.server.url, {
        token: await tokenFor(tenant, 'tab-1'),
      });
      await waitSynced(app.page); // the initial copy of an empty table
      assert.equal(await d1TaskCount(served.server.d1, tenant), 0);

      endpoint.down = true;
      await app.call('addMany', { count: 10000, prefix: 'offline' });
      const h = await healthWhen(app.page, 'backoff', (x) => x.state === 'backoff');
      assert.equal(h.pendingChanges, 10000);
      assert.ok(h.lastError, 'the failure is reported');
      assert.ok(endpoint.refused > 0);
      // The page shows it too.
      await waitFor(
        'the health panel to show the backlog',
        async () =>
          (await app.page.textContent('#sync-state')) === 'backoff' &&
          (await app.page.textContent('#sync-pending')) === '10000',
      );
      assert.equal(await d1TaskCount(served.server.d1, tenant), 0, 'nothing reached D1 while down');

      endpoint.down = false;
      const done = await waitSynced(app.page);
      assert.equal(done.rowsReplicated >= 10000, true, JSON.stringify(done));
      assert.equal(await expectSameInD1(served.server.d1, app.page, tenant), 10000);
      await waitFor(
        'the health panel to show the backlog gone',
        async () =>
          (await app.page.textContent('#sync-state')) === 'idle' &&
          (await app.page.textContent('#sync-pending')) === '0',
      );
    } finally {
      await browser.close();
    }
  });

  test('verify() from the page: equal after the copy, names a row damaged in D1, repairs it', async () => {
    const tenant = 'verified';
    const browser = await launchBrowser(profile());
    try {
      const app = await openApp(browser, served.server.url, {
        token: await tokenFor(tenant, 'tab-v'),
      });
      await app.call('addMany', { count: 1500, prefix: 'checked' });
      await waitSynced(app.page);
      const clean = await app.call('verify');
      assert.equal(clean.report.equal, true, JSON.stringify(clean.report).slice(0, 500));
      assert.equal(clean.report.tables[0].rowsD1, 1500);
      await served.server.d1
        .prepare("UPDATE tasks SET title = 'damaged' WHERE room_id = ? AND id = 700")
        .bind(tenant)
        .run();
      const found = await app.call('verify');
      assert.deepEqual(
        found.report.tables[0].differences.map((d) => d.key),
        ['700'],
      );
      const fixed = await app.call('verify', { repair: true });
      assert.equal(fixed.report.equal, true);
      assert.equal(await expectSameInD1(served.server.d1, app.page, tenant), 1500);
    } finally {
      await browser.close();
    }
  });

  test('a token the endpoint refuses: the page says so and keeps the tasks; a valid one pasted in syncs them', async () => {
    const tenant = 'token';
    const browser = await launchBrowser(profile());
    try {
      const forged = await mintToken({
        tenant,
        sub: 'tab-4',
        secret: 'not-the-worker-secret-'.repeat(2),
      });
      const app = await openApp(browser, served.server.url, { token: forged });
      await app.call('addMany', { count: 100, prefix: 'unauthorized' });
      const h = await healthWhen(app.page, 'the refusal in health()', (x) =>
        /UNAUTHORIZED/.test(x.lastError ?? ''),
      );
      assert.notEqual(h.state, 'idle');
      await waitFor('the refusal on the page', async () =>
        /UNAUTHORIZED/.test(await app.page.textContent('#sync-error')),
      );
      assert.equal(await d1TaskCount(served.server.d1, tenant), 0);

      await app.page.click('summary');
      await app.page.fill('#token', await tokenFor(tenant, 'tab-4'));
      await app.page.click('#token-form button[type=submit]');
      await waitSynced(app.page);
      assert.equal(await expectSameInD1(served.server.d1, app.page, tenant), 100);
      await waitFor(
        'the error gone from the page',
        async () => (await app.page.textContent('#sync-error')) === '',
      );
    } finally {
      await browser.close();
    }
  });

  // What the reload test saw, for the test after it: rows D1 wrote per apply answer, before
  // and after the reload, and how many rows D1 held when the page reloaded.
  let reload = null;

  test('a reload in the middle of the initial copy: the copy finishes, nothing lost or doubled', async () => {
    const tenant = 'reload';
    const total = 60000;
    const browser = await launchBrowser(profile());
    try {
      const endpoint = await endpointControl(browser);
      // The rows are there before replication starts, so they travel by the initial copy.
      let app = await openApp(browser, served.server.url);
      await app.call('addMany', { count: total, prefix: 'copied' });
      await app.call('remove', { id: 12345 });
      await app.call('add', { title: 'the last one, ünïcode ✓' });

      const written = { before: 0, after: 0 };
      let reloaded = false;
      browser.context.on('requestfinished', async (request) => {
        if (!new URL(request.url()).pathname.endsWith('/d1sync/apply')) return;
        const answer = await (await request.response())?.json().catch(() => null);
        if (answer?.applied && !answer.replayed) {
          written[reloaded ? 'after' : 'before'] += answer.rowsWritten;
        }
      });

      // Two applies reach D1, the third stays in flight; the page reloads under it.
      endpoint.holdAfter(2);
      app = await openApp(browser, served.server.url, { token: await tokenFor(tenant, 'tab-2') });
      await waitFor('an apply held in flight', () => endpoint.held > 0);
      const copied = await d1TaskCount(served.server.d1, tenant);
      assert.ok(copied > 0 && copied < total, `D1 holds ${copied} of ${total} rows at the reload`);
      const h = await health(app.page);
      assert.equal(h.state, 'initial_sync', JSON.stringify(h));
      assert.equal(h.initialSync.done, false);

      reloaded = true;
      const writtenBefore = written.before;
      await app.page.reload();
      endpoint.release();
      await appReady(app.page, browser.log);
      await waitSynced(app.page);

      assert.equal(await expectSameInD1(served.server.d1, app.page, tenant), total);
      assert.equal(await d1TaskCount(served.server.d1, tenant), total);
      reload = { total, copied, writtenBefore, written };
    } finally {
      await browser.close();
    }
  });

  test('a reload in the middle of the initial copy resumes the copy where it stopped', () => {
    assert.ok(reload, 'the reload test ran');
    const { total, copied, writtenBefore, written } = reload;
    // After the reload D1 wrote about what was left (with one apply's worth of slack, for the
    // one in flight), not the whole table again. Rows written are counted as D1 counts them.
    const perRow = writtenBefore / copied;
    const perApply = writtenBefore / 2;
    assert.ok(
      written.after <= perRow * (total - copied) + perApply,
      `D1 wrote ${written.after} rows after the reload, ${writtenBefore} for the ` +
        `${copied} rows copied before it`,
    );
  });

  test('closed with changes pending, relaunched with the same profile: the outbox survives and syncs', async () => {
    const tenant = 'relaunch';
    const dir = profile();
    let rows;
    let pending;
    let browser = await launchBrowser(dir);
    try {
      const endpoint = await endpointControl(browser);
      const app = await openApp(browser, served.server.url, {
        token: await tokenFor(tenant, 'tab-3'),
      });
      await app.call('addMany', { count: 2000, prefix: 'synced' });
      await waitSynced(app.page);
      assert.equal(await expectSameInD1(served.server.d1, app.page, tenant), 2000);

      endpoint.down = true;
      await app.call('addMany', { count: 3000, prefix: 'pending' });
      for (const id of [1, 2, 3, 1999, 2500]) await app.call('toggle', { id });
      for (const id of [4, 5, 4999]) await app.call('remove', { id });
      await app.call('add', { title: "written offline, it's ✓" });
      const h = await healthWhen(app.page, 'backoff', (x) => x.state === 'backoff');
      pending = h.pendingChanges;
      assert.ok(pending > 0, JSON.stringify(h));
      rows = await app.call('query', { sql: ALL_ROWS });
      assert.equal(rows.length, 2000 + 3000 - 3 + 1);
      assert.ok((await app.call('query', { sql: OUTBOX }))[0][0] >= pending);
      assert.equal(await d1TaskCount(served.server.d1, tenant), 2000);
    } finally {
      await browser.close();
    }

    browser = await launchBrowser(dir);
    try {
      // Still down at first: what the relaunched page holds is what the closed one left.
      const endpoint = await endpointControl(browser);
      endpoint.down = true;
      const app = await openApp(browser, served.server.url); // the token comes from localStorage
      assert.deepEqual(await app.call('query', { sql: ALL_ROWS }), rows);
      const h = await healthWhen(
        app.page,
        'backoff after the relaunch',
        (x) => x.state === 'backoff',
      );
      assert.equal(h.pendingChanges, pending);
      assert.equal(h.sourceId, 'tab-3');
      assert.equal(await d1TaskCount(served.server.d1, tenant), 2000);

      endpoint.down = false;
      await waitSynced(app.page);
      assert.equal(await expectSameInD1(served.server.d1, app.page, tenant), rows.length);
    } finally {
      await browser.close();
    }
  });
});
