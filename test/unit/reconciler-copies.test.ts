// The objects the reconciler makes, as data: dev copies of Jobs, CronJobs and DaemonSets, the pods that replace a
// bare pod, and the sync Secret object. No network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/core/kube.ts';
import { copyName, desiredCopy, sourceHashOf } from '../../src/reconciler/copies.ts';
import { devPodOf, originalPodOf, parsePendingPod, storedOriginalOf } from '../../src/reconciler/pods.ts';
import { isSyncSecretOf, syncSecretObject } from '../../src/reconciler/sync-secret-object.ts';
import { secretDataGenerator } from '../../src/reconciler/secret-generator.ts';
import { buildSyncSecretData, readSyncSecretData } from '../../src/sync/secret.ts';

const job: KubeObject = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'train', namespace: 'ml', uid: 'uid-job', labels: { team: 'ml', 'dev.x/enabled': 'true' }, annotations: { 'dev.x/image': 'dev/py:3', 'dev.x/enabled-at': 'x' } },
  spec: {
    parallelism: 4,
    completions: 8,
    activeDeadlineSeconds: 600,
    ttlSecondsAfterFinished: 100,
    suspend: false,
    backoffLimit: 2,
    selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'uid-job' } },
    manualSelector: false,
    template: {
      metadata: { labels: { app: 'train', 'controller-uid': 'uid-job', 'job-name': 'train', 'batch.kubernetes.io/controller-uid': 'uid-job', 'batch.kubernetes.io/job-name': 'train' } },
      spec: { restartPolicy: 'Never', containers: [{ name: 'train', image: 'train:1' }] },
    },
  },
};

test('copyName: <name>-devx, or for long names a stable hashed name that fits a label value', () => {
  assert.equal(copyName('train'), 'train-devx');
  const long = 'a'.repeat(60);
  const n = copyName(long);
  assert.ok(n.length <= 63 && n.endsWith('-devx'), n);
  assert.equal(copyName(long), n);
  assert.notEqual(copyName(`${'a'.repeat(59)}b`), n);
  assert.match(n, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
});

test("Job copy: generated selector and labels stripped, no deadline/TTL/suspend, one pod, template labelled for the source's Secret", () => {
  const copy = desiredCopy('Job', job)!;
  const spec = copy.spec as any;
  assert.equal(copy.metadata?.name, 'train-devx');
  assert.deepEqual(copy.metadata?.labels, { team: 'ml', 'dev.x/copy': 'train-devx' });
  assert.equal(copy.metadata?.annotations?.['dev.x/copy-of'], 'job/train');
  assert.deepEqual(copy.metadata?.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: 'train', uid: 'uid-job' }]);
  for (const gone of ['selector', 'manualSelector', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished', 'suspend']) assert.equal(spec[gone], undefined, gone);
  assert.equal(spec.parallelism, 1);
  assert.equal(spec.completions, 8);
  assert.equal(spec.backoffLimit, 2);
  assert.deepEqual(spec.template.metadata.labels, { app: 'train', 'dev.x/enabled': 'true' });
  assert.deepEqual(spec.template.metadata.annotations, { 'dev.x/workload': 'job/train', 'dev.x/image': 'dev/py:3' });
  assert.equal((job.spec as any).template.metadata.labels['job-name'], 'train', 'the source is not changed');
});

test('CronJob dev Job: from the jobTemplate, its metadata kept, owned by the CronJob', () => {
  const cron: KubeObject = {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: 'ns', uid: 'uid-cron' },
    spec: { schedule: '0 3 * * *', suspend: true, jobTemplate: { metadata: { labels: { kind: 'report' }, annotations: { a: 'b' } }, spec: { activeDeadlineSeconds: 30, template: { metadata: { labels: { 'dev.x/enabled': 'true' }, annotations: { 'dev.x/workload': 'cronjob/nightly' } }, spec: { containers: [{ name: 'n' }] } } } } },
  };
  const copy = desiredCopy('CronJob', cron)!;
  assert.equal(copy.kind, 'Job');
  assert.equal(copy.metadata?.name, 'nightly-devx');
  assert.deepEqual(copy.metadata?.labels, { kind: 'report', 'dev.x/copy': 'nightly-devx' });
  assert.equal(copy.metadata?.annotations?.a, 'b');
  assert.equal(copy.metadata?.annotations?.['dev.x/copy-of'], 'cronjob/nightly');
  assert.equal((copy.spec as any).activeDeadlineSeconds, undefined);
  assert.equal((copy.spec as any).template.metadata.annotations['dev.x/workload'], 'cronjob/nightly');
  assert.equal(desiredCopy('CronJob', { ...cron, spec: { schedule: 'x' } }), undefined);
});

