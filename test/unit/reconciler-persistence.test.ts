// The workdir claim (DevPolicy `persistence`), pure: its name, its object, how devx knows its own, the policy field,
// and the reconciler's decisions about it. No network, no clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, Pod } from '../../src/core/kube.ts';
import { recordsOf, signRecords, verifiedRecords } from '../../src/core/records.ts';
import { syncSecretName, workdirClaimName } from '../../src/core/secret-name.ts';
import { prepareWorkdir, workdirClaimOf } from '../../src/core/workdir-volume.ts';
import { DevPolicySpecSchema, parseDevPolicy } from '../../src/schemas/policy.ts';
import { keyOfVolume, type WorkloadKey } from '../../src/reconciler/keys.ts';
import { planStep, type Observed, type Step } from '../../src/reconciler/plan.ts';
import { isWorkdirVolumeOf, WORKDIR_VOLUME_SELECTOR, workdirVolumeObject } from '../../src/reconciler/workdir-volume-object.ts';
import { hmacSigner } from '../../src/tls/record-signer.ts';

const NOW = new Date('2026-05-01T12:00:00Z');
const SIGNER = hmacSigner(Buffer.from('persistence unit test record key'));
const persistent = DevPolicySpecSchema.parse({ persistence: { size: '5Gi', storageClassName: 'fast' } });
const ephemeral = DevPolicySpecSchema.parse({});
const key: WorkloadKey = { kind: 'Deployment', namespace: 'ns', name: 'web' };
const OWNER = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web' };

/** In dev mode (as admission leaves it), or out of it and restored (no dev label, no records). */
function deployment(o: { labelled?: boolean; keep?: boolean } = {}): KubeObject {
  const on = o.labelled ?? true;
  const labels: Record<string, string> = on ? { 'dev.x/enabled': 'true' } : {};
  if (o.keep) labels['dev.x/keep-volume'] = 'true';
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'ns', uid: 'uid-web', labels, ...(on ? { annotations: { 'dev.x/enabled-at': '2026-05-01T11:00:00Z', 'dev.x/enabled-by': 'alice' } } : {}) },
    spec: { replicas: 1, template: { metadata: { labels: on ? { 'dev.x/enabled': 'true' } : {} }, spec: { containers: [{ name: 'web', image: 'web:1' }] } } },
  };
}

const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'devx-sync-deployment-web', uid: 'uid-secret', ownerReferences: [OWNER] } };

function claim(o: { ownerUid?: string; deleting?: boolean } = {}): KubeObject {
  const c = workdirVolumeObject(key, { size: '5Gi', storageClassName: 'fast' }, { ...OWNER, uid: o.ownerUid ?? 'uid-web' });
  c.metadata = { ...c.metadata, uid: 'uid-claim', ...(o.deleting ? { deletionTimestamp: '2026-05-01T11:59:00Z' } : {}) };
  return c;
}

function observed(extra: Partial<Observed>): Observed {
  return { key, now: NOW, hints: new Set(), tried: new Set(), policy: persistent, namespaceEnabled: true, records: recordsOf(extra.workload), secret, secretValid: true, ...extra };
}

const reasons = (s: Step): string[] => s.events.map((e) => e.reason);

test('the claim is named like the sync Secret: devx-workdir-<kind>-<name>, shortened with the same stable hash', () => {
  assert.equal(workdirClaimName('Deployment', 'reviews'), 'devx-workdir-deployment-reviews');
  assert.equal(workdirClaimName('CronJob', 'nightly'), 'devx-workdir-cronjob-nightly');
  const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  for (const [kind, name] of [['StatefulSet', 'a'.repeat(253)], ['Deployment', 'reviews.v2']] as const) {
    const n = workdirClaimName(kind, name);
    assert.ok(n.length <= 63 && label.test(n), n);
    // The same hash as the Secret's name: both end in the digest of `<kind>/<name>`.
    assert.equal(n.slice(-10), syncSecretName(kind, name).slice(-10));
  }
  // 40 characters fit the Secret's name but not the claim's (a longer prefix).
  assert.equal(syncSecretName('Deployment', 'n'.repeat(40)), `devx-sync-deployment-${'n'.repeat(40)}`);
  assert.match(workdirClaimName('Deployment', 'n'.repeat(40)), /^devx-workdir-deployment-n+-[0-9a-f]{10}$/);
  assert.notEqual(workdirClaimName('Deployment', 'a'.repeat(60)), workdirClaimName('Deployment', `${'a'.repeat(60)}b`));
});

