// `kubectl devx sync` syncs only with a pod it has verified (DESIGN §6, §10; src/agent/verify-dev-pod.ts): the
// owner chain up to the workload, checked by uid against the objects the API server holds, and the injection record
// agreeing with the pod. The positive controls are pods exactly as devx's own injection makes them; each decoy
// changes one thing a pod creator controls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { devPodCandidates } from '../../src/agent/dev-pod.ts';
import { PodSchema, type Pod } from '../../src/agent/schemas.ts';
import { fetchedKey, firstVerified, ownerChainPermissions, verifyDevPod, type OwnerKind, type OwnerObject, type Verdict } from '../../src/agent/verify-dev-pod.ts';
import type { WorkloadRef } from '../../src/agent/workload-ref.ts';
import { injectPod } from '../../src/core/inject-pod.ts';
import type { Pod as CorePod } from '../../src/core/kube.ts';
import { DevPolicySpecSchema } from '../../src/schemas/policy.ts';

const NS = 'bookinfo';
const SPEC = DevPolicySpecSchema.parse({});

type OwnerRef = { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean };

const ctl = (apiVersion: string, kind: string, name: string, uid: string): OwnerRef => ({ apiVersion, kind, name, uid, controller: true });
const plain = (apiVersion: string, kind: string, name: string, uid: string): OwnerRef => ({ apiVersion, kind, name, uid });

/** A pod as devx's own injection makes it for `workload` (`deployment/reviews`), read back as the agent reads pods. */
function injected(name: string, workload: string, owners: OwnerRef[], created = '2026-03-04T11:00:00Z'): Pod {
  const original: CorePod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, uid: `uid-${name}`, creationTimestamp: created, labels: { app: 'reviews', 'dev.x/enabled': 'true' }, annotations: { 'dev.x/workload': workload }, ownerReferences: owners },
    spec: { containers: [{ name: 'reviews', image: 'docker.io/istio/examples-bookinfo-reviews-v1:1.20.1', ports: [{ containerPort: 9080 }] }] },
  } as CorePod;
  const decision = injectPod({ pod: original, policyName: 'default', spec: SPEC, workload, version: '0.1.0' });
  assert.equal(decision.kind, 'mutate', JSON.stringify(decision));
  return PodSchema.parse(JSON.parse(JSON.stringify(decision.kind === 'mutate' ? decision.object : undefined)));
}

function obj(name: string, uid: string, owners: OwnerRef[] = [], annotations?: Record<string, string>): OwnerObject {
  return { metadata: { name, namespace: NS, uid, ownerReferences: owners, ...(annotations ? { annotations } : {}) } };
}

/** The objects an API server holds, by `Kind/name`. */
type Cluster = Record<string, OwnerObject>;

/** verifyDevPod until it stops asking, answering from `cluster`; also which objects it read, in order. */
function verify(pod: Pod, ref: WorkloadRef, cluster: Cluster): { verdict: Exclude<Verdict, { need: unknown }>; read: string[] } {
  const fetched = new Map<string, OwnerObject | null>();
  const read: string[] = [];
  for (;;) {
    const verdict = verifyDevPod(pod, ref, fetched);
    if (!('need' in verdict)) return { verdict, read };
    const key = fetchedKey(verdict.need.kind, verdict.need.name);
    assert.ok(!fetched.has(key), `asked twice for ${key}`);
    assert.ok(read.length < 3, 'a chain is at most three links');
    read.push(key);
    fetched.set(key, cluster[key] ?? null);
  }
}

function assertOk(pod: Pod, ref: WorkloadRef, cluster: Cluster, reads: string[]): void {
  const r = verify(pod, ref, cluster);
  assert.deepEqual(r.verdict, { ok: true, value: undefined });
  assert.deepEqual(r.read, reads);
}

function assertRejected(pod: Pod, ref: WorkloadRef, cluster: Cluster, reason: RegExp): void {
  const { verdict } = verify(pod, ref, cluster);
  assert.equal(verdict.ok, false, `expected a rejection matching ${reason}`);
  assert.match(verdict.ok ? '' : verdict.error, reason);
}

