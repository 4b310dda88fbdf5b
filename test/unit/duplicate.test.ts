// Duplicate mode (issue 14 §4), the pure parts: a copy's name from the user's, the record of who has a copy, the
// policy's modes, admission's join/leave for the requester alone, the owner chain of a copy's pod, and the
// reconciler's steps towards one copy and one sync Secret per user. No network, no clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitPod, admitWorkload } from '../../src/core/admit.ts';
import { devModeWeight, duplicateName, duplicateSuffix, formatDuplicates, isDuplicateNameOf, modeOf, parseDuplicates } from '../../src/core/duplicate.ts';
import type { KubeObject } from '../../src/core/kube.ts';
import { requestFor } from '../../src/core/preview.ts';
import { recordsOf, signRecords } from '../../src/core/records.ts';
import { staticView } from '../../src/core/static-view.ts';
import { duplicateCopy, type DuplicatesSeen } from '../../src/reconciler/duplicates.ts';
import { planStep, type Observed, type Step } from '../../src/reconciler/plan.ts';
import type { WorkloadKey } from '../../src/reconciler/keys.ts';
import { parseDevPolicy, DevPolicySpecSchema } from '../../src/schemas/policy.ts';
import { GOLDEN_SIGNER, clusterObjects, goldenContext } from '../golden/golden.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// ---- names ---------------------------------------------------------------------------------------------------------

test("a copy's user part: the user name when it is a short DNS label, else a readable head and a hash of the exact name", () => {
  assert.equal(duplicateSuffix('alice'), 'alice');
  assert.equal(duplicateSuffix('dev-42'), 'dev-42');
  // Pinned: the name must not change between devx versions (the reconciler and every agent compute it).
  assert.equal(duplicateSuffix('Alice'), 'alice-3bc5106297');
  assert.equal(duplicateSuffix('system:serviceaccount:team:ci'), 'system-servi-1d8d0b06da');
  // A plain name that looks like a hashed one is hashed too, so the two forms never meet.
  assert.match(duplicateSuffix('bob-0123456789'), /^bob-01234567-[0-9a-f]{10}$/);
});

test('distinct users get distinct copies, every name a DNS label short enough for a label value', () => {
  const users = ['alice', 'Alice', 'ALICE', 'alice@example.com', 'alice.example.com', 'alice-example-com', 'a'.repeat(20), 'a'.repeat(21), 'bob-0123456789',
    'system:serviceaccount:ns:alice', 'system:serviceaccount:ns:alicf', 'ü', '-', 'oidc:https://issuer.example.com#alice'];
  const suffixes = users.map(duplicateSuffix);
  assert.equal(new Set(suffixes).size, users.length, suffixes.join(' '));
  for (const s of suffixes) assert.match(s, DNS_LABEL);
  for (const s of suffixes) assert.ok(s.length <= 23, s);
  const names = users.map((u) => duplicateName('reviews', u));
  assert.equal(new Set(names).size, users.length);
  assert.equal(duplicateName('reviews', 'alice'), 'reviews-devx-alice');
});

