// The JSON patch of an admission answer: the difference between the object the API server sent and devx's mutated
// copy. It emits the same operations in the same order as fast-json-patch's `compare` (test/unit/json-patch.test.ts
// holds the two equal on every golden case and on random pairs), without `compare`'s deep copy (a JSON round trip) of
// every added or replaced value: the operations are serialized right away, so sharing values with the mutated copy is
// safe. That copy was the largest single cost of a review (about a third of it, `npm run bench` profile).
// Inputs are plain JSON values (what JSON.parse gives and what the core builds); `toJSON` is not consulted.

export type PatchOp = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

type Node = Record<string, unknown> | unknown[];

const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null;
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
function escapeKey(key: string): string {
  return key.includes('/') || key.includes('~') ? key.replace(/~/g, '~0').replace(/\//g, '~1') : key;
}

function keysOf(node: Node): string[] {
  if (!Array.isArray(node)) return Object.keys(node);
  const keys = new Array<string>(node.length);
  for (let i = 0; i < node.length; i++) keys[i] = String(i);
  return keys;
}

const at = (node: Node, key: string): unknown => (node as Record<string, unknown>)[key];

/** Compares one key of `before`; returns true when it was removed. */
function compareKey([before, after]: [Node, Node], key: string, path: string, ops: PatchOp[]): boolean {
  const oldVal = at(before, key);
  const newVal = at(after, key);
  const afterIsArray = Array.isArray(after);
  // A key present with the value undefined counts as absent in an object (JSON.stringify drops it), as in `compare`.
  if (hasOwn(after, key) && !(newVal === undefined && oldVal !== undefined && !afterIsArray)) {
    if (isNode(oldVal) && isNode(newVal) && Array.isArray(oldVal) === Array.isArray(newVal)) generate(oldVal, newVal, `${path}/${escapeKey(key)}`, ops);
    else if (oldVal !== newVal) ops.push({ op: 'replace', path: `${path}/${escapeKey(key)}`, value: newVal });
    return false;
  }
  if (Array.isArray(before) === afterIsArray) {
    ops.push({ op: 'remove', path: `${path}/${escapeKey(key)}` });
    return true;
  }
  ops.push({ op: 'replace', path, value: after });
  return false;
}

function generate(before: Node, after: Node, path: string, ops: PatchOp[]): void {
  // Copy-on-write injection shares every untouched subtree with the original: one comparison skips it.
  if (before === after) return;
  const oldKeys = keysOf(before);
  const newKeys = keysOf(after);
  let deleted = false;
  const pair: [Node, Node] = [before, after];
  // Backwards, so that removing array elements by index stays valid while the patch is applied in order.
  for (let i = oldKeys.length - 1; i >= 0; i--) {
    if (compareKey(pair, oldKeys[i] as string, path, ops)) deleted = true;
  }
  if (!deleted && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    const value = at(after, key);
    if (!hasOwn(before, key) && value !== undefined) ops.push({ op: 'add', path: `${path}/${escapeKey(key)}`, value });
  }
}

/** The operations that turn `before` into `after`. The result shares values with `after`: serialize, don't mutate. */
export function diff(before: object, after: object): PatchOp[] {
  const ops: PatchOp[] = [];
  generate(before as Node, after as Node, '', ops);
  return ops;
}
