// worker-template/'s own Vitest suite (test/*.test.ts, inside workerd) run from this checkout:
// the template's vitest.config.ts, with `d1sync` resolved to this repository's js/ (a copy of
// the template has it in node_modules) and the root at the repository's, because the Workers
// Vitest integration loads no module from outside the root, and the engine's .wasm is in dist/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergeConfig } from 'vitest/config';
import template from '../../worker-template/vitest.config.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export default mergeConfig(template, {
  root: repoRoot,
  resolve: { alias: { d1sync: path.join(repoRoot, 'js/entry-workerd.js') } },
  test: { include: ['worker-template/test/**/*.test.ts'] },
});