test('a long workload name is shortened with a hash of all of it: at most 63 characters, still distinct', () => {
  const a = `${'x'.repeat(55)}-a`;
  const b = `${'x'.repeat(55)}-b`;
  for (const user of ['alice', 'system:serviceaccount:team:ci']) {
    const [na, nb] = [duplicateName(a, user), duplicateName(b, user)];
    assert.ok(na.length <= 63 && nb.length <= 63, `${na} ${nb}`);
    assert.notEqual(na, nb);
    assert.ok(na.endsWith(`-devx-${duplicateSuffix(user)}`), na);
    assert.match(na, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  }
});

test("a copy's name is recognised as one of its workload's, short or shortened, and no other name is", () => {
  const long = `${'x'.repeat(55)}-a`;
  for (const source of ['web', long]) {
    for (const user of ['alice', 'a-devx-b', 'system:serviceaccount:team:ci']) assert.ok(isDuplicateNameOf(duplicateName(source, user), source), duplicateName(source, user));
  }
  for (const other of ['db-password', 'web', 'web-devx-', 'webx-devx-alice', duplicateName(`${'x'.repeat(55)}-b`, 'alice'), duplicateName('api', 'alice')]) {
    assert.equal(isDuplicateNameOf(other, other.startsWith('x') ? long : 'web'), false, other);
  }
});

test('the record of copies: sorted, each user once; anything but a JSON array of names is no record', () => {
  assert.equal(formatDuplicates(['bob', 'alice', 'bob']), '["alice","bob"]');
  assert.deepEqual(parseDuplicates('["alice","bob"]'), ['alice', 'bob']);
  for (const bad of ['nope', '{}', '[1]', '[""]', '"alice"']) assert.equal(parseDuplicates(bad), undefined, bad);
  assert.equal(devModeWeight({}), 1, 'replace mode: one workload');
  assert.equal(devModeWeight({ 'dev.x/duplicates': '["alice","bob"]' }), 2, 'duplicate mode: one per copy');
  assert.equal(devModeWeight({ 'dev.x/duplicates': '[]' }), 0);
});

test('dev.x/mode and the policy modes: both allowed by default; an unknown mode is refused with what is allowed', () => {
  assert.deepEqual(DevPolicySpecSchema.parse({}).modes, ['replace', 'duplicate']);
  assert.deepEqual(modeOf({}), { ok: true, value: 'replace' });
  assert.deepEqual(modeOf({ 'dev.x/mode': 'duplicate' }), { ok: true, value: 'duplicate' });
  assert.deepEqual(modeOf({ 'dev.x/mode': 'Duplicate' }), { ok: false, error: 'dev.x/mode must be replace or duplicate, not "Duplicate"' });
  for (const modes of [[], ['copy']]) {
    const r = parseDevPolicy({ apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'x' }, spec: { modes } });
    assert.equal(r.ok, false, JSON.stringify(modes));
    assert.match(r.ok ? '' : r.error.join('\n'), /spec\.modes/);
  }
});

// ---- admission ---------------------------------------------------------------------------------------------------

const ON = { 'dev.x/enabled': 'true' };

function web(o: { labelled?: boolean; annotations?: Record<string, string> } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'bookinfo', uid: 'uid-web', labels: { app: 'web', ...((o.labelled ?? true) ? ON : {}) }, annotations: { 'dev.x/mode': 'duplicate', ...o.annotations } },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
  };
}

/** `web` in duplicate mode with devx's signed record that `users` have copies. */
function inDuplicateMode(users: string[], extra: Record<string, string> = {}): KubeObject {
  const obj = web({ annotations: { 'dev.x/enabled-by': 'alice', 'dev.x/enabled-at': '2026-01-02T03:04:05Z', 'dev.x/duplicates': formatDuplicates(users) } });
  signRecords(obj, { signer: GOLDEN_SIGNER, namespace: 'bookinfo' });
  obj.metadata!.annotations = { ...obj.metadata!.annotations, ...extra };
  return obj;
}

const userOf = (username: string): { username: string; groups: string[] } => ({ username, groups: ['developers', 'system:authenticated'] });

function admitted(object: KubeObject, oldObject: KubeObject, username: string, ctx = goldenContext()): { users: string[] | undefined; warnings: string[]; object: KubeObject } {
  const d = admitWorkload(requestFor({ object, oldObject, user: userOf(username) }), ctx);
  assert.equal(d.kind, 'mutate', JSON.stringify(d));
  if (d.kind !== 'mutate') throw new Error('unreachable');
  return { users: parseDuplicates(d.object.metadata?.annotations?.['dev.x/duplicates']), warnings: d.warnings, object: d.object };
}

