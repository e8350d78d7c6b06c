// What bench/capture.mjs's two hosts share (the Durable Object in bench/capture-worker.js and
// sqlite-wasm in Node): the table and the single-row writes of bench/worker.js's capRound.
import { TABLE_DDL } from './forms.js';

// 'unique' adds a UNIQUE index the writes never collide on, so capture adds its REPLACE victim
// triggers.
export const CAP_TABLE_DDL = (t, shape = 'plain') =>
  TABLE_DDL(t) + (shape === 'unique' ? `; CREATE UNIQUE INDEX ${t}_u ON ${t}(price, id)` : '');

// exec(sql, ...bindings) runs one statement. Rows base+from .. base+to-1, as capRound writes them.
export function capWrites(exec) {
  const blob = new Uint8Array(64).fill(7);
  const name = 'x'.repeat(100);
  return {
    insert(table, base, from, to) {
      const sql = `INSERT INTO ${table}(id, name, price, data, note) VALUES (?, ?, ?, ?, ?)`;
      for (let i = from; i < to; ++i)
        exec(sql, base + i, name, i * 0.5, blob, i % 10 === 0 ? null : 'note');
    },
    update(table, base, from, to) {
      const sql = `UPDATE ${table} SET price = ?, note = ? WHERE id = ?`;
      for (let i = from; i < to; ++i) exec(sql, i * 1.5, 'upd', base + i);
    },
    delete(table, base, from, to) {
      const sql = `DELETE FROM ${table} WHERE id = ?`;
      for (let i = from; i < to; ++i) exec(sql, base + i);
    },
  };
}
