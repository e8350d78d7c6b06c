// GET /sources: one page of the tenant's replication sources as D1 knows them (d1sync's
// _d1sync_sources), each room with its Durable Object's health. It is what the dashboard
// (public/dashboard.html) draws, one request per refresh whatever the number of sources: D1
// answers the count and the page in one batch, and only the rooms on the page are asked for
// their health.
//
// A room's sourceId is `room:tenant/room` and its rows sit under room_id `tenant/room`; a
// browser page's sourceId is its device (the token's subject) and its rows sit under the bare
// tenant. A browser's queue lives in the browser, so for a page D1's side is all there is:
// when its last batch landed and the sequence it reached.
import type { RoomHealth } from './index';

export type SourceKind = 'room' | 'client';

export interface SourceRow {
  sourceId: string;
  kind: SourceKind;
  /** The room's name, or the browser's device id. */
  name: string;
  /** D1's side: the outbox sequence the source's batches reached, and when the last landed. */
  appliedSeq: number;
  lastBatchAt: number;
  epoch: number;
  /** A room's health() (null for a browser page, whose health only it knows). */
  health: RoomHealth | null;
}

export interface SourcesPage {
  now: number;
  total: number;
  rooms: number;
  clients: number;
  offset: number;
  limit: number;
  sort: SourcesQuery['sort'];
  sources: SourceRow[];
}

export interface SourcesQuery {
  offset: number;
  limit: number;
  /** 'name': a stable order; 'stale': the sources whose last batch is oldest first. */
  sort: 'name' | 'stale';
}

export const MAX_SOURCES_PER_PAGE = 100;

// ?offset=&limit=&sort=, or what is wrong with them.
export function sourcesQuery(url: URL): SourcesQuery | string {
  const whole = (name: string, fallback: number): number => {
    const text = url.searchParams.get(name);
    return text === null ? fallback : /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  };
  const offset = whole('offset', 0);
  const limit = whole('limit', 25);
  const sort = url.searchParams.get('sort') ?? 'name';
  if (!Number.isInteger(offset)) return 'offset must be a whole number';
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SOURCES_PER_PAGE) {
    return `limit must be 1-${MAX_SOURCES_PER_PAGE}`;
  }
  if (sort !== 'name' && sort !== 'stale') return "sort must be 'name' or 'stale'";
  return { offset, limit, sort };
}

interface SourceRecord {
  source_id: string;
  tenant_value: string;
  applied_seq: number;
  updated_at: number;
  epoch: number;
}

// `range` holds the tenant's rooms' room_ids (tenantRange in index.ts: ['t/', 't0')).
export async function sourcesPage(
  db: D1Database,
  tenant: string,
  range: { from: string; to: string },
  q: SourcesQuery,
  roomHealth: (roomId: string) => Promise<RoomHealth>,
): Promise<SourcesPage> {
  // tenant_value is the tenant as an SQL literal ('acme', 'acme/kitchen'); names never hold quotes.
  const where = `tenant_column = 'room_id' AND (tenant_value = ?1 OR (tenant_value >= ?2 AND tenant_value < ?3))`;
  const args = [`'${tenant}'`, `'${range.from}`, `'${range.to}`];
  const order = q.sort === 'stale' ? 'updated_at, source_id' : 'source_id';
  let counts: { total: number; clients: number | null } = { total: 0, clients: 0 };
  let records: SourceRecord[] = [];
  try {
    const [count, page] = await db.batch([
      db
        .prepare(
          `SELECT count(*) AS total, sum(tenant_value = ?1) AS clients FROM _d1sync_sources WHERE ${where}`,
        )
        .bind(...args),
      db
        .prepare(
          `SELECT source_id, tenant_value, applied_seq, updated_at, epoch FROM _d1sync_sources
            WHERE ${where} ORDER BY ${order} LIMIT ?4 OFFSET ?5`,
        )
        .bind(...args, q.limit, q.offset),
    ]);
    counts = (count.results[0] as typeof counts | undefined) ?? counts;
    records = page.results as unknown as SourceRecord[];
  } catch (e) {
    // Nothing replicated yet: D1 has no _d1sync_sources.
    if (!/no such table/.test(String((e as Error)?.message))) throw e;
  }
  const sources = await Promise.all(
    records.map(async (r): Promise<SourceRow> => {
      const partition = r.tenant_value.slice(1, -1);
      const isRoom = partition !== tenant;
      let health: RoomHealth | null = null;
      if (isRoom) {
        health = await roomHealth(partition).catch((e: unknown) => ({
          state: 'error' as const,
          healthy: false as const,
          lastError: `the room did not answer: ${String((e as Error)?.message ?? e)}`,
        }));
      }
      return {
        sourceId: r.source_id,
        kind: isRoom ? 'room' : 'client',
        name: isRoom ? partition.slice(tenant.length + 1) : r.source_id,
        appliedSeq: r.applied_seq,
        lastBatchAt: r.updated_at,
        epoch: r.epoch,
        health,
      };
    }),
  );
  const total = counts.total ?? 0;
  const clients = counts.clients ?? 0;
  return {
    now: Date.now(),
    total,
    rooms: total - clients,
    clients,
    offset: q.offset,
    limit: q.limit,
    sort: q.sort,
    sources,
  };
}