test('join and leave act for the requester alone, whatever else the request says; the request annotation is never stored', () => {
  const old = inDuplicateMode(['alice']);
  const bob = admitted(inDuplicateMode(['alice'], { 'dev.x/duplicate': 'join' }), old, 'bob');
  assert.deepEqual(bob.users, ['alice', 'bob']);
  assert.equal(bob.object.metadata?.annotations?.['dev.x/duplicate'], undefined);
  assert.deepEqual(bob.object.spec, old.spec, 'the workload itself is not changed');
  // Joining again changes nothing; leaving without a copy is said and changes nothing.
  const again = admitted(inDuplicateMode(['alice', 'bob'], { 'dev.x/duplicate': 'join' }), inDuplicateMode(['alice', 'bob']), 'bob');
  assert.deepEqual(again.users, ['alice', 'bob']);
  assert.match(again.warnings[0]!, /you already have a copy, web-devx-bob/);
  const carol = admitted(inDuplicateMode(['alice', 'bob'], { 'dev.x/duplicate': 'leave' }), inDuplicateMode(['alice', 'bob']), 'carol');
  assert.deepEqual(carol.users, ['alice', 'bob'], "carol's leave does not touch alice's or bob's copy");
  assert.match(carol.warnings[0]!, /you have no copy of Deployment web/);
  // devx's own request (the reconciler completing dev mode) names nobody: the annotation is dropped, nothing else.
  const self = admitWorkload(requestFor({ object: inDuplicateMode(['alice'], { 'dev.x/duplicate': 'join' }), oldObject: old, user: { username: 'system:serviceaccount:devx-system:devx' } }), { ...goldenContext(), self: 'system:serviceaccount:devx-system:devx' });
  assert.equal(self.kind, 'mutate');
  assert.deepEqual(self.kind === 'mutate' && parseDuplicates(self.object.metadata?.annotations?.['dev.x/duplicates']), ['alice']);
});

test('a record written by hand is denied; a signed one that differs by the requester alone is a reinvocation and passes', () => {
  const old = inDuplicateMode(['alice']);
  const forged = inDuplicateMode(['alice']);
  forged.metadata!.annotations!['dev.x/duplicates'] = '["alice","mallory"]';
  const d = admitWorkload(requestFor({ object: forged, oldObject: old, user: userOf('mallory') }), goldenContext());
  assert.equal(d.kind, 'deny');
  assert.match(d.kind === 'deny' ? d.message : '', /"dev\.x\/duplicates" is a record devx keeps for itself/);
  // bob's join, after devx's first pass (record signed, annotation gone): the same again.
  const reinvoked = admitted(inDuplicateMode(['alice', 'bob']), old, 'bob');
  assert.deepEqual(reinvoked.users, ['alice', 'bob']);
  // The same set sent by carol would add bob in bob's name.
  const replay = admitWorkload(requestFor({ object: inDuplicateMode(['alice', 'bob']), oldObject: old, user: userOf('carol') }), goldenContext());
  assert.equal(replay.kind, 'deny');
});

test('the original is not pinned: a scale of a workload in duplicate mode passes without a warning', () => {
  const scaleOf = (workload: KubeObject): string => {
    const view = staticView([...clusterObjects(), workload]);
    const object = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web', namespace: 'bookinfo' }, spec: { replicas: 5 } };
    const req = { ...requestFor({ object, oldObject: { kind: 'Scale', spec: { replicas: 3 } } }), subResource: 'scale', resource: { group: 'apps', version: 'v1', resource: 'deployments' }, name: 'web' };
    return admitWorkload(req, { ...goldenContext(), view }).kind;
  };
  assert.equal(scaleOf(inDuplicateMode(['alice'])), 'skip');
  // Positive control: the same workload in replace mode is pinned (warned about).
  const replace = web({ annotations: { 'dev.x/mode': 'replace' } });
  assert.equal(scaleOf(replace), 'mutate');
});

// ---- the owner chain of a copy's pod --------------------------------------------------------------------------------

function copyObject(user: string, o: { name?: string; sourceUid?: string } = {}): KubeObject {
  const copy = duplicateCopy('Deployment', inDuplicateMode(['alice', 'bob']), user) as KubeObject;
  copy.metadata = { ...copy.metadata, ...(o.name ? { name: o.name } : {}), uid: `uid-copy-${user}` };
  copy.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: o.sourceUid ?? 'uid-web' }];
  signRecords(copy, { signer: GOLDEN_SIGNER, namespace: 'bookinfo' });
  return copy;
}

function copyPod(copy: KubeObject): KubeObject {
  const name = copy.metadata?.name ?? '';
  const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${name}-5d`, namespace: 'bookinfo', uid: `uid-rs-${name}`, labels: ON, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: String(copy.metadata?.uid), controller: true }] } };
  const template = (copy.spec as { template: KubeObject }).template;
  return {
    pod: { apiVersion: 'v1', kind: 'Pod', metadata: { ...template.metadata, namespace: 'bookinfo', generateName: `${name}-5d-`, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-5d`, uid: `uid-rs-${name}`, controller: true }] }, spec: template.spec },
    rs,
  } as unknown as KubeObject;
}