test('policy: persistence is off by default; {} means 2Gi in the default StorageClass; bad sizes and class names are refused with their path', () => {
  assert.equal(ephemeral.persistence, undefined);
  assert.deepEqual(DevPolicySpecSchema.parse({ persistence: {} }).persistence, { size: '2Gi' });
  assert.deepEqual(DevPolicySpecSchema.parse({ persistence: { size: '500Mi', storageClassName: '' } }).persistence, { size: '500Mi', storageClassName: '' });
  const bad = parseDevPolicy({ apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'p' }, spec: { persistence: { size: 'lots', storageClassName: 'Fast_SSD', extra: 1 } } });
  assert.equal(bad.ok, false);
  const errors = bad.ok ? [] : bad.error.join('\n');
  assert.match(String(errors), /spec\.persistence\.size.*storage size such as 2Gi/);
  assert.match(String(errors), /spec\.persistence\.storageClassName.*name of a StorageClass/);
  assert.match(String(errors), /extra/);
  for (const size of ['0', '0Gi', '-1Gi', '1.5', '2GB']) assert.equal(DevPolicySpecSchema.safeParse({ persistence: { size } }).success, size === '1.5', size);
});

test('the claim object: ReadWriteOnce, the policy size and class, owned by the workload, labelled, its record signed and verifiable for this name only', () => {
  const c = workdirVolumeObject(key, { size: '5Gi', storageClassName: 'fast' }, OWNER);
  assert.deepEqual(c.spec, { accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem', resources: { requests: { storage: '5Gi' } }, storageClassName: 'fast' });
  assert.deepEqual(c.metadata?.ownerReferences, [OWNER]);
  assert.equal(WORKDIR_VOLUME_SELECTOR, 'app.kubernetes.io/managed-by=devx,app.kubernetes.io/component=workdir');
  assert.equal(workdirVolumeObject(key, { size: '1Gi' }, OWNER).spec?.storageClassName, undefined, 'absent: the default class');
  assert.deepEqual(keyOfVolume({ ...c, metadata: { ...c.metadata, namespace: 'ns' } }), key);

  signRecords(c, { signer: SIGNER, namespace: 'ns' });
  const verify = (o: KubeObject): ReturnType<typeof verifiedRecords> => verifiedRecords(o, { signer: SIGNER, namespace: 'ns' });
  assert.equal(isWorkdirVolumeOf(c, key, verify(c)), true);
  assert.equal(isWorkdirVolumeOf(c, { ...key, name: 'other' }, verify(c)), false, 'not another workload\'s');
  // A user's claim with devx's labels and a copied record: the signature binds the claim's own name.
  const lookalike: KubeObject = { ...structuredClone(c), metadata: { ...structuredClone(c.metadata), name: 'devx-workdir-deployment-other' } };
  assert.equal(verify(lookalike), undefined);
  const unsigned = workdirVolumeObject(key, { size: '5Gi' }, OWNER);
  assert.equal(isWorkdirVolumeOf(unsigned, key, verify(unsigned)), false, 'labels and an unsigned record prove nothing');
});

test('injection: persistence mounts the workload\'s claim (copies mount their source\'s); a bare pod and a policy without persistence keep the emptyDir', () => {
  assert.equal(workdirClaimOf(persistent, 'deployment/web'), 'devx-workdir-deployment-web');
  assert.equal(workdirClaimOf(persistent, 'daemonset/agent'), 'devx-workdir-daemonset-agent');
  assert.equal(workdirClaimOf(persistent, 'pod/solo'), undefined);
  assert.equal(workdirClaimOf(ephemeral, 'deployment/web'), undefined);
  const pod = (securityContext?: Record<string, unknown>, volumes: Pod['spec']['volumes'] = []): Pod => ({ metadata: {}, spec: { containers: [{ name: 'c' }], volumes, ...(securityContext ? { securityContext } : {}) } });
  const plain = pod({ runAsNonRoot: true });
  assert.deepEqual(prepareWorkdir(plain, { spec: persistent, workload: 'deployment/web', sidecarGid: 2000 }).claim, 'devx-workdir-deployment-web');
  assert.deepEqual(plain.spec.securityContext, { runAsNonRoot: true, fsGroup: 2000, fsGroupChangePolicy: 'OnRootMismatch' });
  const own = pod({ fsGroup: 0 });
  assert.deepEqual(prepareWorkdir(own, { spec: persistent, workload: 'deployment/web', sidecarGid: 2000 }).warnings.length, 1);
  assert.deepEqual(own.spec.securityContext, { fsGroup: 0 }, 'a pod\'s own fsGroup stays, even 0');
  // Pod-scoped volumes do not stop devx; a hostPath or a claim of the user's does.
  const scoped = pod(undefined, [{ name: 'tmp', emptyDir: {} }, { name: 'cfg', configMap: { name: 'x' } }, { name: 'tok', projected: {} }]);
  prepareWorkdir(scoped, { spec: persistent, workload: 'statefulset/db', sidecarGid: 1000 });
  assert.equal((scoped.spec.securityContext as { fsGroup?: number }).fsGroup, 1000);
  const lasting = pod(undefined, [{ name: 'host', hostPath: { path: '/var/data' } }]);
  const r = prepareWorkdir(lasting, { spec: persistent, workload: 'statefulset/db', sidecarGid: 1000 });
  assert.equal(lasting.spec.securityContext, undefined);
  assert.match(r.warnings[1] ?? '', /other lasting volumes \(host\).*set spec\.securityContext\.fsGroup/);
  const off = pod();
  assert.deepEqual(prepareWorkdir(off, { spec: ephemeral, workload: 'deployment/web', sidecarGid: 1000 }), { warnings: [] });
  assert.equal(off.spec.securityContext, undefined, 'no persistence: the pod is not touched');
});

test('dev mode on: after the Secret, the claim is created once, owned by the workload, with the policy\'s size and class', () => {
  const w = deployment();
  const step = planStep(observed({ workload: w }));
  assert.equal(step.type, 'create-volume');
  assert.deepEqual(step.type === 'create-volume' && step.owner, OWNER);
  assert.deepEqual(step.type === 'create-volume' && step.persistence, { size: '5Gi', storageClassName: 'fast' });
  assert.deepEqual(reasons(step), ['VolumeCreated']);
  assert.match(step.events[0]!.note, /devx-workdir-deployment-web created \(5Gi, StorageClass "fast"\)/);
  // The Secret comes first.
  assert.equal(planStep(observed({ workload: w, secret: undefined })).type, 'create-secret');
  // In place: nothing more to do.
  assert.equal(planStep(observed({ workload: w, volume: claim() })).type, 'done');
  // No persistence in the policy: no claim; a policy that does not resolve changes nothing either.
  assert.equal(planStep(observed({ workload: w, policy: ephemeral })).type, 'done');
  assert.equal(planStep(observed({ workload: w, policy: undefined })).type, 'done');
  // A bare pod never gets one.
  const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'ns', uid: 'uid-pod', labels: { 'dev.x/enabled': 'true' }, annotations: { 'dev.x/enabled-at': '2026-05-01T11:00:00Z', 'dev.x/status': '{}' } }, spec: { containers: [] } };
  assert.equal(planStep(observed({ key: { ...key, kind: 'Pod' }, workload: pod, secret: { ...secret, metadata: { ...secret.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'uid-pod' }] } } })).type, 'done');
});

