// devx's records are devx's, and admission decides from the workload (DESIGN §10): the pure core, no network. The
// same attacks run against the real control plane in test/e2e/security-attacks.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admit } from '../../src/core/admit.ts';
import type { AdmissionContext } from '../../src/core/context.ts';
import type { KubeObject } from '../../src/core/kube.ts';
import { requestFor } from '../../src/core/preview.ts';
import { recordsOf, signRecords, verifiedRecords } from '../../src/core/records.ts';
import { staticView } from '../../src/core/static-view.ts';
import { hmacSigner, randomRecordKey } from '../../src/tls/record-signer.ts';
import { answerReview } from '../../src/webhook/review.ts';

const signer = hmacSigner(Buffer.from('security unit test record key 32'));
const DEVX = 'system:serviceaccount:devx-system:devx';
const NS = 'dev';
const policy = { apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'p' }, spec: {} };
const teamPolicy = { apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'team' }, spec: { subjects: { users: ['alice'] } } };
const namespaces = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'dev.x/policy': 'p' } } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', labels: { 'dev.x/policy': 'team' } } },
];

function ctx(objects: KubeObject[] = []): AdmissionContext {
  return { view: staticView([...namespaces, policy, teamPolicy, ...objects]), now: new Date('2026-06-01T00:00:00Z'), version: 't', signer, self: DEVX };
}

const mallory = { username: 'mallory', groups: ['system:authenticated'] };

function deployment(o: { labelled?: boolean; templateLabelled?: boolean; annotations?: Record<string, string>; ns?: string } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: o.ns ?? NS, uid: 'u-web', ...(o.labelled ? { labels: { 'dev.x/enabled': 'true' } } : {}), ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web', ...(o.templateLabelled ? { 'dev.x/enabled': 'true' } : {}) } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } },
    },
  };
}

function signed(obj: KubeObject): KubeObject {
  const out = structuredClone(obj);
  signRecords(out, { signer, namespace: out.metadata?.namespace ?? NS });
  return out;
}

const decide = (route: 'pods' | 'workloads' | 'validate', o: Parameters<typeof requestFor>[0], c = ctx()) => admit(route, requestFor(o), c);

test('a record set verifies only on the object it was signed for, unchanged, with the key it was signed with', () => {
  const d = signed(deployment({ labelled: true, annotations: { 'dev.x/enabled-at': '2026-06-01T00:00:00Z', 'dev.x/original-replicas': '3' } }));
  assert.deepEqual(verifiedRecords(d, { signer, namespace: NS }), recordsOf(d));
  const renamed = { ...d, metadata: { ...d.metadata, name: 'other' } };
  assert.equal(verifiedRecords(renamed, { signer, namespace: NS }), undefined, 'copied to another object');
  const edited = structuredClone(d);
  (edited.metadata?.annotations as Record<string, string>)['dev.x/original-replicas'] = '50';
  assert.equal(verifiedRecords(edited, { signer, namespace: NS }), undefined, 'a value changed');
  assert.equal(verifiedRecords(d, { signer: hmacSigner(randomRecordKey()), namespace: NS }), undefined, 'another key');
  assert.deepEqual(verifiedRecords(deployment(), { signer, namespace: NS }), {}, 'no records at all');
});