function admitCopyPod(source: KubeObject, copy: KubeObject): ReturnType<typeof admitPod> {
  const { pod, rs } = copyPod(copy) as unknown as { pod: KubeObject; rs: KubeObject };
  const view = staticView([...clusterObjects(), source, copy, rs]);
  return admitPod(requestFor({ object: pod, user: { username: 'system:serviceaccount:kube-system:replicaset-controller' } }), { ...goldenContext(), view });
}

test("a copy's pod is injected with the copy's own sync Secret, only while its user is listed and only for devx's copy", () => {
  const source = inDuplicateMode(['alice', 'bob']);
  const alice = admitCopyPod(source, copyObject('alice'));
  assert.equal(alice.kind, 'mutate', JSON.stringify(alice));
  const pod = alice.kind === 'mutate' ? alice.object : undefined;
  assert.equal(pod?.metadata?.annotations?.['dev.x/workload'], 'deployment/web-devx-alice');
  const volume = (pod?.spec as { volumes: Array<{ name: string; secret?: { secretName: string } }> }).volumes.find((v) => v.name === 'devx-sync-secret');
  assert.equal(volume?.secret?.secretName, 'devx-sync-deployment-web-devx-alice');
  assert.equal(pod?.metadata?.labels?.app, undefined, "the app's labels are not on a copy's pod: its Service does not select it");

  const left = admitCopyPod(inDuplicateMode(['bob']), copyObject('alice'));
  assert.equal(left.kind, 'deny');
  assert.match(left.kind === 'deny' ? left.message : '', /duplicate copy of alice, who has no copy of Deployment web now/);
  // A copy named for bob that devx made for alice (names and records disagree).
  const misnamed = admitCopyPod(source, copyObject('alice', { name: 'web-devx-bob' }));
  assert.equal(misnamed.kind, 'deny');
  // A user's own Deployment carrying the records unsigned.
  const forged = copyObject('alice');
  forged.metadata!.annotations!['dev.x/signature'] = 'forged';
  const byHand = admitCopyPod(source, forged);
  assert.equal(byHand.kind, 'deny');
  assert.match(byHand.kind === 'deny' ? byHand.message : '', /devx did not make it/);
});

// ---- the reconciler ------------------------------------------------------------------------------------------------

const KEY: WorkloadKey = { kind: 'Deployment', namespace: 'bookinfo', name: 'web' };
const policy = DevPolicySpecSchema.parse({});

function seen(o: Partial<DuplicatesSeen> = {}): DuplicatesSeen {
  return { copies: [], secrets: [], volumes: [], takenCopies: [], takenSecrets: [], takenVolumes: [], ...o };
}

function observe(workload: KubeObject, duplicates: DuplicatesSeen, extra: Partial<Observed> = {}): Observed {
  return { key: KEY, now: new Date('2026-01-02T04:00:00Z'), hints: new Set(), tried: new Set(), policy, namespaceEnabled: true, workload, records: recordsOf(workload), duplicates, ...extra };
}

const secretFor = (copy: string): KubeObject => ({ kind: 'Secret', metadata: { name: `devx-sync-deployment-${copy}`, uid: `uid-s-${copy}`, labels: { 'dev.x/copy': copy }, annotations: { 'dev.x/workload': 'deployment/web' } } });
const existing = (user: string): KubeObject => ({ ...duplicateCopy('Deployment', inDuplicateMode(['alice', 'bob']), user), metadata: { ...duplicateCopy('Deployment', inDuplicateMode(['alice', 'bob']), user)!.metadata, uid: `uid-${user}`, resourceVersion: '4' } }) as KubeObject;