test('DaemonSet dev Deployment: one replica, a selector only its own pods carry, the pause selector gone, Recreate', () => {
  const ds: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'ns', uid: 'uid-ds', labels: { app: 'agent', 'dev.x/enabled': 'true' } },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { nodeSelector: { 'dev.x/paused': 'true', disk: 'ssd' }, containers: [{ name: 'a' }] } } },
  };
  const copy = desiredCopy('DaemonSet', ds)!;
  const spec = copy.spec as any;
  assert.equal(copy.kind, 'Deployment');
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.selector, { matchLabels: { 'dev.x/copy': 'agent-devx' } });
  assert.deepEqual(spec.template.metadata.labels, { app: 'agent', 'dev.x/copy': 'agent-devx', 'dev.x/enabled': 'true' });
  assert.deepEqual(spec.template.spec.nodeSelector, { disk: 'ssd' });
  assert.deepEqual(spec.strategy, { type: 'Recreate' });
  assert.equal(copy.metadata?.labels?.['dev.x/enabled'], undefined, 'the copy itself is not labelled: admission leaves it alone');
  assert.equal(desiredCopy('Deployment', ds), undefined);
});

test('the source hash follows the spec, not the metadata of the source', () => {
  const h = sourceHashOf(desiredCopy('Job', job));
  assert.ok(h && h.length === 16);
  assert.equal(sourceHashOf(desiredCopy('Job', { ...job, metadata: { ...job.metadata, labels: { other: 'x' } } })), h);
  assert.notEqual(sourceHashOf(desiredCopy('Job', { ...job, spec: { ...job.spec, backoffLimit: 5 } })), h);
});

test('pods: the original drops the dev label, who/when and nodeName; the dev pod carries it and the original; records parse', () => {
  const p: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'solo', namespace: 'ns', uid: 'u', resourceVersion: '3', creationTimestamp: 't', managedFields: [], labels: { app: 's', 'dev.x/enabled': 'true' }, annotations: { 'dev.x/enabled-by': 'a', 'dev.x/enabled-at': 't', keep: 'me' } },
    spec: { nodeName: 'n1', containers: [{ name: 'c' }] },
    status: { phase: 'Running' },
  };
  const original = originalPodOf(p);
  assert.deepEqual(original, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', namespace: 'ns', labels: { app: 's' }, annotations: { keep: 'me' } }, spec: { containers: [{ name: 'c' }] } });
  const dev = devPodOf(p);
  assert.deepEqual(dev.metadata?.labels, { app: 's', 'dev.x/enabled': 'true' });
  assert.deepEqual(storedOriginalOf(dev), original);
  assert.equal(storedOriginalOf(original), undefined);
  const record = { replaces: 'u', pod: dev, fallback: original };
  assert.deepEqual(parsePendingPod(JSON.stringify(record)), JSON.parse(JSON.stringify(record)));
  assert.equal(parsePendingPod('{"replaces":"u","pod":{"kind":"Service"}}'), undefined);
  assert.equal(parsePendingPod('not json'), undefined);
  assert.equal(parsePendingPod(undefined), undefined);
});

test('the sync Secret object: the six keys as stringData, devx labels, the workload named, owned as told', () => {
  const key = { kind: 'Deployment' as const, namespace: 'ns', name: 'web' };
  const data = buildSyncSecretData({ workloadKind: 'Deployment', workloadName: 'web', namespace: 'ns', now: new Date() });
  const owner = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u' };
  const s = syncSecretObject(key, data, [owner]);
  assert.equal(s.metadata?.name, 'devx-sync-deployment-web');
  assert.deepEqual(s.metadata?.ownerReferences, [owner]);
  assert.equal(s.metadata?.annotations?.['dev.x/workload'], 'deployment/web');
  assert.deepEqual(s.stringData, data);
  assert.ok(isSyncSecretOf(s, key));
  assert.ok(!isSyncSecretOf(s, { ...key, name: 'other' }));
  assert.ok(!isSyncSecretOf({ metadata: { annotations: { 'dev.x/workload': 'deployment/web' } } }, key), 'not labelled as devx');
  assert.equal(syncSecretObject(key, data, []).metadata?.ownerReferences, undefined);
});

test('secret data from the worker thread: usable identities, fresh each time; the main thread stays free meanwhile', async (t) => {
  const errors: Error[] = [];
  const generate = secretDataGenerator({ onWorkerError: (e) => errors.push(e) });
  let maxGapMs = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 2);
  try {
    const opts = { workloadKind: 'Deployment', workloadName: 'web', namespace: 'ns', now: new Date() };
    const [a, b] = await Promise.all([generate(opts), generate(opts)]);
    assert.deepEqual(errors, [], 'made in the worker, not by the fallback');
    const ra = readSyncSecretData(a);
    const rb = readSyncSecretData(b);
    assert.ok(ra.ok && rb.ok);
    assert.notEqual(ra.ok && ra.value.sidecar.deviceId, rb.ok && rb.value.sidecar.deviceId);
  } finally {
    clearInterval(ticker);
    await generate.close();
  }
  t.diagnostic(`longest main-thread gap while two Secrets were generated: ${maxGapMs.toFixed(1)} ms`);
});
