// devx's patch generator against the reference, fast-json-patch's `compare`: the same operations in the same order,
// on every golden case (workload and pod) and on random pairs of JSON documents, shared subtrees included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { admit } from '../../src/core/admit.ts';
import type { WorkloadKind } from '../../src/core/names.ts';
import { previewPod, requestFor } from '../../src/core/preview.ts';
import { staticView } from '../../src/core/static-view.ts';
import { diff } from '../../src/webhook/json-patch.ts';
import { clusterObjects, goldenContext, loadCases, requestOptions } from '../golden/golden.ts';

const SEED = 20261123;

function assertSameAsReference(before: unknown, after: unknown, what: string): void {
  const reference = jsonpatch.compare(before as object, after as object);
  const ours = diff(before as object, after as object);
  assert.equal(JSON.stringify(ours), JSON.stringify(reference), what);
  // And the patch does what it says: applied to a copy of `before`, it gives `after`.
  const applied = jsonpatch.applyPatch(structuredClone(before), structuredClone(ours) as jsonpatch.Operation[], true, false).newDocument;
  assert.deepEqual(JSON.parse(JSON.stringify(applied)), JSON.parse(JSON.stringify(after)), `${what}: applying the patch`);
}

test('every golden mutation: the same patch as fast-json-patch', () => {
  const ctx = goldenContext();
  let mutations = 0;
  for (const c of loadCases()) {
    const req = requestFor(requestOptions(c));
    const workload = admit(c.object.kind === 'Pod' ? 'pods' : 'workloads', req, ctx);
    if (workload.kind === 'mutate') {
      mutations++;
      assertSameAsReference(req.object, workload.object, `${c.name}: workload`);
    }
    const made = workload.kind === 'mutate' && c.object.kind !== 'Pod' ? previewPod(c.object.kind as WorkloadKind, workload.object, ctx.signer) : undefined;
    if (!made) continue;
    const podReq = requestFor({ object: made.pod, namespace: c.object.metadata?.namespace ?? 'default' });
    const injected = admit('pods', podReq, { ...ctx, view: staticView([...clusterObjects(), ...made.owners]) });
    if (injected.kind !== 'mutate') continue;
    mutations++;
    assertSameAsReference(podReq.object, injected.object, `${c.name}: pod`);
  }
  assert.ok(mutations >= 40, `only ${mutations} golden mutations compared`);
});

// A document and an edited copy of it that shares the untouched parts, as copy-on-write injection produces.
type Json = unknown;
function edit(doc: Json, edits: Array<{ at: number; kind: 'set' | 'delete' | 'push'; value: Json }>): Json {
  const copy = structuredClone(doc);
  const nodes: Array<Record<string, Json> | Json[]> = [];
  const walk = (v: Json): void => {
    if (typeof v !== 'object' || v === null) return;
    nodes.push(v as Record<string, Json>);
    for (const child of Object.values(v)) walk(child);
  };
  walk(copy);
  for (const e of edits) {
    const node = nodes[e.at % Math.max(1, nodes.length)];
    if (!node) continue;
    const keys = Object.keys(node);
    const key = keys[e.at % Math.max(1, keys.length)] ?? 'added';
    if (Array.isArray(node)) {
      if (e.kind === 'push') node.push(e.value);
      else if (e.kind === 'delete') node.splice(Number(key) || 0, 1);
      else node[Number(key) || 0] = e.value;
    } else if (e.kind === 'delete') delete node[key];
    else node[e.kind === 'push' ? `${key}-new` : key] = e.value;
  }
  // Share every subtree that is unchanged, like the injector does.
  return share(doc, copy);
}

function share(before: Json, after: Json): Json {
  if (JSON.stringify(before) === JSON.stringify(after)) return before;
  if (typeof after !== 'object' || after === null || typeof before !== 'object' || before === null) return after;
  if (Array.isArray(after) !== Array.isArray(before)) return after;
  const out: Record<string, Json> | Json[] = Array.isArray(after) ? [] : {};
  for (const [k, v] of Object.entries(after)) (out as Record<string, Json>)[k] = share((before as Record<string, Json>)[k], v);
  return out;
}

const json = fc.jsonValue({ maxDepth: 4 });
const editList = fc.array(fc.record({ at: fc.nat(), kind: fc.constantFrom('set' as const, 'delete' as const, 'push' as const), value: json }), { maxLength: 5 });

test('random documents and edited copies: the same patch as fast-json-patch', () => {
  fc.assert(
    fc.property(fc.oneof(fc.dictionary(fc.string(), json), fc.array(json)), editList, (doc, edits) => {
      assertSameAsReference(doc, edit(doc, edits), 'edited copy');
    }),
    { seed: SEED, numRuns: 1500 },
  );
});

test('two unrelated documents: the same patch as fast-json-patch', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), json), fc.dictionary(fc.string(), json), (a, b) => assertSameAsReference(a, b, 'unrelated')),
    { seed: SEED, numRuns: 500 },
  );
});

test('keys with / and ~ are escaped (RFC 6901)', () => {
  assert.deepEqual(diff({ 'a/b': 1, 'c~d': 1 }, { 'a/b': 2, 'c~d': 2 }), [
    { op: 'replace', path: '/c~0d', value: 2 },
    { op: 'replace', path: '/a~1b', value: 2 },
  ]);
});

test('the patch shares added values with the mutated object instead of copying them', () => {
  const sidecar = { name: 'devx-sync' };
  const ops = diff({ containers: [] }, { containers: [sidecar] });
  assert.equal((ops[0] as { value: unknown }).value, sidecar);
});

test('a key set to undefined in an object is a removal, as in fast-json-patch', () => {
  const before = { a: 1, b: { c: 2 } };
  const after = { a: undefined, b: { c: undefined } };
  assert.deepEqual(diff(before, after), jsonpatch.compare(before, after));
  assert.deepEqual(diff(before, after), [
    { op: 'remove', path: '/b/c' },
    { op: 'remove', path: '/a' },
  ]);
});
