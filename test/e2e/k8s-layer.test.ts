// src/k8s against the real control plane: the object cache follows Namespaces and DevPolicies (also before the CRD
// exists and across an API server restart), webhook registration is idempotent and the API server accepts the
// configurations, and their failure policies really leave everything outside dev mode alone while devx is down.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startControlPlane } from './harness/control-plane.ts';
import type { ControlPlane } from './harness/control-plane.ts';
import { freePort } from './harness/ports.ts';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.ts';
import type { KubeConnection } from '../../src/k8s/kubeconfig.ts';
import { createObjectCache } from '../../src/k8s/object-cache.ts';
import type { CacheChange, ObjectCache } from '../../src/k8s/object-cache.ts';
import { applyObject } from '../../src/k8s/apply.ts';
import { registerWebhooks, webhookConfigurations } from '../../src/k8s/register-webhooks.ts';
import { applyFile, applyObjects, deleteObject, parseManifests, unregisterWebhooks } from '../support/apply.ts';
import { recordingLogger } from '../recording-logger.ts';
import { pollCondition } from '../../src/wait.ts';

let cp: ControlPlane;
let kc: KubeConnection;
let cache: ObjectCache | undefined;
const changes: CacheChange[] = [];
const { logger, logs } = recordingLogger();

// A throwaway stand-in for the generated CRD: same names, no schema to speak of.
const THROWAWAY_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: devpolicies.dev.x}
spec:
  group: dev.x
  scope: Cluster
  names: {plural: devpolicies, singular: devpolicy, kind: DevPolicy, listKind: DevPolicyList}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

const devPolicy = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'dev.x/v1alpha1',
  kind: 'DevPolicy',
  metadata: { name },
  spec,
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  if (!(await pollCondition(check, { timeoutMs, intervalMs: 50 }))) throw new Error(`timed out waiting for ${what}`);
}

const policySpec = (name: string): Record<string, unknown> | undefined =>
  (cache?.devPolicy(name) as { spec?: Record<string, unknown> } | undefined)?.spec;

before(async () => {
  cp = await startControlPlane();
  kc = loadKubeConfig({ path: cp.kubeconfigPath }).kubeConfig;
});

after(async () => {
  await cache?.stop();
  await cp?.stop();
});

test('loadKubeConfig reads the file and names the server', () => {
  const loaded = loadKubeConfig({ path: cp.kubeconfigPath });
  assert.equal(loaded.source, 'file');
  assert.equal(loaded.server, cp.server);
  assert.throws(() => loadKubeConfig({ path: cp.kubeconfigPath, context: 'nope' }), /no context named "nope"/);
});

test('without the DevPolicy CRD the cache keeps retrying, and becomes ready once the CRD is applied', async () => {
  cache = createObjectCache({ kubeConfig: kc, logger, backoff: { initialMs: 100, maxMs: 1000 } });
  cache.onChange((c) => changes.push(c));
  await cache.start();
  await eventually('namespaces listed', () => cache?.namespaceLabels('default') !== undefined);
  assert.equal(cache.namespaceLabels('default')?.['kubernetes.io/metadata.name'], 'default');
  await sleep(500);
  assert.equal(cache.ready(), false, 'not ready while DevPolicies cannot be listed');
  assert.ok(
    logs.some((l) => l.level === 'warn' && (l.obj as { kind?: string; code?: number }).kind === 'DevPolicy' && (l.obj as { code?: number }).code === 404),
    'the 404 is logged as a warning',
  );

  await applyObjects(kc, parseManifests(THROWAWAY_CRD));
  assert.equal(await cache.waitUntilReady(10_000), true);
  assert.deepEqual(cache.devPolicyNames(), []);
});

