// Test entry for tests/template/*.test.mjs: the worker-template exactly as shipped, except that
// its Durable Object sees a D1 binding that can be made to fail, as D1 does when overloaded.
//
//   POST /__fault/:tenant/:room   {"on": bool, "untilAlarm"?: bool}   switch the room's D1 fault
//                         on/off; with untilAlarm the fault is switched off as the room's next
//                         alarm() begins, before the template's alarm code runs
//   GET  /__fault/:tenant/:room   { on, untilAlarm, batches, ok, thrown, alarms, alarmBatches,
//                                   alarmBatchesOk, cleared, alarmAt }
//
// These test controls take no token; every other request goes to the template's Worker
// unchanged, authentication included. The flags live in the room's
// storage (so they survive the object being evicted); the counters live in memory.
import { Room as TemplateRoom, default as worker } from '../../worker-template/src/index.ts';

const OVERLOADED = 'D1 DB is overloaded. Too many requests queued.';
const FAULT_KEY = '__test_d1_fault';
const UNTIL_ALARM_KEY = '__test_d1_fault_until_alarm';
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

// Wraps a D1 binding: prepare() passes through; batch() throws D1's overload error while the
// room's fault flag is set. `stats` counts what happened, for the tests to look at.
function faultyD1(db, storage, stats) {
  return {
    prepare: (sql) => db.prepare(sql),
    async batch(statements) {
      ++stats.batches;
      if (stats.inAlarm) ++stats.alarmBatches;
      if (await storage.get(FAULT_KEY)) {
        ++stats.thrown;
        throw new Error(OVERLOADED);
      }
      const results = await db.batch(statements);
      ++stats.ok;
      if (stats.inAlarm) ++stats.alarmBatchesOk;
      return results;
    },
    exec: (sql) => db.exec(sql),
  };
}

export class Room extends TemplateRoom {
  #stats;

  constructor(ctx, env) {
    const stats = {
      batches: 0,
      ok: 0,
      thrown: 0,
      alarms: 0,
      alarmBatches: 0,
      alarmBatchesOk: 0,
      cleared: null,
      inAlarm: false,
    };
    super(ctx, { ...env, DB: faultyD1(env.DB, ctx.storage, stats) });
    this.#stats = stats;
  }

  async alarm(info) {
    ++this.#stats.alarms;
    this.#stats.inAlarm = true;
    if (await this.ctx.storage.get(UNTIL_ALARM_KEY)) {
      await this.ctx.storage.delete([FAULT_KEY, UNTIL_ALARM_KEY]);
      // The counters as they were when D1 came back.
      const { inAlarm, cleared, ...stats } = this.#stats;
      this.#stats.cleared = stats;
    }
    try {
      return await super.alarm(info);
    } finally {
      this.#stats.inAlarm = false;
    }
  }

  async setFault(on, untilAlarm = false) {
    await this.ctx.storage.put({
      [FAULT_KEY]: Boolean(on),
      [UNTIL_ALARM_KEY]: Boolean(on && untilAlarm),
    });
    return this.faultInfo();
  }

  async faultInfo() {
    const { inAlarm, ...stats } = this.#stats;
    return {
      on: Boolean(await this.ctx.storage.get(FAULT_KEY)),
      untilAlarm: Boolean(await this.ctx.storage.get(UNTIL_ALARM_KEY)),
      ...stats,
      alarmAt: await this.ctx.storage.getAlarm(),
    };
  }
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === '__fault' && parts.length === 3) {
      if (!NAME.test(parts[1]) || !NAME.test(parts[2])) {
        return Response.json({ error: 'bad tenant or room' }, { status: 400 });
      }
      // The template names a room's Durable Object by its room_id, `tenant/room`.
      const stub = env.ROOMS.get(env.ROOMS.idFromName(`${parts[1]}/${parts[2]}`));
      if (request.method === 'POST') {
        const { on, untilAlarm } = await request.json();
        return Response.json(await stub.setFault(on, untilAlarm));
      }
      return Response.json(await stub.faultInfo());
    }
    return worker.fetch(request, env, ctx);
  },
};
