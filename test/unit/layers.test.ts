// The pure core (src/core) imports no node: module, no node-forge, no Kubernetes client and nothing of devx's that
// does: it is (request, cluster view, clock) -> decision, the same offline as in the webhook. This walks every module
// the core loads at runtime (statically or through import()) and fails on any of those. `import type` is erased and
// does not count; `import { type X }` still loads the module, so it does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const REPO = path.resolve(import.meta.dirname, '../..');
const CORE = path.join(REPO, 'src/core');
/** Packages the core must not load. */
const FORBIDDEN_SPECS: Array<{ what: string; spec: RegExp }> = [
  { what: 'a node: module', spec: /^node:/ },
  { what: 'node-forge', spec: /^node-forge(\/|$)/ },
  { what: 'the Kubernetes client', spec: /^@kubernetes\/client-node(\/|$)/ },
];
/** devx's own folders the core must not reach. */
const FORBIDDEN_DIRS = [{ what: "devx's client code", dir: 'src/k8s/' }];

/** Specifiers a module loads at runtime, and how many import() calls the walk cannot follow. */
function importsOf(file: string): { runtime: string[]; opaque: number } {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found = { runtime: [] as string[], opaque: 0 };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && !node.importClause?.isTypeOnly) found.runtime.push(node.moduleSpecifier.text);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) found.runtime.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) found.runtime.push(arg.text);
      else found.opaque++;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every module reachable from `entries` at runtime: repo-relative file -> its runtime specifiers. */
function graphOf(entries: string[], root = REPO): { modules: Map<string, string[]>; opaque: string[] } {
  const modules = new Map<string, string[]>();
  const opaque: string[] = [];
  const pending = [...entries];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    const rel = path.relative(root, file);
    if (modules.has(rel)) continue;
    const imports = importsOf(file);
    modules.set(rel, imports.runtime);
    if (imports.opaque > 0) opaque.push(rel);
    for (const spec of imports.runtime) if (spec.startsWith('.')) pending.push(path.resolve(path.dirname(file), spec));
  }
  return { modules, opaque };
}

function violations(modules: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [file, specs] of modules) {
    for (const rule of FORBIDDEN_DIRS) if (file.startsWith(rule.dir)) out.push(`${file} is ${rule.what}`);
    for (const rule of FORBIDDEN_SPECS) for (const spec of specs) if (rule.spec.test(spec)) out.push(`${file} imports ${spec} (${rule.what})`);
  }
  return out;
}

test('the walk sees through type-only imports, follows dynamic ones, and catches what the core must not load', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-layers-'));
  try {
    fs.mkdirSync(path.join(dir, 'src/k8s'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'a.ts'), "import type { X } from 'node:fs';\nimport { type Y } from 'node:os';\nconst m = await import('./b.ts');\nexport { m };\n");
    fs.writeFileSync(path.join(dir, 'b.ts'), "export { z } from './src/k8s/c.ts';\nexport type { W } from 'node-forge';\n");
    fs.writeFileSync(path.join(dir, 'src/k8s/c.ts'), "import forge from 'node-forge';\nexport const z = forge;\n");
    const g = graphOf([path.join(dir, 'a.ts')], dir);
    assert.deepEqual([...g.modules.keys()].sort(), ['a.ts', 'b.ts', 'src/k8s/c.ts']);
    assert.deepEqual(violations(g.modules).sort(), ['a.ts imports node:os (a node: module)', "src/k8s/c.ts imports node-forge (node-forge)", "src/k8s/c.ts is devx's client code"].sort());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('src/core loads no node: module, no node-forge, no Kubernetes client, nothing of src/k8s', () => {
  const entries = fs.readdirSync(CORE).filter((f) => f.endsWith('.ts')).map((f) => path.join(CORE, f));
  const g = graphOf(entries);
  assert.ok(g.modules.size >= entries.length);
  assert.deepEqual(g.opaque, [], 'an import() the walk cannot follow');
  assert.deepEqual(violations(g.modules), []);
});