test('the cache follows namespace labels and DevPolicies as they appear, change and disappear', async () => {
  const c = cache as ObjectCache;
  changes.length = 0;
  await cp.createNamespace('team-a', { 'dev.x/policy': 'default' });
  await eventually('team-a labels', () => c.namespaceLabels('team-a')?.['dev.x/policy'] === 'default');
  const relabel = await cp.kubectl(['label', 'ns', 'team-a', 'dev.x/policy=strict', '--overwrite']);
  assert.equal(relabel.code, 0, relabel.stderr);
  await eventually('team-a relabelled', () => c.namespaceLabels('team-a')?.['dev.x/policy'] === 'strict');

  await applyObject(kc, devPolicy('default', { maxWorkloads: 3 }));
  await eventually('policy added', () => policySpec('default')?.maxWorkloads === 3);
  await applyObject(kc, devPolicy('default', { maxWorkloads: 5 }));
  await eventually('policy changed', () => policySpec('default')?.maxWorkloads === 5);
  assert.deepEqual(c.devPolicyNames(), ['default']);
  assert.equal(await deleteObject(kc, devPolicy('default', {})), true);
  await eventually('policy gone', () => c.devPolicy('default') === undefined);
  assert.equal(await deleteObject(kc, devPolicy('default', {})), false, 'deleting again reports absence');

  const del = await cp.kubectl(['delete', 'ns', 'team-a', '--wait=false']);
  assert.equal(del.code, 0, del.stderr);
  await eventually('namespace gone (finalized by the namespace controller)', () => c.namespaceLabels('team-a') === undefined);

  const seen = (kind: string, type: string, name: string): boolean => changes.some((x) => x.kind === kind && x.type === type && x.name === name);
  for (const type of ['add', 'update', 'delete']) {
    assert.ok(seen('Namespace', type, 'team-a'), `Namespace ${type}`);
    assert.ok(seen('DevPolicy', type, 'default'), `DevPolicy ${type}`);
  }
});

test('the cache survives an API server restart and becomes consistent again', async () => {
  const c = cache as ObjectCache;
  await applyObject(kc, devPolicy('before', { maxWorkloads: 1 }));
  await cp.createNamespace('survivor', { 'dev.x/policy': 'before' });
  await eventually('state before the outage', () => c.devPolicy('before') !== undefined && c.namespaceLabels('survivor') !== undefined);
  const warnsBefore = logs.filter((l) => l.level === 'warn').length;

  const t0 = performance.now();
  await cp.stopApiServer();
  // Down: the cache keeps serving its last state.
  await sleep(1500);
  assert.equal(c.namespaceLabels('survivor')?.['dev.x/policy'], 'before');
  assert.equal(policySpec('before')?.maxWorkloads, 1);
  await cp.startApiServer();
  console.log(`API server restarted in ${Math.round(performance.now() - t0)} ms (including 1.5 s down)`);
  assert.ok(logs.filter((l) => l.level === 'warn').length > warnsBefore, 'the outage is logged');

  // Changes right after the restart, likely before the informers are back: resumed watch or re-list must catch them.
  await applyObject(kc, devPolicy('before', { maxWorkloads: 2 }));
  await applyObject(kc, devPolicy('after', { maxWorkloads: 9 }));
  const label = await cp.kubectl(['label', 'ns', 'survivor', 'dev.x/policy=after', '--overwrite']);
  assert.equal(label.code, 0, label.stderr);
  // Not createNamespace(): that also waits for the controller-manager, which takes its own time to reconnect.
  const ns = await cp.request('POST', '/api/v1/namespaces', { metadata: { name: 'newcomer', labels: { 'dev.x/policy': 'after' } } });
  assert.equal(ns.status, 201, ns.body);
  await eventually('consistent after the restart', () =>
    policySpec('before')?.maxWorkloads === 2 &&
    policySpec('after')?.maxWorkloads === 9 &&
    c.namespaceLabels('survivor')?.['dev.x/policy'] === 'after' &&
    c.namespaceLabels('newcomer')?.['dev.x/policy'] === 'after',
  );
  console.log(`cache consistent ${Math.round(performance.now() - t0)} ms after the API server was stopped`);
  await deleteObject(kc, devPolicy('after', {}));
  await eventually('delete seen after the restart', () => c.devPolicy('after') === undefined);
  assert.equal(c.ready(), true);
});