test('dev mode on: a claim of that name devx did not make is neither adopted nor deleted; an old one is waited for or replaced', () => {
  const w = deployment();
  const taken = planStep(observed({ workload: w, volumeForeign: true }));
  assert.equal(taken.type, 'done');
  assert.deepEqual(reasons(taken), ['VolumeNameTaken']);
  assert.equal(taken.events[0]!.type, 'Warning');
  assert.match(taken.events[0]!.note, /not devx's: devx neither adopts nor deletes it.*rename or delete it/);
  // Without persistence in the policy, a claim of that name is nobody's business.
  assert.deepEqual(reasons(planStep(observed({ workload: w, volumeForeign: true, policy: ephemeral }))), []);
  // Ours, being deleted (a pod still holds it): look again shortly, make nothing else meanwhile.
  const waiting = planStep(observed({ workload: w, volume: claim({ deleting: true }) }));
  assert.equal(waiting.type === 'done' && waiting.afterMs, 1000);
  // Ours, but made for an earlier Deployment of this name (its owner is gone): deleted, then made again.
  const stale = planStep(observed({ workload: w, volume: claim({ ownerUid: 'uid-old' }) }));
  assert.equal(stale.type, 'delete-volume');
  assert.deepEqual(reasons(stale), ['Repaired']);
  // Ours without an owner reference (removed by someone): still this workload's, never deleted on a guess.
  const orphan = claim();
  delete orphan.metadata?.ownerReferences;
  assert.equal(planStep(observed({ workload: w, volume: orphan })).type, 'done');
  // During dev mode a claim is never deleted because the policy no longer asks for one.
  assert.equal(planStep(observed({ workload: w, volume: claim(), policy: ephemeral })).type, 'done');
  assert.equal(planStep(observed({ workload: w, volume: claim(), policy: undefined })).type, 'done');
});

test('dev mode off: the claim goes before the Secret; with dev.x/keep-volume=true it stays (VolumeKept), and is reused next time', () => {
  const off = deployment({ labelled: false });
  const step = planStep(observed({ workload: off, volume: claim() }));
  assert.equal(step.type, 'delete-volume');
  assert.deepEqual(reasons(step), ['VolumeDeleted']);
  assert.match(step.events[0]!.note, /label the Deployment dev\.x\/keep-volume=true to keep it/);
  // Being deleted (the dev pod still stopping): the Secret goes meanwhile.
  const next = planStep(observed({ workload: off, volume: claim({ deleting: true }) }));
  assert.equal(next.type, 'delete-secret');
  assert.deepEqual(reasons(next), ['DevModeLeft', 'SyncSecretDeleted']);

  const kept = deployment({ labelled: false, keep: true });
  const keep = planStep(observed({ workload: kept, volume: claim() }));
  assert.equal(keep.type, 'delete-secret');
  assert.deepEqual(reasons(keep), ['DevModeLeft', 'SyncSecretDeleted', 'VolumeKept']);
  assert.match(keep.events[2]!.note, /kubectl delete pvc devx-workdir-deployment-web/);
  assert.equal(planStep(observed({ workload: kept, volume: claim(), secret: undefined })).type, 'done', 'kept while the label is there');
  // The label removed later: the claim goes.
  assert.equal(planStep(observed({ workload: off, volume: claim(), secret: undefined })).type, 'delete-volume');
  // Back in dev mode: the kept claim is this workload's; nothing is made again.
  assert.equal(planStep(observed({ workload: deployment({ keep: true }), volume: claim() })).type, 'done');
  // keep-volume does not keep a claim of an earlier workload of the name, nor one whose workload is gone.
  assert.equal(planStep(observed({ workload: kept, volume: claim({ ownerUid: 'uid-old' }), secret: undefined })).type, 'delete-volume');
  assert.equal(planStep(observed({ workload: undefined, records: {}, volume: claim(), secret: undefined })).type, 'delete-volume');
  // A namespace without dev.x/policy: nothing deleted there.
  assert.equal(planStep(observed({ workload: off, volume: claim(), namespaceEnabled: false })).type, 'done');
});
