// The one error class the package throws. `code` is stable; `d1Message` keeps D1's own words.
// The copy of wasm/errors.cpp's codes (tests/node/contract.test.mjs checks them).
export const CODES = new Set([
  'D1_TRANSIENT',
  'D1_LIMIT',
  'D1_CONSTRAINT',
  'SCHEMA',
  'FENCED',
  'CONFIG',
  'INTERNAL',
]);

export class D1SyncError extends Error {
  constructor(code, message, { d1Message, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'D1SyncError';
    this.code = CODES.has(code) ? code : 'INTERNAL';
    this.d1Message = d1Message ?? (typeof cause?.message === 'string' ? cause.message : undefined);
  }
}

// The message of whatever a host API threw, with D1's cause appended when it carries one.
export function messageOf(error) {
  if (error == null) return 'unknown error';
  const message = typeof error.message === 'string' ? error.message : String(error);
  const cause = error.cause && typeof error.cause.message === 'string' ? error.cause.message : '';
  return cause && !message.includes(cause) ? `${message}: ${cause}` : message;
}