test('a pod signature binds what was injected: another sidecar under a copied status does not verify', () => {
  const made = decide('pods', { object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', namespace: NS, labels: { 'dev.x/enabled': 'true' } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } }, user: mallory });
  assert.equal(made.kind, 'mutate');
  const pod = (made as { object: KubeObject }).object;
  assert.ok(verifiedRecords(pod, { signer, namespace: NS }));
  const decoy = structuredClone(pod) as KubeObject & { spec: { containers: Array<{ name: string; image?: string }> } };
  decoy.spec.containers[1]!.image = 'attacker/syncthing:evil';
  assert.equal(verifiedRecords(decoy, { signer, namespace: NS }), undefined);
  const answer = decide('validate', { object: decoy, user: mallory });
  assert.equal(answer.kind, 'deny');
});

test('the dev label on a pod template: devx sets it on a workload in dev mode; on any other template it is denied', () => {
  // Leaving dev mode where devx's mutation did not run (the namespace lost dev.x/policy): the label the template
  // already carried is not written by this request, and leaving is never denied.
  const leaving = decide('validate', { object: deployment({ templateLabelled: true }), oldObject: deployment({ labelled: true, templateLabelled: true }), user: mallory });
  assert.equal(leaving.kind, 'skip');
  const onUnlabelled = decide('validate', { object: deployment({ templateLabelled: true }), user: mallory });
  assert.equal(onUnlabelled.kind, 'deny');
  assert.match((onUnlabelled as { message: string }).message, /pod template of Deployment web carries dev.x\/enabled=true.*kubectl label deployment web dev.x\/enabled=true/);
  const rs = (owner?: string): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-1', namespace: NS, labels: { 'dev.x/enabled': 'true' }, ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner, name: 'web', uid: 'u', controller: true }] } : {}) },
    spec: { template: { metadata: { labels: { 'dev.x/enabled': 'true' } }, spec: { containers: [{ name: 'c', image: 'c' }] } } },
  });
  assert.equal(admit('validate', { ...requestFor({ object: rs(), user: mallory }), kind: { group: 'apps', version: 'v1', kind: 'ReplicaSet' } }, ctx()).kind, 'deny');
  assert.equal(admit('validate', { ...requestFor({ object: rs('Deployment'), user: mallory }), kind: { group: 'apps', version: 'v1', kind: 'ReplicaSet' } }, ctx()).kind, 'skip');
  const rc = { ...rs(), kind: 'ReplicationController', apiVersion: 'v1' };
  assert.equal(admit('validate', { ...requestFor({ object: rc, user: mallory }), kind: { group: '', version: 'v1', kind: 'ReplicationController' } }, ctx()).kind, 'deny');
  // Positive control: the labelled workload's own template, as the mutating route leaves it, passes.
  const entered = decide('workloads', { object: deployment({ labelled: true }), user: mallory });
  assert.equal(entered.kind, 'mutate');
  assert.equal(decide('validate', { object: (entered as { object: KubeObject }).object, user: mallory }).kind, 'skip');
});

test("devx's sync Secrets: written by devx alone", () => {
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'devx-sync-pod-x', namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'devx', 'app.kubernetes.io/component': 'sync-secret' }, annotations: { 'dev.x/workload': 'pod/x', 'dev.x/pending-pod': '{}' } } };
  const req = (user: { username: string }) => ({ ...requestFor({ object: secret, user }), kind: { group: '', version: 'v1', kind: 'Secret' }, resource: { group: '', version: 'v1', resource: 'secrets' } });
  const denied = admit('validate', req(mallory), ctx());
  assert.equal(denied.kind, 'deny');
  assert.match((denied as { message: string }).message, /sync Secrets are made and changed by devx alone/);
  assert.equal(admit('validate', req({ username: DEVX }), ctx()).kind, 'skip');
  const plain = { ...req(mallory), object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'mine', namespace: NS } } };
  assert.equal(admit('validate', plain, ctx()).kind, 'skip');
});

test('a forged scale review sent straight to devx changes nothing: the answer is a warning, not a patch', () => {
  const d = signed(deployment({ labelled: true, annotations: { 'dev.x/enabled-at': '2026-06-01T00:00:00Z', 'dev.x/original-replicas': '3' } }));
  const scale = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web', namespace: NS }, spec: { replicas: 50 } };
  const request = {
    ...requestFor({ object: scale, user: mallory }),
    kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
    resource: { group: 'apps', version: 'v1', resource: 'deployments' },
    subResource: 'scale',
    operation: 'UPDATE' as const,
    name: 'web',
  };
  const out = answerReview('workloads', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }, ctx([d]));
  const response = (out.body as { response: { allowed: boolean; patch?: string; warnings?: string[] } }).response;
  assert.equal(response.allowed, true);
  assert.equal(response.patch, undefined);
  assert.match(response.warnings?.[0] ?? '', /50 will be restored/);
  assert.equal(Object.keys(out).includes('effects'), false);
});