test('reconciler: one sync Secret, then one copy, per user; the copy is one replica of the template with devx labels, owned by the workload', () => {
  const w = inDuplicateMode(['alice', 'bob']);
  const first = planStep(observe(w, seen()));
  assert.equal(first.type, 'create-duplicate-secret');
  assert.deepEqual(first.type === 'create-duplicate-secret' && { name: first.name, copy: first.copy, owner: first.owner }, {
    name: 'devx-sync-deployment-web-devx-alice',
    copy: 'web-devx-alice',
    owner: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web' },
  });
  const second = planStep(observe(w, seen({ secrets: [secretFor('web-devx-alice')] })));
  assert.equal(second.type, 'create-duplicate');
  const copy = second.type === 'create-duplicate' ? second.object : undefined;
  assert.equal(copy?.metadata?.name, 'web-devx-alice');
  assert.deepEqual(copy?.metadata?.labels, { 'dev.x/copy': 'web-devx-alice' });
  assert.equal(copy?.metadata?.annotations?.['dev.x/copy-of'], 'deployment/web');
  assert.equal(copy?.metadata?.annotations?.['dev.x/duplicate-for'], 'alice');
  assert.deepEqual(copy?.metadata?.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web' }]);
  const spec = copy?.spec as { replicas: number; selector: unknown; template: KubeObject };
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.selector, { matchLabels: { 'dev.x/copy': 'web-devx-alice' } });
  assert.deepEqual(spec.template.metadata?.labels, { 'dev.x/copy': 'web-devx-alice', 'dev.x/enabled': 'true' });
  // Both in place: nothing to do; the original's replicas (3) are not pinned in duplicate mode.
  const all = seen({ copies: [existing('alice'), existing('bob')], secrets: [secretFor('web-devx-alice'), secretFor('web-devx-bob')] });
  assert.equal(planStep(observe(w, all)).type, 'done');
});

test('reconciler: a user who left loses copy then Secret; a changed template renews the copies; a taken name is reported, the others go on', () => {
  const both = seen({ copies: [existing('alice'), existing('bob')], secrets: [secretFor('web-devx-alice'), secretFor('web-devx-bob')] });
  const onlyAlice = inDuplicateMode(['alice']);
  const gone = planStep(observe(onlyAlice, both));
  assert.deepEqual(gone.type === 'delete-duplicate' && { name: gone.name, uid: gone.uid }, { name: 'web-devx-bob', uid: 'uid-bob' });
  const secretGone = planStep(observe(onlyAlice, seen({ copies: [existing('alice')], secrets: both.secrets })));
  assert.deepEqual(secretGone.type === 'delete-duplicate-secret' && secretGone.name, 'devx-sync-deployment-web-devx-bob');

  const changed = inDuplicateMode(['alice', 'bob']);
  (changed.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]!.image = 'nginx:1.28';
  const renew = planStep(observe(changed, both));
  assert.equal(renew.type, 'update-duplicate');
  assert.equal(renew.type === 'update-duplicate' && renew.resourceVersion, '4');

  const taken = planStep(observe(inDuplicateMode(['alice', 'bob']), seen({ takenCopies: ['web-devx-alice'], secrets: [secretFor('web-devx-alice')] })));
  assert.equal(taken.type, 'create-duplicate-secret', "bob's copy is made although alice's name is taken");
  const settled = planStep(observe(inDuplicateMode(['alice', 'bob']), seen({ takenCopies: ['web-devx-alice'], copies: [existing('bob')], secrets: [secretFor('web-devx-alice'), secretFor('web-devx-bob')] })));
  assert.equal(settled.type, 'done');
  assert.deepEqual(settled.events.map((e: Step['events'][number]) => e.reason), ['CopyNameTaken']);
});

test('reconciler: dev mode off deletes every copy, then every copy Secret; a leftover Secret of its own goes in duplicate mode', () => {
  const both = seen({ copies: [existing('alice'), existing('bob')], secrets: [secretFor('web-devx-alice')] });
  const off = web({ labelled: false });
  const steps = [planStep(observe(off, both)), planStep(observe(off, seen({ copies: [existing('bob')], secrets: both.secrets }))), planStep(observe(off, seen({ secrets: both.secrets }))), planStep(observe(off, seen()))];
  assert.deepEqual(steps.map((s) => s.type), ['delete-duplicate', 'delete-duplicate', 'delete-duplicate-secret', 'done']);
  const own = planStep(observe(inDuplicateMode(['alice']), seen(), { secret: { kind: 'Secret', metadata: { name: 'devx-sync-deployment-web' } }, secretValid: true }));
  assert.equal(own.type, 'delete-secret');
  // Labelled again in replace mode before the copies of the duplicate session were gone: they go first.
  const replace = web({ annotations: { 'dev.x/mode': 'replace', 'dev.x/enabled-by': 'alice', 'dev.x/enabled-at': '2026-01-02T03:04:05Z', 'dev.x/original-replicas': '3' } });
  signRecords(replace, { signer: GOLDEN_SIGNER, namespace: 'bookinfo' });
  assert.equal(planStep(observe(replace, seen({ copies: [existing('alice')] }))).type, 'delete-duplicate');
});

