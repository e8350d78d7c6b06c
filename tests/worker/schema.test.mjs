// Schema features and schema changes inside a Durable Object (DO SQLite refuses some PRAGMAs and
// statements that plain SQLite accepts, so these run where the engine really runs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertReplicated, dumpD1, room, startMiniflare } from './harness.mjs';

const text = (cell) => Buffer.from(cell.hex, 'hex').toString();
const hexOf = (s) => Buffer.from(String(s)).toString('hex').toUpperCase();

async function d1Tables(mf) {
  const db = await mf.getD1Database('DB');
  const { results } = await db
    .prepare(
      `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'
       AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_d1sync\\_%' ESCAPE '\\'
     ORDER BY name`,
    )
    .all();
  return results.map((row) => row.name);
}

describe('schema inside a Durable Object', () => {
  let mf;
  before(async () => {
    mf = await startMiniflare();
  });
  after(async () => {
    await mf?.dispose();
  });

  test('awkward identifiers, generated columns, AUTOINCREMENT and composite keys', async () => {
    const r = room(mf, 'identifiers');
    await r.configure({
      sourceId: 'identifiers',
      schema: [
        'CREATE TABLE "order"("select" INTEGER, "we ""quote"" it" TEXT, "ünï cødé" REAL, ' +
          'PRIMARY KEY ("select", "we ""quote"" it"))',
        'CREATE TABLE gen(id INTEGER PRIMARY KEY AUTOINCREMENT, a INTEGER, ' +
          'twice INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL, ' +
          "label TEXT GENERATED ALWAYS AS ('#' || a) STORED)",
      ],
    });
    await r.exec(
      `INSERT INTO "order" VALUES (1, 'a''b', 1.25), (1, 'a"b', 2.5), (2, '', NULL)`,
      `INSERT INTO gen(a) VALUES (1), (2), (3)`,
      `DELETE FROM gen WHERE id = 3`,
      `INSERT INTO gen(a) VALUES (40)`, // id 4: AUTOINCREMENT never reuses 3
    );
    const f = await r.flush();
    assert.equal(f.flushed, true, JSON.stringify(f.error));
    const order = await assertReplicated(mf, r, {
      table: 'order',
      columns: ['select', 'we "quote" it', 'ünï cødé'],
      orderBy: ['select', 'we "quote" it'],
    });
    assert.equal(order.length, 3);
    const gen = await assertReplicated(mf, r, {
      table: 'gen',
      columns: ['id', 'a', 'twice', 'label'],
    });
    assert.deepEqual(
      gen.map((row) => text(row.id)),
      ['1', '2', '4'],
    );
    assert.deepEqual(
      gen.map((row) => text(row.label)),
      ['#1', '#2', '#40'],
    );
    assert.equal(text(gen[2].twice), '80');
    assert.ok(!(await d1Tables(mf)).includes('sqlite_sequence'));
  });

  test('FTS5 tables are skipped with a warning; their shadow tables never reach D1', async () => {
    const r = room(mf, 'fts');
    await r.exec(
      'CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)',
      'CREATE VIRTUAL TABLE docs_fts USING fts5(body)',
      `INSERT INTO docs VALUES (1, 'hello world')`,
      `INSERT INTO docs_fts(body) VALUES ('hello world')`,
    );
    await r.configure({ sourceId: 'fts' });
    const f = await r.flush();
    assert.equal(f.flushed, true, JSON.stringify(f.error));
    assert.ok(
      f.health.warnings.some((w) => /docs_fts/.test(w)),
      JSON.stringify(f.health.warnings),
    );
    const tables = await d1Tables(mf);
    assert.ok(tables.includes('docs'));
    assert.ok(!tables.some((t) => t.startsWith('docs_fts')), tables.join(','));
    await assertReplicated(mf, r, { table: 'docs', columns: ['id', 'body'] });
  });

  test('ADD COLUMN, a new table and a dropped table are followed live', async () => {
    const r = room(mf, 'live-ddl');
    await r.configure({
      sourceId: 'live-ddl',
      schema: [
        'CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT)',
        'CREATE TABLE doomed(id INTEGER PRIMARY KEY, x TEXT)',
      ],
    });
    await r.exec(
      `INSERT INTO people VALUES (1, 'ada'), (2, 'bob')`,
      `INSERT INTO doomed VALUES (1, 'x')`,
    );
    assert.equal((await r.flush()).flushed, true);
    assert.ok((await d1Tables(mf)).includes('doomed'));

    await r.exec(
      `ALTER TABLE people ADD COLUMN email TEXT DEFAULT 'none'`,
      `UPDATE people SET email = 'ada@example.com' WHERE id = 1`,
      `INSERT INTO people VALUES (3, 'cy', NULL)`,
      'CREATE TABLE fresh(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID',
      `INSERT INTO fresh VALUES ('k1', X'0102'), ('k2', NULL)`,
      'DROP TABLE doomed',
    );
    const f = await r.flush();
    assert.equal(f.flushed, true, JSON.stringify(f.error));
    assert.equal(f.health.pendingChanges, 0);
    const people = await assertReplicated(mf, r, {
      table: 'people',
      columns: ['id', 'name', 'email'],
    });
    assert.equal(text(people[1].email), 'none');
    assert.equal(people[2].email.type, 'null');
    await assertReplicated(mf, r, { table: 'fresh', columns: ['k', 'v'] });
    // Writes to the new table after it was picked up are captured too.
    await r.exec(`UPDATE fresh SET v = X'FF' WHERE k = 'k2'`);
    assert.equal((await r.flush()).flushed, true);
    const fresh = await assertReplicated(mf, r, { table: 'fresh', columns: ['k', 'v'] });
    assert.equal(fresh[1].v.hex, 'FF');
    // Without a tenant, a table dropped locally is dropped in D1.
    assert.ok(!(await d1Tables(mf)).includes('doomed'));
  });

  test('a 12-step table rebuild (triggers dropped) is detected and D1 rebuilt', async () => {
    const r = room(mf, 'rebuild');
    await r.configure({
      sourceId: 'rebuild',
      schema: ['CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER)'],
    });
    await r.exec(`INSERT INTO t VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3)`);
    assert.equal((await r.flush()).flushed, true);
    // The documented way to change a column type: new table, copy, drop, rename. The drop
    // removes the capture triggers; writes made before the next flush are caught by recopying.
    await r.execTx(
      'CREATE TABLE t_new(id INTEGER PRIMARY KEY, a TEXT NOT NULL, b TEXT)',
      `INSERT INTO t_new SELECT id, a, 'b=' || b FROM t`,
      'DROP TABLE t',
      'ALTER TABLE t_new RENAME TO t',
    );
    await r.exec(`INSERT INTO t VALUES (4, 'four', 'b=4')`, `DELETE FROM t WHERE id = 1`);
    const f = await r.flush();
    assert.equal(f.flushed, true, JSON.stringify(f.error));
    const rows = await assertReplicated(mf, r, { table: 't', columns: ['id', 'a', 'b'] });
    assert.deepEqual(
      rows.map((row) => text(row.b)),
      ['b=2', 'b=3', 'b=4'],
    );
    assert.ok(rows.every((row) => row.b.type === 'text'));
    // Capture works again after the rebuild.
    await r.exec(`UPDATE t SET a = 'TWO' WHERE id = 2`);
    assert.equal((await r.flush()).flushed, true);
    const again = await assertReplicated(mf, r, { table: 't', columns: ['id', 'a', 'b'] });
    assert.equal(text(again[0].a), 'TWO');
  });

  test("resync({ table }) recopies one tenant's rows and leaves other tenants alone", async () => {
    const a = room(mf, 'tenant-a');
    const b = room(mf, 'tenant-b');
    const schema = ['CREATE TABLE shared_t(id INTEGER PRIMARY KEY, v TEXT)'];
    await a.configure({ sourceId: 'tenant-a', schema, tenant: { column: 'room_id', value: 'a' } });
    await b.configure({ sourceId: 'tenant-b', schema, tenant: { column: 'room_id', value: 'b' } });
    await a.exec(`INSERT INTO shared_t VALUES (1, 'a1'), (2, 'a2')`);
    await b.exec(`INSERT INTO shared_t VALUES (1, 'b1'), (2, 'b2'), (3, 'b3')`);
    assert.equal((await a.flush()).flushed, true);
    assert.equal((await b.flush()).flushed, true);
    // Damage tenant a's rows in D1, then resync a.
    const db = await mf.getD1Database('DB');
    await db.prepare(`UPDATE shared_t SET v = 'damaged' WHERE room_id = 'a'`).run();
    await db.prepare(`INSERT INTO shared_t(room_id, id, v) VALUES ('a', 99, 'stray')`).run();
    await a.ok('resync', { table: 'shared_t' });
    const columns = ['id', 'v'];
    const rowsA = await assertReplicated(mf, a, {
      table: 'shared_t',
      columns,
      tenant: { column: 'room_id', value: 'a' },
    });
    assert.deepEqual(
      rowsA.map((row) => row.v.hex),
      [hexOf('a1'), hexOf('a2')],
    );
    const rowsB = await assertReplicated(mf, b, {
      table: 'shared_t',
      columns,
      tenant: { column: 'room_id', value: 'b' },
    });
    assert.equal(rowsB.length, 3);
    // A third source claiming tenant value 'a' is refused with CONFIG.
    const c = room(mf, 'tenant-c');
    const refused = await c.call('configure', {
      sourceId: 'tenant-c',
      schema,
      tenant: { column: 'room_id', value: 'a' },
    });
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, 'CONFIG', JSON.stringify(refused.error));
    assert.equal(
      (await dumpD1(mf, { table: 'shared_t', columns, tenant: { column: 'room_id', value: 'a' } }))
        .length,
      2,
    );
  });

  test('a sourceId reused by a second Durable Object is FENCED', async () => {
    const one = room(mf, 'owner');
    const two = room(mf, 'impostor');
    const schema = ['CREATE TABLE f(id INTEGER PRIMARY KEY, v TEXT)'];
    await one.configure({ sourceId: 'same-id', schema });
    await one.exec(`INSERT INTO f VALUES (1, 'owner')`);
    assert.equal((await one.flush()).flushed, true);
    const refused = await two.call('configure', { sourceId: 'same-id', schema });
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, 'FENCED', JSON.stringify(refused.error));
    // The owner keeps replicating.
    await one.exec(`INSERT INTO f VALUES (2, 'still owner')`);
    assert.equal((await one.flush()).flushed, true);
    await assertReplicated(mf, one, { table: 'f', columns: ['id', 'v'] });

    // takeover: true claims the sourceId and resyncs it from the new database; the old owner
    // is fenced from then on and its later writes never reach D1.
    await two.exec(`INSERT INTO f VALUES (10, 'new owner')`);
    await two.configure({ sourceId: 'same-id', schema: [], takeover: true });
    const took = await two.flush();
    assert.equal(took.flushed, true, JSON.stringify(took.error));
    const rows = await assertReplicated(mf, two, { table: 'f', columns: ['id', 'v'] });
    assert.deepEqual(
      rows.map((row) => text(row.v)),
      ['new owner'],
    );
    await one.exec(`INSERT INTO f VALUES (3, 'fenced write')`);
    const fenced = await one.flush();
    assert.equal(fenced.flushed, false);
    assert.equal(fenced.error.code, 'FENCED', JSON.stringify(fenced.error));
    assert.equal(fenced.health.state, 'error');
    await assertReplicated(mf, two, { table: 'f', columns: ['id', 'v'] });
  });
});
