// For every golden case that enters dev mode: removing the label afterwards gives back the original object exactly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitWorkload } from '../../src/core/admit.ts';
import type { KubeObject } from '../../src/core/kube.ts';
import { LABEL_ENABLED, isDevEnabled } from '../../src/core/names.ts';
import { requestFor } from '../../src/core/preview.ts';
import { goldenContext, loadCases, requestOptions } from '../golden/golden.ts';

function withoutLabel(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  const labels = { ...(copy.metadata?.labels ?? {}) };
  delete labels[LABEL_ENABLED];
  copy.metadata = { ...copy.metadata, labels };
  if (Object.keys(labels).length === 0) delete copy.metadata.labels;
  return copy;
}

const entering = loadCases().filter(
  (c) => isDevEnabled(c.object.metadata?.labels) && !isDevEnabled(c.oldObject?.metadata?.labels) && !(c.object.kind === 'Pod' && !c.oldObject),
);

test('round trips cover every workload kind', () => {
  const kinds = new Set(entering.map((c) => c.object.kind));
  for (const k of ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod']) assert.ok(kinds.has(k), `no round trip for ${k}`);
});

for (const c of entering) {
  test(`${c.name}: enable then disable restores the original exactly`, () => {
    const ctx = goldenContext();
    const on = admitWorkload(requestFor(requestOptions(c)), ctx);
    if (on.kind !== 'mutate') return assert.equal(on.kind, 'deny', `${c.name}: expected mutate or deny, got ${on.kind}`);
    const off = admitWorkload(requestFor({ object: withoutLabel(on.object), oldObject: on.object, user: { username: 'someone-else' } }), ctx);
    assert.equal(off.kind, 'mutate');
    if (off.kind === 'mutate') assert.deepEqual(off.object, withoutLabel(c.object));
  });
}
