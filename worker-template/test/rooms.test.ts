// The template inside workerd, through its own fetch handler: a room's task reaches D1, a
// room's health has d1sync's shape, and nothing is served without a valid token.
import { env, exports } from 'cloudflare:workers';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Task } from '../src/index';

// A token as auth.ts accepts it: HS256 with the Worker's AUTH_SECRET, naming a tenant.
async function token(tenant: string, sub = 'vitest'): Promise<string> {
  return new SignJWT({ tenant, sub })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(env.AUTH_SECRET));
}

async function call(
  method: string,
  path: string,
  { bearer, body }: { bearer?: string; body?: unknown } = {},
): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
  return exports.default.fetch(
    new Request(`https://rooms.test${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

// Polls the room's health until everything captured is in D1.
async function synced(bearer: string, room: string): Promise<Record<string, unknown>> {
  for (;;) {
    const health: Record<string, unknown> = await (
      await call('GET', `/rooms/${room}/health`, { bearer })
    ).json();
    if (health.state === 'idle' && health.pendingChanges === 0) return health;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the template in workerd', () => {
  it('puts added and changed tasks into D1 once the room has synced, under tenant/room', async () => {
    const bearer = await token('acme');
    const add = async (title: string): Promise<Task> => {
      const res = await call('POST', '/rooms/kitchen/tasks', { bearer, body: { title } });
      expect(res.status).toBe(201);
      return res.json();
    };
    const milk = await add('milk');
    expect(milk).toMatchObject({ title: 'milk', done: 0 });
    await synced(bearer, 'kitchen'); // the first write starts the room's replicator
    // Later writes stream: each is flushed to D1 right after it is made.
    const bread = await add('bread');
    const patched = await call('PATCH', `/rooms/kitchen/tasks/${milk.id}`, {
      bearer,
      body: { done: true },
    });
    expect(patched.status).toBe(200);
    await synced(bearer, 'kitchen');

    const room: Task[] = await (await call('GET', '/rooms/kitchen/tasks', { bearer })).json();
    expect(room.map((t) => [t.id, t.title, t.done])).toEqual([
      [milk.id, 'milk', 1],
      [bread.id, 'bread', 0],
    ]);
    const expected = room.map((t) => ({ room_id: 'acme/kitchen', ...t }));
    const { results } = await env.DB.prepare(
      'SELECT room_id, id, title, done, updated_at FROM tasks WHERE room_id = ? ORDER BY id',
    )
      .bind('acme/kitchen')
      .all();
    expect(results).toEqual(expected);
    // GET /tasks answers from D1: the same rows.
    expect(await (await call('GET', '/tasks?room=kitchen', { bearer })).json()).toEqual(expected);
  });

  it("reports a room's replication health in d1sync's shape", async () => {
    const bearer = await token('acme');
    await call('POST', '/rooms/hall/tasks', { bearer, body: { title: 'lamp' } });
    const health = await synced(bearer, 'hall');
    expect(health).toMatchObject({
      state: 'idle',
      healthy: true,
      sourceId: 'room:acme/hall',
      pendingChanges: 0,
      lastError: null,
      rowsReplicated: 1,
      initialSync: { done: true },
    });
    for (const key of ['lagMs', 'appliedSeq', 'batchesSent', 'nextRetryAt', 'warnings']) {
      expect(health).toHaveProperty(key);
    }
  });

  it('answers 401 to every route without a token or with a token signed otherwise', async () => {
    const forged = await new SignJWT({ tenant: 'acme', sub: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-that-is-long-enough-for-hs256'));
    for (const [method, path, body] of [
      ['POST', '/rooms/porch/tasks', { title: 'intruder' }],
      ['GET', '/rooms/porch/tasks'],
      ['GET', '/rooms/porch/health'],
      ['GET', '/tasks'],
      ['GET', '/metrics'],
    ] as const) {
      for (const bearer of [undefined, forged]) {
        const res = await call(method, path, { bearer, body });
        expect(res.status, `${method} ${path}`).toBe(401);
        const { error } = await res.json<{ error: { code: string } }>();
        expect(error.code).toBe('UNAUTHORIZED');
      }
    }
    // Nothing was written: the room is empty to its own tenant.
    const listed = await call('GET', '/rooms/porch/tasks', { bearer: await token('acme') });
    expect(await listed.json()).toEqual([]);
  });
});
