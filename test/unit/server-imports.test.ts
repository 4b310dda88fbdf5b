// The server process must not load @kubernetes/client-node: importing it costs ~86 MB of RSS and about a second of
// startup, against a target of 100 MB under load. This walks everything devx-webhook can load, statically or through
// import(), and fails on any runtime import of the package. `import type` is erased; `import { type X }` is not (the
// module is still loaded for its side effects), so it counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const REPO = path.resolve(import.meta.dirname, '../..');
const SERVER_ENTRY = path.join(REPO, 'src/cli/devx-webhook.ts');
const FORBIDDEN = /^@kubernetes\/client-node(\/|$)/;

interface ModuleImports {
  /** Specifiers loaded at runtime (static and dynamic). */
  runtime: string[];
  /** import() calls whose argument is not a string literal: the walk cannot follow them. */
  opaque: number;
}

function importsOf(file: string): ModuleImports {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: ModuleImports = { runtime: [], opaque: 0 };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && !node.importClause?.isTypeOnly) {
      found.runtime.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) {
      found.runtime.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) found.runtime.push(arg.text);
      else found.opaque++;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

interface Graph {
  /** Module (repo-relative) → its runtime specifiers. */
  modules: Map<string, string[]>;
  /** Modules with an import() the walk cannot follow. */
  opaque: string[];
}

function serverGraph(entry: string): Graph {
  const graph: Graph = { modules: new Map(), opaque: [] };
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    const rel = path.relative(REPO, file);
    if (graph.modules.has(rel)) continue;
    const imports = importsOf(file);
    graph.modules.set(rel, imports.runtime);
    if (imports.opaque > 0) graph.opaque.push(rel);
    for (const spec of imports.runtime) {
      if (spec.startsWith('.')) pending.push(path.resolve(path.dirname(file), spec));
    }
  }
  return graph;
}

test('the import walk sees through type-only imports and follows dynamic ones', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-imports-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.ts'), "import type { X } from 'erased';\nimport { type Y } from 'kept';\nconst m = await import('./b.ts');\nexport { m };\n");
    fs.writeFileSync(path.join(dir, 'b.ts'), "export { z } from 'reexported';\nexport type { W } from 'erased-too';\nawait import(String('x'));\n");
    const g = serverGraph(path.join(dir, 'a.ts'));
    const specs = [...g.modules.values()].flat().sort();
    assert.deepEqual(specs, ['./b.ts', 'kept', 'reexported']);
    assert.equal(g.opaque.length, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('nothing the webhook server loads imports @kubernetes/client-node at runtime', () => {
  const graph = serverGraph(SERVER_ENTRY);
  assert.ok(graph.modules.has('src/webhook/cluster.ts'), 'the walk reaches the cluster code (a dynamic import)');
  assert.ok(graph.modules.has('src/k8s/resilient-informer.ts'), 'the walk reaches the informers');
  assert.deepEqual(graph.opaque, [], 'every import() in the server has a literal specifier, so the walk can follow it');
  const offenders = [...graph.modules].filter(([, specs]) => specs.some((s) => FORBIDDEN.test(s))).map(([file]) => file);
  assert.deepEqual(offenders, [], 'these server modules load @kubernetes/client-node (use src/k8s/kubeconfig.ts and rest.ts instead)');
});
