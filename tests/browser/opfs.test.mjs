// The task list in a real Chromium: the page loads from the template's static assets, its Web
// Worker opens sqlite-wasm on OPFS (opfs-sahpool), and what it wrote survives a reload and a
// full browser close + relaunch with the same profile.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  servedTemplate,
  TASK_COLUMNS,
  appReady,
  call,
  exactRowsSql,
  launchBrowser,
  opfsListing,
  openApp,
  waitFor,
} from './harness.mjs';

const ALL_ROWS = exactRowsSql('tasks', TASK_COLUMNS);

describe('the task list on OPFS', () => {
  const served = servedTemplate();
  const profile = () => served.profile();

  test('the page loads and its worker opens the database on OPFS', async () => {
    const browser = await launchBrowser(profile());
    try {
      const { page, info } = await openApp(browser, served.server.url);
      assert.equal(info.vfs, 'opfs-sahpool');
      assert.ok(info.vfsList.includes('opfs-sahpool'), `VFSes: ${info.vfsList}`);
      assert.deepEqual(info.poolFiles, ['/tasks.sqlite3']);
      // No COOP/COEP headers are served: opfs-sahpool does not need SharedArrayBuffer.
      assert.equal(info.crossOriginIsolated, false);
      const opfs = await opfsListing(page);
      assert.equal(opfs['/.opfs-sahpool'], 'dir', JSON.stringify(opfs));
      assert.ok(
        Object.keys(opfs).some((p) => p.startsWith('/.opfs-sahpool/') && opfs[p] > 0),
        `the pool holds files: ${JSON.stringify(opfs)}`,
      );
      await waitFor('the status line', async () =>
        (await page.textContent('#db-status')).includes('opfs-sahpool'),
      );

      // Through the UI: add, toggle, delete.
      await page.fill('#title', 'water the plants');
      await page.press('#title', 'Enter');
      await page.fill('#title', 'buy milk');
      await page.click('#add button[type=submit]');
      await page.waitForSelector('#tasks li:nth-child(2)');
      assert.deepEqual(await page.locator('#tasks .title').allTextContents(), [
        'water the plants',
        'buy milk',
      ]);
      await page.check('#tasks li:nth-child(1) input[type=checkbox]');
      await page.waitForSelector('#tasks li.done');
      await page.click('#tasks li:nth-child(2) button.remove');
      await waitFor('one task left', async () => (await page.locator('#tasks li').count()) === 1);
      const rows = await call(page, 'list');
      assert.equal(rows.length, 1);
      assert.equal(rows[0].title, 'water the plants');
      assert.equal(rows[0].done, 1);
      assert.equal(await page.textContent('#count'), '1 task, 0 open');

      // Without a token nothing replicates, and the page says so.
      const health = await call(page, 'health');
      assert.equal(health.state, 'local');
      await waitFor(
        'the health panel',
        async () => (await page.textContent('#sync-state')) === 'local',
      );
    } finally {
      await browser.close();
    }
  });

  test('rows survive reloads of the page', async () => {
    const browser = await launchBrowser(profile());
    try {
      const app = await openApp(browser, served.server.url);
      await app.call('add', { title: 'before reload' });
      await app.call('addMany', { count: 2000, prefix: 'bulk' });
      await app.call('toggle', { id: 1 });
      let written = await app.call('query', { sql: ALL_ROWS });
      assert.equal(written.length, 2001);
      // Reloads in a row: each new worker waits for the old one's lock and access handles.
      for (let i = 0; i < 3; ++i) {
        await app.page.reload();
        await appReady(app.page, browser.log);
        assert.deepEqual(
          await app.call('query', { sql: ALL_ROWS }),
          written,
          `after reload ${i + 1}`,
        );
        await app.call('add', { title: `after reload ${i + 1}` });
        const now = await app.call('query', { sql: ALL_ROWS });
        assert.deepEqual(now.slice(0, -1), written);
        written = now;
      }
      await app.page.reload();
      await appReady(app.page, browser.log);
      assert.deepEqual(await app.call('query', { sql: ALL_ROWS }), written);
      assert.equal(await app.page.locator('#tasks li').count(), 2004);
    } finally {
      await browser.close();
    }
  });

  test('rows survive closing the browser and relaunching it with the same profile', async () => {
    const dir = profile();
    let written;
    let browser = await launchBrowser(dir);
    try {
      const app = await openApp(browser, served.server.url);
      await app.call('addMany', { count: 5000, prefix: 'kept' });
      await app.call('remove', { id: 17 });
      await app.call('add', { title: "it's the last one — ünïcode ✓" });
      written = await app.call('query', { sql: ALL_ROWS });
      assert.equal(written.length, 5000);
    } finally {
      await browser.close();
    }

    browser = await launchBrowser(dir);
    try {
      const app = await openApp(browser, served.server.url);
      assert.deepEqual(await app.call('query', { sql: ALL_ROWS }), written);
      assert.equal((await app.call('list')).at(-1).title, "it's the last one — ünïcode ✓");
    } finally {
      await browser.close();
    }

    // Another profile has an OPFS of its own: what persisted lives in the profile.
    browser = await launchBrowser(profile());
    try {
      const app = await openApp(browser, served.server.url);
      assert.deepEqual(await app.call('list'), []);
    } finally {
      await browser.close();
    }
  });

  test('a second tab waits for the first to close the database, then sees its rows', async () => {
    const browser = await launchBrowser(profile());
    try {
      const first = await openApp(browser, served.server.url);
      await first.call('addMany', { count: 10, prefix: 'first tab' });
      const second = await browser.context.newPage();
      await second.goto(served.server.url);
      await waitFor('the second tab to wait', async () =>
        (await second.textContent('#db-status')).includes('another tab'),
      );
      await first.page.close();
      await appReady(second, browser.log);
      const rows = await call(second, 'list');
      assert.equal(rows.length, 10);
      assert.equal(rows[9].title, 'first tab 10');
    } finally {
      await browser.close();
    }
  });
});
