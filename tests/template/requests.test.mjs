// The worker-template's HTTP surface inside workerd: bad requests get a 4xx with a JSON
// { error: { code, message } } body, and change nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertD1MatchesRoom, startTemplate, waitIdle } from './helpers.mjs';

describe('worker-template: bad requests', () => {
  let t;
  let task;
  const ROOM = 'req-room';
  before(async () => {
    t = await startTemplate();
    task = await t.api.addTask(ROOM, 'the one task');
    await waitIdle(t.api, [ROOM]);
  });
  after(async () => {
    await t?.dispose();
  });

  const CODES = { 400: 'BAD_REQUEST', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED' };

  // Sends the request and checks the status and that the body is JSON
  // { error: { code, message } } with the status's code.
  async function refused(status, method, url, body, options) {
    const res = await t.api.call(method, url, body, options);
    const sent =
      options?.raw !== undefined ? JSON.stringify(options.raw) : (JSON.stringify(body) ?? '');
    const what = `${method} ${url} ${sent.length > 60 ? `${sent.slice(0, 60)}...` : sent}`;
    assert.equal(res.status, status, `${what}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
    assert.match(
      res.headers.get('content-type') ?? '',
      /application\/json/,
      `${what}: content-type`,
    );
    assert.equal(typeof res.body, 'object', `${what}: body ${res.text}`);
    assert.deepEqual(Object.keys(res.body), ['error'], `${what}: body ${res.text}`);
    const { code, message, ...rest } = res.body.error ?? {};
    assert.deepEqual(rest, {}, `${what}: body ${res.text}`);
    assert.equal(code, CODES[status], `${what}: code`);
    assert.equal(typeof message, 'string', `${what}: body ${res.text}`);
    assert.ok(message.length > 0, `${what}: empty message`);
    return message;
  }

  test('malformed or non-object JSON bodies are 400', async () => {
    for (const raw of [
      '{"title": ',
      'not json',
      '',
      '[{"title":"x"}]',
      'null',
      '"a title"',
      '42',
    ]) {
      await refused(400, 'POST', `/rooms/${ROOM}/tasks`, undefined, { raw });
      await refused(400, 'PATCH', `/rooms/${ROOM}/tasks/${task.id}`, undefined, { raw });
    }
  });

  test('a missing, empty or oversized title is 400', async () => {
    for (const body of [
      {},
      { title: '' },
      { title: '   ' },
      { title: null },
      { title: 7 },
      { title: ['x'] },
      { name: 'x' },
      { title: 'x'.repeat(501) },
    ]) {
      await refused(400, 'POST', `/rooms/${ROOM}/tasks`, body);
    }
    await t.api.addTask('req-limit', 'x'.repeat(500)); // the limit itself is fine
    for (const body of [
      {},
      { title: '' },
      { title: ' ' },
      { title: 1 },
      { done: 'yes' },
      { done: 1 },
      { done: null },
      { title: 'x'.repeat(501) },
      { other: true },
    ]) {
      await refused(400, 'PATCH', `/rooms/${ROOM}/tasks/${task.id}`, body);
    }
  });

  test('bad room ids are 400', async () => {
    const long = 'r'.repeat(65);
    for (const id of [
      'bad.room',
      'a%20b',
      long,
      'a%2Fb',
      '%C3%BC',
      "o'reilly",
      '%ZZ',
      '%E0%A4%A',
    ]) {
      await refused(400, 'GET', `/rooms/${id}/tasks`);
      await refused(400, 'POST', `/rooms/${id}/tasks`, { title: 'x' });
      await refused(400, 'GET', `/rooms/${id}/health`);
    }
    await t.api.listTasks('r'.repeat(64)); // 64 characters are allowed
  });

  test('bad task ids are 400', async () => {
    for (const id of [
      'abc',
      '0',
      '-1',
      '1.5',
      '1e3',
      '9007199254740993',
      '%20',
      '0x10',
      '+5',
      ' 7',
      '0b1',
    ]) {
      await refused(400, 'PATCH', `/rooms/${ROOM}/tasks/${id}`, { done: true });
      await refused(400, 'DELETE', `/rooms/${ROOM}/tasks/${id}`);
    }
  });

  test('PATCH and DELETE of a task that does not exist are 404', async () => {
    await refused(404, 'PATCH', `/rooms/${ROOM}/tasks/424242`, { done: true });
    await refused(404, 'DELETE', `/rooms/${ROOM}/tasks/424242`);
    await refused(404, 'PATCH', '/rooms/empty-room/tasks/1', { title: 'x' });
    await refused(404, 'DELETE', '/rooms/empty-room/tasks/1');
    // A task deleted once is gone the second time.
    const doomed = await t.api.addTask(ROOM, 'doomed');
    await t.api.deleteTask(ROOM, doomed.id);
    await refused(404, 'DELETE', `/rooms/${ROOM}/tasks/${doomed.id}`);
    await refused(404, 'PATCH', `/rooms/${ROOM}/tasks/${doomed.id}`, { done: true });
  });

  test('unknown routes are 404', async () => {
    for (const url of [
      '/',
      '/nope',
      '/rooms',
      `/rooms/${ROOM}`,
      `/rooms/${ROOM}/nope`,
      `/rooms/${ROOM}/tasks/1/extra`,
      `/rooms/${ROOM}/health/x`,
      '/tasks/1',
      '/metrics/x',
    ]) {
      await refused(404, 'GET', url);
    }
  });

  test('wrong methods on existing routes are 405', async () => {
    const cases = [
      ['PUT', `/rooms/${ROOM}/tasks`],
      ['DELETE', `/rooms/${ROOM}/tasks`],
      ['GET', `/rooms/${ROOM}/tasks/${task.id}`],
      ['POST', `/rooms/${ROOM}/tasks/${task.id}`],
      ['PUT', `/rooms/${ROOM}/tasks/${task.id}`],
      ['POST', `/rooms/${ROOM}/health`],
      ['DELETE', `/rooms/${ROOM}/health`],
      ['GET', `/rooms/${ROOM}/resync`],
      ['PUT', `/rooms/${ROOM}/resync`],
      ['POST', '/tasks'],
      ['DELETE', '/tasks'],
      ['POST', '/metrics'],
      ['PUT', '/metrics'],
    ];
    for (const [method, url] of cases)
      await refused(405, method, url, method === 'GET' ? undefined : {});
  });

  test('bad GET /tasks query parameters are 400', async () => {
    for (const query of [
      'done=2',
      'done=true',
      'done=',
      'done=-1',
      'room=bad.room',
      'room=',
      `room=${'r'.repeat(65)}`,
      'limit=0',
      'limit=1001',
      'limit=-5',
      'limit=abc',
      'limit=1.5',
      'limit=',
      'limit=1e2',
      'limit=0x10',
      'limit=+5',
      'done=1&limit=0',
    ]) {
      await refused(400, 'GET', `/tasks?${query}`);
    }
    // The good forms answer.
    assert.deepEqual(await t.api.expect(200, 'GET', `/tasks?room=${ROOM}&done=0&limit=1000`), [
      { room_id: t.api.roomId(ROOM), ...task },
    ]);
    assert.equal((await t.api.expect(200, 'GET', '/tasks?limit=1')).length, 1);
  });

  test('the refused requests changed nothing, here or in D1', async () => {
    assert.deepEqual(await t.api.listTasks(ROOM), [task]);
    assert.deepEqual(await t.api.listTasks('empty-room'), []);
    await waitIdle(t.api, [ROOM]);
    await assertD1MatchesRoom(t.mf, t.api, ROOM);
    const db = await t.mf.getD1Database('DB');
    const { results } = await db
      .prepare('SELECT room_id, count(*) AS n FROM tasks GROUP BY 1 ORDER BY 1')
      .all();
    assert.deepEqual(
      results.filter((r) => r.room_id !== t.api.roomId('req-limit')),
      [{ room_id: t.api.roomId(ROOM), n: 1 }],
    );
  });
});
