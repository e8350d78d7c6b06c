// Encoding of result rows for the engine (wasm/rows_codec.hpp): cells row-major, each followed
// by U+0000, NULL as U+0001. The engine's queries return text, counts and PRAGMA output.

export function cellText(value) {
  if (value === null || value === undefined) return '\u0001';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(typeof value === 'boolean' ? Number(value) : value);
  }
  // A blob: the engine never selects raw blobs, but keep the bytes visible if one comes.
  const bytes =
    value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer ?? []);
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}

// Rows (any iterable of arrays of values) -> the engine's page format. Appending to one
// string builds a rope that the engine's TextEncoder.encodeInto flattens in the same pass:
// a third of the time of collecting the parts and joining them, for a page of wide rows.
export function encodeRows(rows) {
  let cells = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; ++i) {
      const v = row[i];
      cells += typeof v === 'string' ? v : cellText(v);
      cells += '\u0000';
    }
  }
  return cells;
}
