// js/index.d.ts against the package it describes: tests/types/*.ts compile under --strict
// against it (imported as 'd1sync', the way users import it), use every name it exports, and
// the entry points export at run time exactly the values it declares. A name added to the
// declarations without a type test, or to an entry point without a declaration, fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../', import.meta.url));
const typesDir = path.join(root, 'tests/types');
const indexDts = realpathSync(path.join(root, 'js/index.d.ts'));

function compile() {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(typesDir, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(format([d])) },
  );
  assert.deepEqual(config.errors, [], 'tests/types/tsconfig.json parses');
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
  const tests = program
    .getSourceFiles()
    .filter((f) => path.dirname(realpathSync(f.fileName)) === realpathSync(typesDir));
  return { config, program, checker: program.getTypeChecker(), tests };
}

function format(diagnostics) {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  });
}

const { config, program, checker, tests } = compile();

// The names js/index.d.ts exports, as the checker sees the module 'd1sync' resolves to.
const dtsFile = program.getSourceFiles().find((f) => realpathSync(f.fileName) === indexDts);
const exported = dtsFile ? checker.getExportsOfModule(checker.getSymbolAtLocation(dtsFile)) : [];
const valueNames = exported
  .filter((s) => s.flags & ts.SymbolFlags.Value)
  .map((s) => s.name)
  .sort();

test('tests/types compiles with --strict against js/index.d.ts, imported as d1sync', () => {
  assert.equal(config.options.strict, true, 'tests/types/tsconfig.json sets strict');
  assert.ok(tests.length >= 5, `tests/types holds the type tests (${tests.length} files)`);
  let imports = 0;
  for (const file of tests) {
    for (const statement of file.statements) {
      if (!ts.isImportDeclaration(statement) || statement.moduleSpecifier.text !== 'd1sync') {
        continue;
      }
      const module = checker.getSymbolAtLocation(statement.moduleSpecifier);
      const resolved = module?.valueDeclaration?.getSourceFile().fileName;
      assert.equal(
        resolved && realpathSync(resolved),
        indexDts,
        `'d1sync' in ${path.basename(file.fileName)} resolves to js/index.d.ts`,
      );
      imports++;
    }
  }
  assert.ok(imports >= tests.length - 2, `the type tests import 'd1sync' (${imports} imports)`);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  assert.equal(diagnostics.length, 0, format(diagnostics));
});

test('every name js/index.d.ts exports is used in tests/types', () => {
  assert.ok(exported.length >= 20, `index.d.ts exports ${exported.length} names`);
  const used = new Set();
  const visit = (node) => {
    // An import alone proves nothing about the declaration: the name must be used.
    if (ts.isImportDeclaration(node)) return;
    if (ts.isIdentifier(node)) {
      let symbol = checker.getSymbolAtLocation(node);
      if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
      if (symbol) used.add(symbol);
    }
    ts.forEachChild(node, visit);
  };
  for (const file of tests) visit(file);
  const unused = exported.filter((s) => !used.has(s)).map((s) => s.name);
  assert.deepEqual(unused, [], `exported by js/index.d.ts but unused in tests/types: ${unused}`);
});

// The names a module exports, read from its source: for entry points Node cannot import.
async function staticExports(file) {
  const text = await readFile(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  const names = new Set();
  const exportedHere = (node) =>
    ts.canHaveModifiers(node) &&
    (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  const bindingNames = (name) =>
    ts.isIdentifier(name) ? [name.text] : name.elements.flatMap((e) => bindingNames(e.name));
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      if (statement.isTypeOnly) continue;
      const from = statement.moduleSpecifier?.text;
      if (!statement.exportClause) {
        for (const name of await staticExports(path.resolve(path.dirname(file), from))) {
          if (name !== 'default') names.add(name);
        }
      } else if (ts.isNamedExports(statement.exportClause)) {
        for (const element of statement.exportClause.elements) names.add(element.name.text);
      } else {
        names.add(statement.exportClause.name.text);
      }
    } else if (ts.isExportAssignment(statement)) {
      names.add('default');
    } else if (ts.isVariableStatement(statement) && exportedHere(statement)) {
      for (const d of statement.declarationList.declarations) {
        for (const name of bindingNames(d.name)) names.add(name);
      }
    } else if (
      (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) &&
      exportedHere(statement)
    ) {
      const isDefault = (ts.getModifiers(statement) ?? []).some(
        (m) => m.kind === ts.SyntaxKind.DefaultKeyword,
      );
      names.add(isDefault ? 'default' : statement.name.text);
    }
  }
  return [...names].sort();
}

function compareExports(entry, actual) {
  const missing = valueNames.filter((n) => !actual.includes(n));
  const extra = actual.filter((n) => !valueNames.includes(n));
  assert.deepEqual(
    { missing, extra },
    { missing: [], extra: [] },
    `${entry}: values index.d.ts declares but it lacks (missing), ` +
      `and values it exports that index.d.ts does not declare (extra)`,
  );
}

test('the entry points export exactly the values index.d.ts declares', async () => {
  assert.ok(valueNames.includes('createReplicator'), valueNames.join());
  for (const entry of ['entry-node.js', 'entry-browser.js']) {
    const file = path.join(root, 'js', entry);
    const actual = Object.keys(await import(file)).sort();
    // The reading of the source below must agree with what Node imports where both work.
    assert.deepEqual(await staticExports(file), actual, `${entry}: the source's export list`);
    compareExports(entry, actual);
  }
  // workerd's entry imports the .wasm as a module, which only a Workers bundler resolves.
  compareExports('entry-workerd.js', await staticExports(path.join(root, 'js/entry-workerd.js')));
});