// ---- Deployment: pod → ReplicaSet → Deployment ---------------------------------------------------------------------

const REVIEWS: WorkloadRef = { kind: 'Deployment', name: 'reviews', namespace: NS };
const DEPLOY = obj('reviews', 'uid-deploy');
const RS = obj('reviews-7d9f', 'uid-rs', [ctl('apps/v1', 'Deployment', 'reviews', 'uid-deploy')]);
const CLUSTER: Cluster = {
  'Deployment/reviews': DEPLOY,
  'ReplicaSet/reviews-7d9f': RS,
  'Deployment/ratings': obj('ratings', 'uid-ratings'),
  'ReplicaSet/ratings-5c4d': obj('ratings-5c4d', 'uid-rs-ratings', [ctl('apps/v1', 'Deployment', 'ratings', 'uid-ratings')]),
  // A ReplicaSet left over from an earlier Deployment of the same name (deleted, recreated): its owner uid is stale.
  'ReplicaSet/reviews-old': obj('reviews-old', 'uid-rs-old', [ctl('apps/v1', 'Deployment', 'reviews', 'uid-deploy-before')]),
};
const real = (name = 'reviews-7d9f-abcde', created?: string): Pod => injected(name, 'deployment/reviews', [ctl('apps/v1', 'ReplicaSet', 'reviews-7d9f', 'uid-rs')], created);

test('positive control: a Deployment dev pod as devx injects it, owned through its ReplicaSet, passes', () => {
  assertOk(real(), REVIEWS, CLUSTER, ['ReplicaSet/reviews-7d9f', 'Deployment/reviews']);
});

test('decoy owner references: a made-up name, the right name with a wrong uid, another workload, no or a non-controller owner', () => {
  const withOwners = (owners: OwnerRef[]): Pod => injected('decoy', 'deployment/reviews', owners);
  assertRejected(withOwners([ctl('apps/v1', 'ReplicaSet', 'reviews-fake', 'uid-rs')]), REVIEWS, CLUSTER, /^the pod names owner ReplicaSet reviews-fake, which does not exist$/);
  assertRejected(
    withOwners([ctl('apps/v1', 'ReplicaSet', 'reviews-7d9f', 'uid-forged')]),
    REVIEWS,
    CLUSTER,
    /^the pod names owner ReplicaSet reviews-7d9f with uid uid-forged, but the ReplicaSet reviews-7d9f in the cluster has uid uid-rs$/,
  );
  assertRejected(
    withOwners([ctl('apps/v1', 'ReplicaSet', 'ratings-5c4d', 'uid-rs-ratings')]),
    REVIEWS,
    CLUSTER,
    /^owner ReplicaSet ratings-5c4d \(uid uid-rs-ratings\) is not owned by deployment\/reviews \(its owner is Deployment ratings\)$/,
  );
  assertRejected(
    withOwners([ctl('apps/v1', 'ReplicaSet', 'reviews-old', 'uid-rs-old')]),
    REVIEWS,
    CLUSTER,
    /^owner ReplicaSet reviews-old \(uid uid-rs-old\) names owner Deployment reviews with uid uid-deploy-before, but the Deployment reviews in the cluster has uid uid-deploy$/,
  );
  assertRejected(withOwners([]), REVIEWS, CLUSTER, /^the pod has no controller owner \(expected a ReplicaSet on the way to deployment\/reviews\)$/);
  assertRejected(withOwners([plain('apps/v1', 'ReplicaSet', 'reviews-7d9f', 'uid-rs')]), REVIEWS, CLUSTER, /has no controller owner/);
  assertRejected(withOwners([ctl('apps/v1', 'Deployment', 'reviews', 'uid-deploy')]), REVIEWS, CLUSTER, /^the pod is controlled by Deployment reviews \(apps\/v1\), not by a ReplicaSet \(apps\/v1\)$/);
  assertRejected(withOwners([ctl('evil.io/v1', 'ReplicaSet', 'reviews-7d9f', 'uid-rs')]), REVIEWS, CLUSTER, /controlled by ReplicaSet reviews-7d9f \(evil\.io\/v1\), not by a ReplicaSet \(apps\/v1\)/);
  // The ReplicaSet's own link must be its controller reference too.
  const looseRs: Cluster = { ...CLUSTER, 'ReplicaSet/reviews-7d9f': obj('reviews-7d9f', 'uid-rs', [plain('apps/v1', 'Deployment', 'reviews', 'uid-deploy')]) };
  assertRejected(real(), REVIEWS, looseRs, /^owner ReplicaSet reviews-7d9f \(uid uid-rs\) has no controller owner/);
});

