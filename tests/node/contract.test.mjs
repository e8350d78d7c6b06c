// The names the JS package and its .d.ts copy from the engine (error codes, limit names) are
// the engine's own: read from the built module and compared with every copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { engineModule } from '../../js/engine-module.js';
import { CODES } from '../../js/errors.js';

const root = new URL('../../', import.meta.url);
// Comments out: they may hold quotes and semicolons.
const dts = (await readFile(new URL('js/index.d.ts', root), 'utf8'))
  .replace(/\/\*[\s\S]*?\*\//g, '')
  .replace(/\/\/.*$/gm, '');
const readme = await readFile(new URL('README.md', root), 'utf8');
const engine = await engineModule(
  await WebAssembly.compile(await readFile(new URL('dist/d1sync_engine.wasm', root))),
);

// The members of `export type <name> = 'a' | 'b' ...` or `export interface <name> { a?: ... }`.
function declared(kind, name) {
  const block =
    kind === 'type'
      ? dts.match(new RegExp(`export type ${name} =([^;]*);`))?.[1]
      : dts.match(new RegExp(`export interface ${name} \\{([^}]*)\\}`))?.[1];
  assert.ok(block, `js/index.d.ts declares ${kind} ${name}`);
  const re = kind === 'type' ? /'([A-Z0-9_]+)'/g : /^\s*(\w+)\?:/gm;
  return [...block.matchAll(re)].map((m) => m[1]);
}

test("issue 10: error codes in errors.js, index.d.ts and the README are the engine's", () => {
  const codes = engine.errorCodes().split(',');
  assert.ok(codes.includes('FENCED') && codes.length >= 7, codes.join());
  assert.deepEqual([...CODES], codes);
  assert.deepEqual(declared('type', 'D1SyncErrorCode'), codes);
  for (const code of codes) assert.match(readme, new RegExp(`\`${code}\``), `README names ${code}`);
});

test('issue 10: the limits index.d.ts documents are the ones the engine accepts', () => {
  const names = engine.limitNames().split(',');
  assert.ok(names.includes('statementBytes'), names.join());
  assert.deepEqual(declared('interface', 'Limits'), names);
});

test('the Node entry exports every function index.d.ts declares, and nothing undeclared', async () => {
  const entry = await import('../../js/entry-node.js');
  const functions = Object.entries(entry)
    .filter(([, v]) => typeof v === 'function' && !/^[A-Z]/.test(v.name))
    .map(([k]) => k)
    .sort();
  const declaredFns = [...dts.matchAll(/export function (\w+)/g)].map((m) => m[1]).sort();
  assert.deepEqual(functions, declaredFns);
  assert.ok(functions.includes('httpTarget') && functions.includes('createSyncEndpoint'));
});
