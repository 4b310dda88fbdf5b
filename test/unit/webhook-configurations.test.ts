// The webhook configurations as data: what each webhook matches and how it fails is the contract of DESIGN §7
// ("with devx down, nothing outside dev mode is affected"); the real API server accepts them in test/e2e/k8s-layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEVX_MARKED_CONDITION, webhookConfigurations } from '../../src/k8s/register-webhooks.ts';
import { parseManifests } from '../support/apply.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const opts = { url: 'https://127.0.0.1:8443/', caBundlePem: CA, excludedNamespaces: ['devx-system', 'kube-system'] };

test('URL endpoint: each webhook gets its path and the base64 CA bundle', () => {
  const { mutating, validating } = webhookConfigurations(opts);
  const urls = Object.fromEntries([...mutating.webhooks, ...validating.webhooks].map((w) => [w.name, w.clientConfig.url]));
  assert.deepEqual(urls, {
    'pods.dev.x': 'https://127.0.0.1:8443/mutate/pods',
    'workloads.dev.x': 'https://127.0.0.1:8443/mutate/workloads',
    'scale.dev.x': 'https://127.0.0.1:8443/mutate/workloads',
    'validate.dev.x': 'https://127.0.0.1:8443/validate',
  });
  for (const w of [...mutating.webhooks, ...validating.webhooks]) {
    assert.equal(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString(), CA);
    // No webhook acts after answering: a review, even a forged one sent straight to devx, changes nothing.
    assert.equal(w.sideEffects, 'None');
    assert.deepEqual(w.admissionReviewVersions, ['v1']);
    assert.equal(w.matchPolicy, 'Equivalent');
    assert.equal(w.timeoutSeconds, 5);
  }
  for (const w of mutating.webhooks) assert.equal(w.reinvocationPolicy, 'IfNeeded');
});

test('Service endpoint (Helm): same paths, port 443 by default', () => {
  const { mutating } = webhookConfigurations({
    service: { namespace: 'devx-system', name: 'devx' },
    caBundlePem: CA,
    excludedNamespaces: ['devx-system'],
  });
  assert.deepEqual(mutating.webhooks[0]?.clientConfig.service, { namespace: 'devx-system', name: 'devx', path: '/mutate/pods', port: 443 });
  assert.equal(mutating.webhooks[0]?.clientConfig.url, undefined);
});

test('only webhooks that select labelled or devx-marked objects fail closed; excluded namespaces are never sent', () => {
  const { mutating, validating } = webhookConfigurations(opts);
  for (const w of [...mutating.webhooks, ...validating.webhooks]) {
    const labelled = JSON.stringify(w.objectSelector) === JSON.stringify({ matchLabels: { 'dev.x/enabled': 'true' } });
    const marked = (w as { matchConditions?: Array<{ expression: string }> }).matchConditions?.some((c) => c.expression === DEVX_MARKED_CONDITION) ?? false;
    assert.equal(w.failurePolicy, labelled || marked ? 'Fail' : 'Ignore', w.name);
    const notIn = w.namespaceSelector?.matchExpressions?.find((e) => e.operator === 'NotIn');
    assert.deepEqual(notIn, { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['devx-system', 'kube-system'] });
  }
  const policyRequired = (name: string) =>
    [...mutating.webhooks, ...validating.webhooks]
      .find((w) => w.name === name)
      ?.namespaceSelector?.matchExpressions?.some((e) => e.key === 'dev.x/policy' && e.operator === 'Exists');
  assert.equal(policyRequired('pods.dev.x'), true);
  assert.equal(policyRequired('workloads.dev.x'), true);
  assert.equal(policyRequired('validate.dev.x'), false, 'a dev label where no policy is bound must be seen to be denied');
  assert.deepEqual(webhookConfigurations({ ...opts, excludedNamespaces: [] }).mutating.webhooks[0]?.namespaceSelector?.matchExpressions?.[1]?.values, ['kube-system']);
});

test('rules: pod CREATE for injection; workloads, bare-pod UPDATE and scale for the workload webhook', () => {
  const { mutating, validating } = webhookConfigurations(opts);
  const resources = (name: string) =>
    [...mutating.webhooks, ...validating.webhooks]
      .find((w) => w.name === name)
      ?.rules?.flatMap((r) => r.resources?.map((res) => `${res}:${r.operations?.join('+')}`) ?? []);
  assert.deepEqual(resources('pods.dev.x'), ['pods:CREATE']);
  assert.deepEqual(resources('workloads.dev.x'), [
    'deployments:CREATE+UPDATE', 'statefulsets:CREATE+UPDATE', 'daemonsets:CREATE+UPDATE', 'jobs:CREATE+UPDATE', 'cronjobs:CREATE+UPDATE', 'pods:UPDATE',
  ]);
  assert.deepEqual(resources('scale.dev.x'), ['deployments/scale:UPDATE', 'statefulsets/scale:UPDATE']);
  assert.deepEqual(resources('validate.dev.x'), [
    'deployments:CREATE+UPDATE', 'statefulsets:CREATE+UPDATE', 'daemonsets:CREATE+UPDATE', 'jobs:CREATE+UPDATE', 'cronjobs:CREATE+UPDATE',
    'replicasets:CREATE+UPDATE', 'pods:CREATE+UPDATE', 'replicationcontrollers:CREATE+UPDATE', 'secrets:CREATE+UPDATE',
  ]);
});

test('parseManifests: multi-document YAML, empty documents skipped, non-objects refused', () => {
  const objs = parseManifests('---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n');
  assert.deepEqual(objs.map((o) => o.metadata.name), ['a', 'b']);
  assert.throws(() => parseManifests('kind: Namespace\n'), /not a Kubernetes object/);
  assert.throws(() => parseManifests('a: [\n'), /invalid YAML/);
});