test('a chain to another workload is refused before that workload is read', () => {
  const decoy = injected('decoy', 'deployment/reviews', [ctl('apps/v1', 'ReplicaSet', 'ratings-5c4d', 'uid-rs-ratings')]);
  assert.deepEqual(verify(decoy, REVIEWS, CLUSTER).read, ['ReplicaSet/ratings-5c4d']);
});

test('decoy injection records: missing, not JSON, not devx’s shape, naming containers or volumes the pod lacks', () => {
  const withStatus = (status: string | undefined): Pod => {
    const pod = real();
    const annotations = { ...pod.metadata.annotations };
    if (status === undefined) delete annotations['dev.x/status'];
    else annotations['dev.x/status'] = status;
    return { ...pod, metadata: { ...pod.metadata, annotations } };
  };
  const record = JSON.parse(real().metadata.annotations?.['dev.x/status'] ?? '{}') as Record<string, unknown>;
  assert.deepEqual(record.containers, ['devx-sync'], 'the record devx writes');
  assertRejected(withStatus(undefined), REVIEWS, CLUSTER, /^no dev\.x\/status annotation: devx did not inject it$/);
  assertRejected(withStatus('{"target": "reviews",'), REVIEWS, CLUSTER, /^dev\.x\/status is not JSON$/);
  assertRejected(withStatus('"injected"'), REVIEWS, CLUSTER, /^dev\.x\/status is not devx's injection record/);
  assertRejected(withStatus(JSON.stringify({ target: 'reviews', image: 'x', version: '0.1.0' })), REVIEWS, CLUSTER, /not devx's injection record \(containers: .*volumes: /);
  assertRejected(withStatus(JSON.stringify({ ...record, target: 'nope' })), REVIEWS, CLUSTER, /names target container nope, which the pod does not have/);
  assertRejected(withStatus(JSON.stringify({ ...record, containers: ['devx-sync', 'devx-extra'] })), REVIEWS, CLUSTER, /lists container devx-extra, which the pod does not have/);
  assertRejected(withStatus(JSON.stringify({ ...record, volumes: ['devx-workdir', 'devx-gone'] })), REVIEWS, CLUSTER, /lists volume devx-gone, which the pod does not have/);
  assertRejected(withStatus(JSON.stringify({ ...record, containers: [] })), REVIEWS, CLUSTER, /does not list container devx-sync/);
  assertRejected(withStatus(JSON.stringify({ ...record, volumes: ['devx-workdir'] })), REVIEWS, CLUSTER, /does not list volume devx-sync-secret/);
});

test('decoy sidecars: mounting another Secret, or not mounting the sync Secret at all', () => {
  const pod = real();
  const otherSecret: Pod = { ...pod, spec: { ...pod.spec, volumes: pod.spec.volumes?.map((v) => (v.name === 'devx-sync-secret' ? { name: v.name, secret: { secretName: 'attacker-identity' } } : v)) } };
  assertRejected(otherSecret, REVIEWS, CLUSTER, /^volume devx-sync-secret is Secret attacker-identity, not devx-sync-deployment-reviews \(the sync Secret of deployment\/reviews\)$/);
  const emptyDir: Pod = { ...pod, spec: { ...pod.spec, volumes: pod.spec.volumes?.map((v) => (v.name === 'devx-sync-secret' ? { name: v.name, emptyDir: {} } : v)) } };
  assertRejected(emptyDir, REVIEWS, CLUSTER, /^volume devx-sync-secret is not a Secret volume$/);
  const unmounted: Pod = {
    ...pod,
    spec: { ...pod.spec, containers: pod.spec.containers.map((c) => (c.name === 'devx-sync' ? { ...c, volumeMounts: (c.volumeMounts ?? []).filter((m) => m.name !== 'devx-sync-secret') } : c)) },
  };
  assertRejected(unmounted, REVIEWS, CLUSTER, /^container devx-sync does not mount volume devx-sync-secret$/);
  // The sync Secret of another workload is not this one's.
  const ratingsPod = injected('decoy', 'deployment/ratings', [ctl('apps/v1', 'ReplicaSet', 'reviews-7d9f', 'uid-rs')]);
  assertRejected(ratingsPod, REVIEWS, CLUSTER, /is Secret devx-sync-deployment-ratings, not devx-sync-deployment-reviews/);
  // A pod in another namespace.
  assertRejected({ ...pod, metadata: { ...pod.metadata, namespace: 'elsewhere' } }, REVIEWS, CLUSTER, /^it is in namespace elsewhere, not bookinfo$/);
});

// ---- the other kinds ---------------------------------------------------------------------------------------------

test('StatefulSet: the pod’s controller is the StatefulSet itself', () => {
  const ref: WorkloadRef = { kind: 'StatefulSet', name: 'db', namespace: NS };
  const cluster: Cluster = { 'StatefulSet/db': obj('db', 'uid-sts') };
  assertOk(injected('db-0', 'statefulset/db', [ctl('apps/v1', 'StatefulSet', 'db', 'uid-sts')]), ref, cluster, ['StatefulSet/db']);
  assertRejected(injected('db-9', 'statefulset/db', [ctl('apps/v1', 'StatefulSet', 'db', 'uid-other')]), ref, cluster, /with uid uid-other, but the StatefulSet db in the cluster has uid uid-sts/);
  assertRejected(injected('db-9', 'statefulset/db', [ctl('apps/v1', 'StatefulSet', 'cache', 'uid-sts')]), ref, cluster, /^the pod is not owned by statefulset\/db \(its owner is StatefulSet cache\)$/);
});

test('a bare Pod is its own workload: its name, and no owner', () => {
  const ref: WorkloadRef = { kind: 'Pod', name: 'solo', namespace: NS };
  assertOk(injected('solo', 'pod/solo', []), ref, {}, []);
  assertRejected(injected('solo-2', 'pod/solo', []), ref, {}, /^it is not pod\/solo$/);
  assertRejected(injected('solo', 'pod/solo', [ctl('apps/v1', 'ReplicaSet', 'x', 'u')]), ref, {}, /^it has an owner \(ReplicaSet x\), and a bare pod in dev mode has none$/);
});

test('Job: the pod belongs to devx’s copy `<name>-devx`, which is owned by the source Job', () => {
  const ref: WorkloadRef = { kind: 'Job', name: 'migrate', namespace: NS };
  const cluster: Cluster = {
    'Job/migrate': obj('migrate', 'uid-job'),
    'Job/migrate-devx': obj('migrate-devx', 'uid-copy', [plain('batch/v1', 'Job', 'migrate', 'uid-job')], { 'dev.x/copy-of': 'job/migrate' }),
    'Job/forged-devx': obj('forged-devx', 'uid-forged', [plain('batch/v1', 'Job', 'migrate', 'uid-job')], { 'dev.x/copy-of': 'job/migrate' }),
  };
  const pod = (owner: OwnerRef): Pod => injected('migrate-devx-x1', 'job/migrate', [owner]);
  assertOk(pod(ctl('batch/v1', 'Job', 'migrate-devx', 'uid-copy')), ref, cluster, ['Job/migrate-devx', 'Job/migrate']);
  assertRejected(pod(ctl('batch/v1', 'Job', 'forged-devx', 'uid-forged')), ref, cluster, /^the pod is owned by Job forged-devx, not by Job migrate-devx, devx's dev copy of job\/migrate$/);
  assertRejected(pod(ctl('batch/v1', 'Job', 'migrate', 'uid-job')), ref, cluster, /owned by Job migrate, not by Job migrate-devx/);
  // A Job of that name that devx did not make, or one made for another source, or owned by an earlier source.
  const notACopy = { ...cluster, 'Job/migrate-devx': obj('migrate-devx', 'uid-copy', [plain('batch/v1', 'Job', 'migrate', 'uid-job')]) };
  assertRejected(pod(ctl('batch/v1', 'Job', 'migrate-devx', 'uid-copy')), ref, notACopy, /^Job migrate-devx is not devx's dev copy of job\/migrate \(dev\.x\/copy-of: none\)$/);
  const otherSource = { ...cluster, 'Job/migrate-devx': obj('migrate-devx', 'uid-copy', [plain('batch/v1', 'Job', 'migrate', 'uid-job')], { 'dev.x/copy-of': 'cronjob/migrate' }) };
  assertRejected(pod(ctl('batch/v1', 'Job', 'migrate-devx', 'uid-copy')), ref, otherSource, /copy-of: cronjob\/migrate/);
  const staleOwner = { ...cluster, 'Job/migrate-devx': obj('migrate-devx', 'uid-copy', [plain('batch/v1', 'Job', 'migrate', 'uid-job-before')], { 'dev.x/copy-of': 'job/migrate' }) };
  assertRejected(pod(ctl('batch/v1', 'Job', 'migrate-devx', 'uid-copy')), ref, staleOwner, /names owner Job migrate with uid uid-job-before, but the Job migrate in the cluster has uid uid-job/);
  const unowned = { ...cluster, 'Job/migrate-devx': obj('migrate-devx', 'uid-copy', [], { 'dev.x/copy-of': 'job/migrate' }) };
  assertRejected(pod(ctl('batch/v1', 'Job', 'migrate-devx', 'uid-copy')), ref, unowned, /^owner Job migrate-devx \(uid uid-copy\) is not owned by job\/migrate \(it has no Job owner\)$/);
});

test('CronJob: the pod belongs to the dev Job `<name>-devx`, owned by the CronJob; the CronJob’s own Jobs do not count', () => {
  const ref: WorkloadRef = { kind: 'CronJob', name: 'nightly', namespace: NS };
  const cluster: Cluster = {
    'CronJob/nightly': obj('nightly', 'uid-cj'),
    'Job/nightly-devx': obj('nightly-devx', 'uid-devjob', [plain('batch/v1', 'CronJob', 'nightly', 'uid-cj')], { 'dev.x/copy-of': 'cronjob/nightly' }),
    'Job/nightly-29512340': obj('nightly-29512340', 'uid-run', [ctl('batch/v1', 'CronJob', 'nightly', 'uid-cj')]),
  };
  assertOk(injected('nightly-devx-q', 'cronjob/nightly', [ctl('batch/v1', 'Job', 'nightly-devx', 'uid-devjob')]), ref, cluster, ['Job/nightly-devx', 'CronJob/nightly']);
  assertRejected(injected('nightly-29512340-z', 'cronjob/nightly', [ctl('batch/v1', 'Job', 'nightly-29512340', 'uid-run')]), ref, cluster, /owned by Job nightly-29512340, not by Job nightly-devx/);
});

test('DaemonSet: pod → ReplicaSet → devx’s Deployment `<name>-devx` → the DaemonSet', () => {
  const ref: WorkloadRef = { kind: 'DaemonSet', name: 'agent', namespace: NS };
  const copy = (annotations: Record<string, string> | undefined, ownerUid = 'uid-ds'): OwnerObject => obj('agent-devx', 'uid-copy', [plain('apps/v1', 'DaemonSet', 'agent', ownerUid)], annotations);
  const cluster: Cluster = {
    'DaemonSet/agent': obj('agent', 'uid-ds'),
    'Deployment/agent-devx': copy({ 'dev.x/copy-of': 'daemonset/agent' }),
    'ReplicaSet/agent-devx-6b8': obj('agent-devx-6b8', 'uid-rs', [ctl('apps/v1', 'Deployment', 'agent-devx', 'uid-copy')]),
    'Deployment/agent-tools': obj('agent-tools', 'uid-tools', [plain('apps/v1', 'DaemonSet', 'agent', 'uid-ds')], { 'dev.x/copy-of': 'daemonset/agent' }),
    'ReplicaSet/agent-tools-1': obj('agent-tools-1', 'uid-rs-tools', [ctl('apps/v1', 'Deployment', 'agent-tools', 'uid-tools')]),
  };
  const pod = injected('agent-devx-6b8-p', 'daemonset/agent', [ctl('apps/v1', 'ReplicaSet', 'agent-devx-6b8', 'uid-rs')]);
  assertOk(pod, ref, cluster, ['ReplicaSet/agent-devx-6b8', 'Deployment/agent-devx', 'DaemonSet/agent']);
  assertRejected(pod, ref, { ...cluster, 'Deployment/agent-devx': copy(undefined) }, /^Deployment agent-devx is not devx's dev copy of daemonset\/agent \(dev\.x\/copy-of: none\)$/);
  assertRejected(pod, ref, { ...cluster, 'Deployment/agent-devx': copy({ 'dev.x/copy-of': 'daemonset/agent' }, 'uid-ds-before') }, /names owner DaemonSet agent with uid uid-ds-before/);
  const viaOtherDeployment = injected('agent-tools-1-p', 'daemonset/agent', [ctl('apps/v1', 'ReplicaSet', 'agent-tools-1', 'uid-rs-tools')]);
  assertRejected(viaOtherDeployment, ref, cluster, /^owner ReplicaSet agent-tools-1 \(uid uid-rs-tools\) is owned by Deployment agent-tools, not by Deployment agent-devx, devx's dev copy of daemonset\/agent$/);
});

// ---- choosing among candidates -------------------------------------------------------------------------------

test('the newest claimant is skipped when it does not verify; the real pod is chosen and the decoys are named', async () => {
  const decoyNoOwner = injected('reviews-decoy', 'deployment/reviews', [], '2026-03-04T11:59:00Z');
  const decoyFakeUid = injected('reviews-7d9f-fake', 'deployment/reviews', [ctl('apps/v1', 'ReplicaSet', 'reviews-7d9f', 'uid-forged')], '2026-03-04T11:58:00Z');
  const pods = [real('reviews-7d9f-abcde', '2026-03-04T11:00:00Z'), decoyNoOwner, decoyFakeUid];
  const candidates = devPodCandidates(pods, REVIEWS);
  assert.deepEqual(candidates.map((p) => p.metadata.name), ['reviews-decoy', 'reviews-7d9f-fake', 'reviews-7d9f-abcde'], 'by claim alone, a decoy would win');
  const reads: string[] = [];
  const read = async (kind: OwnerKind, name: string): Promise<OwnerObject | null> => {
    reads.push(fetchedKey(kind, name));
    return CLUSTER[fetchedKey(kind, name)] ?? null;
  };
  const chosen = await firstVerified(candidates, REVIEWS, read);
  assert.equal(chosen.pod?.metadata.name, 'reviews-7d9f-abcde');
  assert.deepEqual(chosen.rejected.map((r) => r.pod), ['reviews-decoy', 'reviews-7d9f-fake']);
  assert.match(chosen.rejected[0]!.reason, /has no controller owner/);
  assert.match(chosen.rejected[1]!.reason, /uid uid-forged/);
  assert.deepEqual(reads, ['ReplicaSet/reviews-7d9f', 'Deployment/reviews'], 'each owner read once');

  const none = await firstVerified(devPodCandidates([decoyNoOwner, decoyFakeUid], REVIEWS), REVIEWS, read);
  assert.equal(none.pod, undefined);
  assert.equal(none.rejected.length, 2);
});

test('what verifying reads, for the RBAC check before syncing', () => {
  const kinds = (kind: WorkloadRef['kind'], copy?: string): string[] =>
    ownerChainPermissions({ kind, name: 'x', namespace: NS, ...(copy ? { copy } : {}) }).map((p) => `${p.verb} ${p.resource}${p.group ? `.${p.group}` : ''}`);
  assert.deepEqual(kinds('Deployment'), ['get replicasets.apps', 'get deployments.apps']);
  assert.deepEqual(kinds('DaemonSet'), ['get replicasets.apps', 'get deployments.apps', 'get daemonsets.apps']);
  assert.deepEqual(kinds('Job'), ['get jobs.batch']);
  assert.deepEqual(kinds('CronJob'), ['get jobs.batch', 'get cronjobs.batch']);
  assert.deepEqual(kinds('StatefulSet'), ['get statefulsets.apps']);
  assert.deepEqual(kinds('Pod'), []);
  // Duplicate mode: the pod's ReplicaSet, the caller's copy (a Deployment), the workload itself.
  assert.deepEqual(kinds('StatefulSet', 'x-devx-alice'), ['get replicasets.apps', 'get deployments.apps', 'get statefulsets.apps']);
});

// ---- duplicate mode: pod → ReplicaSet → the caller's copy → the workload -------------------------------------------

test('duplicate mode: the dev pod of the caller’s copy `<name>-devx-<user>`; another user’s copy, Secret or the replace-mode pod is not it', () => {
  const ref: WorkloadRef = { kind: 'Deployment', name: 'reviews', namespace: NS, copy: 'reviews-devx-alice' };
  const copy = (name: string, user: string, copyOf = 'deployment/reviews'): OwnerObject =>
    obj(name, `uid-${name}`, [plain('apps/v1', 'Deployment', 'reviews', 'uid-deploy')], { 'dev.x/copy-of': copyOf, 'dev.x/duplicate-for': user });
  const rsOf = (name: string): OwnerObject => obj(`${name}-6b8`, `uid-rs-${name}`, [ctl('apps/v1', 'Deployment', name, `uid-${name}`)]);
  const cluster: Cluster = {
    ...CLUSTER,
    'Deployment/reviews-devx-alice': copy('reviews-devx-alice', 'alice'),
    'ReplicaSet/reviews-devx-alice-6b8': rsOf('reviews-devx-alice'),
    'Deployment/reviews-devx-bob': copy('reviews-devx-bob', 'bob'),
    'ReplicaSet/reviews-devx-bob-6b8': rsOf('reviews-devx-bob'),
  };
  const podOf = (copyName: string, claim = `deployment/${copyName}`): Pod => injected(`${copyName}-6b8-p`, claim, [ctl('apps/v1', 'ReplicaSet', `${copyName}-6b8`, `uid-rs-${copyName}`)]);
  const alice = podOf('reviews-devx-alice');
  assertOk(alice, ref, cluster, ['ReplicaSet/reviews-devx-alice-6b8', 'Deployment/reviews-devx-alice', 'Deployment/reviews']);
  assert.deepEqual(devPodCandidates([podOf('reviews-devx-bob'), alice, real('reviews-7d9f-abcde', '2026-03-04T11:59:00Z')], ref).map((p) => p.metadata.name), [alice.metadata.name], 'only pods claiming the copy are candidates');
  // bob's copy's pod: its own Secret, not alice's.
  assertRejected(podOf('reviews-devx-bob'), ref, cluster, /^volume devx-sync-secret is Secret devx-sync-deployment-reviews-devx-bob, not devx-sync-deployment-reviews-devx-alice/);
  // A pod injected with alice's Secret but living under bob's copy: the owner chain names the wrong copy.
  assertRejected(podOf('reviews-devx-bob', 'deployment/reviews-devx-alice'), ref, cluster, /is owned by Deployment reviews-devx-bob, not by Deployment reviews-devx-alice/);
  // The workload's own (replace-mode) dev pod mounts the workload's Secret.
  assertRejected(real('reviews-7d9f-abcde', '2026-03-04T11:00:00Z'), ref, cluster, /not devx-sync-deployment-reviews-devx-alice/);
  // A Deployment of the copy's name that is not devx's copy of this workload.
  assertRejected(alice, ref, { ...cluster, 'Deployment/reviews-devx-alice': copy('reviews-devx-alice', 'alice', 'deployment/ratings') }, /is not devx's dev copy of deployment\/reviews/);
});