test('registerWebhooks is idempotent, the API server accepts the objects, and unregister removes them', async () => {
  const deadPort = await freePort(); // nothing listens here: devx is "down"
  const opts = { url: `https://127.0.0.1:${deadPort}`, caBundlePem: cp.ca.certPem, excludedNamespaces: ['devx-system'] };
  const first = await registerWebhooks(kc, opts);
  const second = await registerWebhooks(kc, opts);
  assert.deepEqual(second, first, 'a second registration changes nothing, not even the resourceVersion');

  const wanted = webhookConfigurations(opts);
  const stored = JSON.parse((await cp.kubectl(['get', 'mutatingwebhookconfiguration', 'devx', '-o', 'json'])).stdout) as typeof wanted.mutating;
  assert.deepEqual(stored.webhooks.map((w) => w.name), ['pods.dev.x', 'workloads.dev.x', 'scale.dev.x']);
  // Everything devx sets comes back as set (the API server only adds defaults for fields devx leaves out).
  for (const [i, w] of wanted.mutating.webhooks.entries()) {
    const got = stored.webhooks[i] as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(w)) assert.deepEqual(got[k], v, `mutating ${w.name}.${k}`);
  }
  const validating = JSON.parse((await cp.kubectl(['get', 'validatingwebhookconfiguration', 'devx', '-o', 'json'])).stdout) as typeof wanted.validating;
  assert.deepEqual(validating.webhooks.map((w) => w.name), ['validate.dev.x']);
  assert.equal(validating.webhooks[0]?.clientConfig.url, `${opts.url}/validate`);

  // A new CA bundle (rotation) is an update of the same objects.
  const rotated = await registerWebhooks(kc, { ...opts, caBundlePem: cp.ca.certPem + cp.ca.certPem });
  assert.notEqual(rotated.mutating.metadata.name, undefined);
  assert.equal(rotated.mutating.webhooks[0]?.clientConfig.caBundle, Buffer.from(cp.ca.certPem + cp.ca.certPem).toString('base64'));

  // With devx down: outside dev mode nothing is affected; dev-mode objects are refused rather than half-done.
  await cp.createNamespace('devns', { 'dev.x/policy': 'default' });
  const deploy = (name: string, labels: Record<string, string>) =>
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } },
      },
    });
  const plain = await cp.kubectl(['apply', '-f', '-'], { namespace: 'devns', input: deploy('plain', {}) });
  assert.equal(plain.code, 0, plain.stderr);
  const scaled = await cp.kubectl(['scale', 'deployment', 'plain', '--replicas=2'], { namespace: 'devns' });
  assert.equal(scaled.code, 0, `scale webhook fails open: ${scaled.stderr}`);
  const labelled = await cp.kubectl(['apply', '-f', '-'], { namespace: 'devns', input: deploy('dev', { 'dev.x/enabled': 'true' }) });
  assert.notEqual(labelled.code, 0, 'a workload entering dev mode is refused while devx is down');
  assert.match(labelled.stderr, /workloads\.dev\.x|validate\.dev\.x/);
  const labelPlain = await cp.kubectl(['label', 'deployment', 'plain', 'dev.x/enabled=true'], { namespace: 'devns' });
  assert.notEqual(labelPlain.code, 0, 'labelling is refused too');
  const otherLabel = await cp.kubectl(['label', 'deployment', 'plain', 'team=b'], { namespace: 'devns' });
  assert.equal(otherLabel.code, 0, otherLabel.stderr);

  await unregisterWebhooks(kc);
  await unregisterWebhooks(kc); // absent is fine
  const gone = await cp.kubectl(['get', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', '-o', 'name']);
  assert.equal(gone.stdout.trim(), '');
  const nowOk = await cp.kubectl(['apply', '-f', '-'], { namespace: 'devns', input: deploy('dev', { 'dev.x/enabled': 'true' }) });
  assert.equal(nowOk.code, 0, nowOk.stderr);
});

test('applyFile applies the generated deploy/crds files and waits until they are Established', async (t) => {
  const dir = path.resolve(import.meta.dirname, '../../deploy/crds');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : [];
  if (files.length === 0) {
    t.skip('no deploy/crds/*.yaml yet');
    return;
  }
  for (const f of files) {
    const applied = await applyFile(kc, path.join(dir, f));
    assert.ok(applied.length > 0, f);
  }
  const crd = await cp.kubectl(['get', 'crd', 'devpolicies.dev.x', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
  assert.equal(crd.stdout, 'True');
});
