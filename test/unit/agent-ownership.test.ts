import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownershipAdvice } from '../../src/agent/ownership.ts';

const deploy = { kind: 'Deployment', name: 'reviews', namespace: 'bookinfo' } as const;

test('no advice when the dev container runs as root, as the sidecar, or as a user not reported yet', () => {
  assert.equal(ownershipAdvice({ target: 'reviews', dev: { uid: 0, gid: 0 }, sidecarUid: 1000 }, deploy), undefined);
  assert.equal(ownershipAdvice({ target: 'reviews', dev: { uid: 1000, gid: 1000 }, sidecarUid: 1000 }, deploy), undefined);
  assert.equal(ownershipAdvice({ target: 'reviews', sidecarUid: 1000 }, deploy), undefined);
  assert.equal(ownershipAdvice({ target: 'reviews', dev: { uid: 2000, gid: 2000 } }, deploy), undefined);
});

test('an image-default user other than the sidecar\'s: why, and the kubectl patch that fixes the user in the template', () => {
  const text = ownershipAdvice({ target: 'reviews', dev: { uid: 2000, gid: 3000 }, sidecarUid: 1000 }, deploy) ?? '';
  assert.match(text, /runs as uid 2000 \(its image's user\) and the sidecar as uid 1000: files synced into the pod are read-only/);
  const patch = /kubectl patch deployment\/reviews -n bookinfo -p '(.*)'$/.exec(text)?.[1];
  assert.deepEqual(JSON.parse(patch ?? 'null'), { spec: { template: { spec: { containers: [{ name: 'reviews', securityContext: { runAsUser: 2000, runAsGroup: 3000 } }] } } } });
  const cron = ownershipAdvice({ target: 'n', dev: { uid: 2000, gid: 2000 }, sidecarUid: 1000 }, { kind: 'CronJob', name: 'nightly', namespace: 'ns' }) ?? '';
  const cronPatch = JSON.parse(/-p '(.*)'$/.exec(cron)?.[1] ?? 'null');
  assert.deepEqual(cronPatch.spec.jobTemplate.spec.template.spec.containers[0].securityContext, { runAsUser: 2000, runAsGroup: 2000 });
  const pod = ownershipAdvice({ target: 'app', dev: { uid: 2000, gid: 2000 }, sidecarUid: 1000 }, { kind: 'Pod', name: 'solo', namespace: 'ns' }) ?? '';
  assert.match(pod, /create the pod again with securityContext.runAsUser: 2000 and runAsGroup: 2000 on container app/);
});
