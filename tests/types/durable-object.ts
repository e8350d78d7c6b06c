// The README's Durable Object, typed: a room owning its tasks, replicating into a shared D1
// table under its own tenant value, the alarm retrying what D1 refused for the moment.
import {
  createReplicator,
  D1SyncError,
  d1BindingTarget,
  durableObjectSource,
  type Health,
  type Replicator,
} from 'd1sync';
import type { DurableObjectState, Env } from './cloudflare.js';

export class Room {
  sync!: Replicator;

  constructor(
    private readonly ctx: DurableObjectState,
    env: Env,
  ) {
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        'CREATE TABLE IF NOT EXISTS tasks(id INTEGER PRIMARY KEY, title TEXT, done INTEGER)',
      );
      this.sync = await createReplicator({
        source: durableObjectSource(ctx.storage),
        target: d1BindingTarget(env.DB),
        sourceId: ctx.id.toString(),
        tenant: { column: 'room_id', value: ctx.id.toString() },
      });
      await this.sync.start();
    });
  }

  async addTask(title: string): Promise<void> {
    this.ctx.storage.sql.exec('INSERT INTO tasks(title, done) VALUES (?, 0)', title);
    this.sync.flush().catch(() => {});
    await this.ctx.storage.setAlarm(this.sync.nextRetryAt() ?? Date.now() + 60_000);
  }

  async alarm(): Promise<void> {
    try {
      await this.sync.onAlarm();
    } catch (e) {
      // Only what stops the engine for good reaches here; FENCED means another database won.
      if (e instanceof D1SyncError && e.code === 'FENCED') return;
      throw e;
    }
    const next = this.sync.nextRetryAt();
    if (next) await this.ctx.storage.setAlarm(next);
  }

  getSyncStatus(): Health {
    return this.sync.health();
  }
}