test('a bare pod: its requester must pass the policy; a pod devx recreates carries its own record', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', namespace: 'team', labels: { 'dev.x/enabled': 'true' } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } };
  assert.equal(decide('pods', { object: pod, user: mallory }).kind, 'deny');
  assert.equal(decide('pods', { object: pod, user: { username: 'alice' } }).kind, 'mutate');
  // devx recreating a pod that alice labelled (the original kept for the way back).
  const recreated = { ...pod, metadata: { ...pod.metadata, annotations: { 'dev.x/original-pod': JSON.stringify({ ...pod, metadata: { name: 'solo', namespace: 'team' } }), 'dev.x/enabled-by': 'alice' } } };
  assert.equal(decide('pods', { object: recreated, user: { username: DEVX } }).kind, 'mutate');
  // The same record brought by anyone else is refused.
  assert.equal(decide('pods', { object: recreated, user: { username: 'alice' } }).kind, 'deny');
});

test('a labelled workload devx never admitted, completed by devx itself: refused where the policy names its subjects', () => {
  const w = deployment({ labelled: true, templateLabelled: true, ns: 'team' });
  const r = decide('workloads', { object: w, oldObject: w, user: { username: DEVX } });
  assert.equal(r.kind, 'deny');
  assert.match((r as { message: string }).message, /names who may use it/);
  // Positive control: where anyone may, devx completes it.
  const open = deployment({ labelled: true, templateLabelled: true });
  assert.equal(decide('workloads', { object: open, oldObject: open, user: { username: DEVX } }).kind, 'mutate');
});

test('owner chains: a DaemonSet copy and a CronJob Job lead to their workload; a forged copy does not', () => {
  const ds = signed({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: NS, uid: 'u-ds', labels: { 'dev.x/enabled': 'true' }, annotations: { 'dev.x/enabled-at': '2026-06-01T00:00:00Z' } } });
  const copy = (sign: boolean): KubeObject => {
    const c: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'agent-devx', namespace: NS, uid: 'u-copy', annotations: { 'dev.x/copy-of': 'daemonset/agent' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'u-ds' }] } };
    return sign ? signed(c) : c;
  };
  // As the Deployment controller makes it: with the copy's annotations (its records, signed for the copy).
  const rs: KubeObject = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'agent-devx-1', namespace: NS, uid: 'u-rs', annotations: copy(true).metadata?.annotations ?? {}, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'agent-devx', uid: 'u-copy', controller: true }] } };
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'agent-devx-1-', namespace: NS, labels: { 'dev.x/enabled': 'true' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'agent-devx-1', uid: 'u-rs', controller: true }] },
    spec: { containers: [{ name: 'a', image: 'a:1' }] },
  };
  const ok = decide('pods', { object: pod, user: mallory }, ctx([ds, copy(true), rs]));
  assert.equal(ok.kind, 'mutate');
  assert.equal((ok as { object: KubeObject }).object.metadata?.annotations?.['dev.x/workload'], 'daemonset/agent');
  const forged = decide('pods', { object: pod, user: mallory }, ctx([ds, copy(false), rs]));
  assert.equal(forged.kind, 'deny');
  assert.match((forged as { message: string }).message, /devx did not make it/);
  const cj = signed({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: NS, uid: 'u-cj', labels: { 'dev.x/enabled': 'true' }, annotations: { 'dev.x/enabled-at': '2026-06-01T00:00:00Z' } } });
  const job: KubeObject = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'nightly-1', namespace: NS, uid: 'u-j', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'u-cj', controller: true }] } };
  const jobPod = { ...pod, metadata: { ...pod.metadata, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'nightly-1', uid: 'u-j', controller: true }] } };
  assert.equal(decide('pods', { object: jobPod, user: mallory }, ctx([cj, job])).kind, 'mutate');
  // The CronJob unlabelled (not in dev mode): its Job's labelled pod is refused.
  const plainCj = { ...cj, metadata: { ...cj.metadata, labels: {} } };
  assert.equal(decide('pods', { object: jobPod, user: mallory }, ctx([plainCj, job])).kind, 'deny');
});
