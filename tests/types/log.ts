// The `log` option and its events: levels by name, off, or a function that narrows each event
// by its name; what is not a level or a function is refused.
import { createReplicator, type LogEvent, type LogLevel, type Source, type Target } from 'd1sync';
import { expectExact, expectType } from './helpers.js';

declare const source: Source;
declare const target: Target;

for (const log of ['warn', 'info', 'debug', false] as const) {
  await createReplicator({ source, target, sourceId: 'room-42', log });
}
expectExact<LogLevel, 'warn' | 'info' | 'debug'>(true);

const seen: string[] = [];
await createReplicator({
  source,
  target,
  sourceId: 'room-42',
  log: (e) => {
    expectType<LogLevel>(e.level);
    expectType<string>(e.sourceId);
    switch (e.event) {
      case 'batch':
        expectType<number>(e.rows + e.statements + e.bytes + e.ms);
        expectType<number[] | undefined>(e.statementBytes);
        break;
      case 'retry':
        expectType<number>(e.delayMs + e.attempt);
        break;
      case 'quarantined':
        expectType<string>(e.table);
        // @ts-expect-error a quarantined event names the table, never the key
        void e.key;
        break;
      case 'progress':
        expectType<number>(e.percent);
        break;
      case 'schema':
        expectType<string[]>(e.tables);
        break;
      default:
        break;
    }
    seen.push(JSON.stringify(e));
  },
});

const sink = (event: LogEvent): void => void seen.push(event.event);
await createReplicator({ source, target, sourceId: 'room-42', log: sink });

// @ts-expect-error log levels are words, not true
await createReplicator({ source, target, sourceId: 'room-42', log: true });
// @ts-expect-error 'error' is not a level: failures are logged at 'warn'
await createReplicator({ source, target, sourceId: 'room-42', log: 'error' });
// @ts-expect-error a logger object is not a function
await createReplicator({ source, target, sourceId: 'room-42', log: console });
