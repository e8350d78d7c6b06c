// The README's benchmark tables, generated from the results of the run they quote:
//   node bench/readme.mjs [RESULTS.json]   (default bench/results.json)
// copies the results to docs/bench/results.json (committed: the data the README quotes) and
// rewrites every block of README.md between `<!-- bench:begin NAME -->` and
// `<!-- bench:end NAME -->` with that section of the results (bench/markdown.mjs: the same code
// as bench/results.md). Blocks: run (mode, date, commit, versions, machine), workerd,
// sqlite-wasm, browser, cli, verify, remote, scale, targets; the prose around them is the
// README's own.
//   node bench/readme.mjs --check [RESULTS.json]   (default docs/bench/results.json)
// changes nothing and exits 1 when a block differs from what the results generate (a hand
// edit, or results copied without regenerating), 2 when a block is missing or unknown or the
// results cannot be read.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readmeBlocks } from './markdown.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const readmePath = path.join(repoRoot, 'README.md');
const quoted = path.join(repoRoot, 'docs/bench/results.json');
const BLOCK = /<!-- bench:begin ([\w-]+) -->\n([\s\S]*?)<!-- bench:end \1 -->/g;

// README.md with every block regenerated; the names of the blocks it has.
function render(readme, results) {
  const blocks = readmeBlocks(results);
  const seen = [];
  const unknown = [];
  const text = readme.replace(BLOCK, (whole, name) => {
    seen.push(name);
    if (!blocks.has(name)) {
      unknown.push(name);
      return whole;
    }
    return `<!-- bench:begin ${name} -->\n${blocks.get(name)}\n<!-- bench:end ${name} -->`;
  });
  const missing = [...blocks.keys()].filter((name) => !seen.includes(name));
  return { text, missing, unknown };
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { check: { type: 'boolean' } },
});
if (positionals.length > 1) {
  console.error('usage: node bench/readme.mjs [--check] [RESULTS.json]');
  process.exit(2);
}
const source = path.resolve(
  positionals[0] ?? (values.check ? quoted : path.join(here, 'results.json')),
);
let results;
try {
  results = JSON.parse(readFileSync(source, 'utf8'));
} catch (e) {
  console.error(`cannot read ${source}: ${e.message}`);
  process.exit(2);
}
const readme = readFileSync(readmePath, 'utf8');
const { text, missing, unknown } = render(readme, results);
if (missing.length || unknown.length) {
  if (missing.length) console.error(`README.md has no block for: ${missing.join(', ')}`);
  if (unknown.length) console.error(`README.md has blocks no section fills: ${unknown.join(', ')}`);
  process.exit(2);
}
const rel = (p) => path.relative(process.cwd(), p) || p;
if (values.check) {
  if (text === readme) {
    console.log(`README.md's benchmark blocks match ${rel(source)}`);
    process.exit(0);
  }
  // Name the blocks that differ, with their first differing line.
  const blocksOf = (s) => new Map([...s.matchAll(BLOCK)].map((m) => [m[1], m[2]]));
  const want = blocksOf(text);
  for (const [name, have] of blocksOf(readme)) {
    if (have === want.get(name)) continue;
    const a = have.split('\n');
    const b = want.get(name).split('\n');
    const i = a.findIndex((line, k) => line !== b[k]);
    const at = i < 0 ? b.length - 1 : i;
    console.error(
      `block '${name}' differs from ${rel(source)} at its line ${at + 1}:\n` +
        `  README:    ${a[at] ?? '(nothing)'}\n  generated: ${b[at] ?? '(nothing)'}`,
    );
  }
  console.error('regenerate with: node bench/readme.mjs ' + rel(source));
  process.exit(1);
}
if (source !== quoted) {
  mkdirSync(path.dirname(quoted), { recursive: true });
  copyFileSync(source, quoted);
}
writeFileSync(readmePath, text);
console.log(
  `README.md's benchmark blocks rewritten from ${rel(source)}` +
    (source !== quoted ? `, copied to ${rel(quoted)}` : ''),
);
