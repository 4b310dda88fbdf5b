// The committed CRD equals the one generated from the zod schema; `npm run generate` fixes a drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CRD_PATH, renderCrd } from '../../tools/generate-crd.ts';
import { parseDevPolicy } from '../../src/schemas/policy.ts';

test('deploy/crds/devpolicies.dev.x.yaml is what src/schemas/policy.ts generates', () => {
  assert.equal(readFileSync(CRD_PATH, 'utf8'), renderCrd(), 'the committed CRD is stale: run npm run generate');
});

test('an invalid DevPolicy yields every error with its field path', () => {
  const r = parseDevPolicy({ apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'x' }, spec: { maxWorkloads: -1, workDir: 'rel', kinds: ['Secret'], bogus: 1 } });
  assert.equal(r.ok, false);
  if (r.ok) return;
  const text = r.error.join('\n');
  for (const path of ['spec.maxWorkloads', 'spec.workDir', 'spec.kinds.0', 'spec']) assert.match(text, new RegExp(path.replace('.', '\\.')));
  assert.match(text, /bogus/);
});

test('an empty DevPolicy spec gets the documented defaults', () => {
  const r = parseDevPolicy({ apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'x' }, spec: {} });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.value.spec.workDir, '/home/devx');
  assert.equal(r.value.spec.stripProbes, true);
  assert.equal(r.value.spec.maxWorkloads, 10);
  assert.deepEqual(r.value.spec.kinds, ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod']);
});