test("reconciler: a copy's Secret and claim are matched to copies by name, never by their dev.x/copy label", () => {
  const persistent = { policy: DevPolicySpecSchema.parse({ persistence: { size: '1Gi' } }) };
  const relabel = (o: KubeObject, copy: string): KubeObject => ({ ...o, metadata: { ...o.metadata, labels: { 'dev.x/copy': copy } } });
  const claimFor = (copy: string): KubeObject => ({ kind: 'PersistentVolumeClaim', metadata: { name: `devx-workdir-deployment-${copy}`, uid: `uid-v-${copy}`, labels: { 'dev.x/copy': copy } } });
  const w = inDuplicateMode(['alice']);
  const alices = { copies: [existing('alice')], secrets: [relabel(secretFor('web-devx-alice'), 'web-devx-bob')] };
  // alice's Secret and claim, relabelled as bob's (who has left): alice is listed, so both stay.
  assert.equal(planStep(observe(w, seen({ ...alices, volumes: [relabel(claimFor('web-devx-alice'), 'web-devx-bob')] }), persistent)).type, 'done');
  // bob's, relabelled as alice's: bob left, so they go.
  const bobs = planStep(observe(w, seen({ copies: [existing('alice')], secrets: [secretFor('web-devx-alice'), relabel(secretFor('web-devx-bob'), 'web-devx-alice')] })));
  assert.deepEqual(bobs.type === 'delete-duplicate-secret' && bobs.name, 'devx-sync-deployment-web-devx-bob');
});

test('reconciler with persistence: each copy gets its own workdir claim before its copy; it goes with the copy unless the workload keeps its claims', () => {
  const persistent = { policy: DevPolicySpecSchema.parse({ persistence: { size: '1Gi' } }) };
  const w = inDuplicateMode(['alice']);
  const secrets = [secretFor('web-devx-alice')];
  const claim = planStep(observe(w, seen({ secrets }), persistent));
  assert.deepEqual(claim.type === 'create-duplicate-volume' && { name: claim.name, copy: claim.copy, size: claim.persistence.size }, { name: 'devx-workdir-deployment-web-devx-alice', copy: 'web-devx-alice', size: '1Gi' });
  const claimFor = (copy: string): KubeObject => ({ kind: 'PersistentVolumeClaim', metadata: { name: `devx-workdir-deployment-${copy}`, uid: `uid-v-${copy}`, labels: { 'dev.x/copy': copy } } });
  assert.equal(planStep(observe(w, seen({ secrets, volumes: [claimFor('web-devx-alice')] }), persistent)).type, 'create-duplicate');
  // Without persistence no claim is asked for.
  assert.equal(planStep(observe(w, seen({ secrets }))).type, 'create-duplicate');
  // A claim of that name that is not devx's: reported, never used.
  const takenClaim = planStep(observe(w, seen({ secrets, takenVolumes: ['devx-workdir-deployment-web-devx-alice'] }), persistent));
  assert.deepEqual(takenClaim.type === 'done' && takenClaim.events.map((e) => e.reason), ['VolumeNameTaken']);
  // Dev mode off: copy, Secret, then claim; with dev.x/keep-volume=true the claim stays.
  const off = web({ labelled: false });
  const left = seen({ secrets, volumes: [claimFor('web-devx-alice')] });
  assert.equal(planStep(observe(off, left, persistent)).type, 'delete-duplicate-secret');
  assert.equal(planStep(observe(off, seen({ volumes: left.volumes }), persistent)).type, 'delete-duplicate-volume');
  const keeping = { ...off, metadata: { ...off.metadata, labels: { ...off.metadata!.labels, 'dev.x/keep-volume': 'true' } } };
  assert.equal(planStep(observe(keeping, seen({ volumes: left.volumes }), persistent)).type, 'done');
});
