// The reconciler's pure decisions: which single step comes next for what is observed. No network, no clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/core/kube.ts';
import { recordsOf } from '../../src/core/records.ts';
import { leaveDevMode } from '../../src/core/workload.ts';
import { DevPolicySpecSchema } from '../../src/schemas/policy.ts';
import { desiredCopy } from '../../src/reconciler/copies.ts';
import { expiryOf } from '../../src/reconciler/expiry.ts';
import { keyFromRef, keyOfSecret, keyOfWorkloadObject, keyString, parseKeyString, type WorkloadKey } from '../../src/reconciler/keys.ts';
import { planStep, type Observed, type Step } from '../../src/reconciler/plan.ts';

const NOW = new Date('2026-05-01T12:00:00Z');
const policy = DevPolicySpecSchema.parse({ maxDuration: '8h' });

/** What is observed; the workload's records count as devx's (verified) unless `records` says otherwise. */
function observed(key: WorkloadKey, extra: Partial<Observed> = {}): Observed {
  return { key, now: NOW, hints: new Set(), tried: new Set(), policy, namespaceEnabled: true, records: recordsOf(extra.workload), ...extra };
}

const dKey: WorkloadKey = { kind: 'Deployment', namespace: 'ns', name: 'web' };

function deployment(opts: { labelled?: boolean; annotations?: Record<string, string>; templateLabelled?: boolean } = {}): KubeObject {
  const labelled = opts.labelled ?? true;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'ns',
      uid: 'uid-web',
      resourceVersion: '7',
      ...(labelled ? { labels: { 'dev.x/enabled': 'true' } } : {}),
      annotations: { 'dev.x/enabled-at': '2026-05-01T11:00:00Z', 'dev.x/enabled-by': 'alice', 'dev.x/original-replicas': '3', ...(opts.annotations ?? {}) },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web', ...((opts.templateLabelled ?? true) ? { 'dev.x/enabled': 'true' } : {}) } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } },
    },
  };
}

function secretOwnedBy(kind: string, uid: string, extra: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', uid: 'uid-secret', resourceVersion: '3', ownerReferences: [{ kind, name: 'x', uid }], annotations: extra } };
}

const reasons = (s: Step): string[] => s.events.map((e) => e.reason);

test('labelled, no Secret: create it, owned by the workload; the first look says DevModeEntered, after a deletion Repaired', () => {
  const step = planStep(observed(dKey, { workload: deployment() }));
  assert.equal(step.type, 'create-secret');
  assert.deepEqual(step.type === 'create-secret' && step.owner, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web' });
  assert.deepEqual(reasons(step), ['DevModeEntered', 'SyncSecretCreated']);
  assert.match(step.events[0]!.note, /by alice/);
  const again = planStep(observed(dKey, { workload: deployment(), hints: new Set(['secret-deleted']) }));
  assert.deepEqual(reasons(again), ['Repaired', 'SyncSecretCreated']);
  assert.equal(again.events[0]!.type, 'Warning');
});

test('the Secret: owned by an earlier workload of the name -> adopted; unusable data -> made again; all well -> done until the TTL', () => {
  const w = deployment();
  assert.equal(planStep(observed(dKey, { workload: w, secret: secretOwnedBy('Deployment', 'uid-old'), secretValid: true })).type, 'adopt-secret');
  assert.equal(planStep(observed(dKey, { workload: w, secret: secretOwnedBy('Deployment', 'uid-web'), secretValid: false })).type, 'regenerate-secret');
  const settled = planStep(observed(dKey, { workload: w, secret: secretOwnedBy('Deployment', 'uid-web'), secretValid: true }));
  assert.equal(settled.type, 'done');
  // enabled at 11:00, maxDuration 8h: due at 19:00, 7 h from NOW.
  assert.equal(settled.type === 'done' && settled.afterMs, 7 * 3600_000);
});

test("a Secret of that name that is not devx's is never touched; the workload gets a Warning instead", () => {
  const step = planStep(observed(dKey, { workload: deployment(), secretForeign: true }));
  assert.equal(step.type, 'done');
  assert.deepEqual(reasons(step), ['SecretNameTaken']);
});

test('expiry: dev.x/ttl after enabled-at removes the label once due; capped by maxDuration; not twice in one pass', () => {
  const due = deployment({ annotations: { 'dev.x/ttl': '30m' } }); // enabled 11:00 + 30m < 12:00
  const step = planStep(observed(dKey, { workload: due, secret: secretOwnedBy('Deployment', 'uid-web'), secretValid: true }));
  assert.equal(step.type, 'expire');
  assert.match(step.events[0]!.note, /dev mode ended after dev\.x\/ttl 30m \(since 2026-05-01T11:00:00Z\)/);
  // Expiry comes first: no Secret is made for a workload whose time is up.
  assert.equal(planStep(observed(dKey, { workload: due })).type, 'expire');
  assert.equal(planStep(observed(dKey, { workload: due, tried: new Set(['expire']) })).type, 'done');
  const capped = expiryOf(deployment({ annotations: { 'dev.x/ttl': '48h' } }), policy);
  assert.equal(capped?.ttlMs, 8 * 3600_000);
  assert.match(capped?.source ?? '', /maxDuration 8h/);
  assert.equal(expiryOf(deployment(), DevPolicySpecSchema.parse({}))?.at, undefined, 'no ttl, no maxDuration: never');
  assert.equal(expiryOf(deployment({ annotations: { 'dev.x/ttl': '2h' } }), undefined)?.ttlMs, 2 * 3600_000, 'no policy: the annotation alone');
});

test('labelled but never admitted (no enabled-at): a no-op update through admission; if that changes nothing, a Warning', () => {
  const w = deployment();
  delete w.metadata!.annotations!['dev.x/enabled-at'];
  assert.equal(planStep(observed(dKey, { workload: w })).type, 'readmit');
  const stuck = planStep(observed(dKey, { workload: w, tried: new Set(['readmit']) }));
  assert.equal(stuck.type, 'done');
  assert.deepEqual(reasons(stuck), ['Incomplete']);
});

test('unlabelled with dev state left (the label went without admission): restored exactly as admission would', () => {
  const w = deployment({ labelled: false });
  const step = planStep(observed(dKey, { workload: w, secret: secretOwnedBy('Deployment', 'uid-web') }));
  assert.equal(step.type, 'restore-workload');
  const expected = leaveDevMode('Deployment', w, recordsOf(w));
  assert.deepEqual(step.type === 'restore-workload' && step.object, expected.kind === 'mutate' ? expected.object : undefined);
  assert.equal((step.type === 'restore-workload' && (step.object.spec as { replicas: number }).replicas) || 0, 3);
  assert.deepEqual(reasons(step), ['Repaired']);
});

test('dev mode off: the copy goes first, then the Secret, with DevModeLeft; a workload gone leaves orphans that are removed', () => {
  const jKey: WorkloadKey = { kind: 'Job', namespace: 'ns', name: 'train' };
  const job: KubeObject = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'train', namespace: 'ns', uid: 'uid-job' }, spec: { template: { spec: { containers: [{ name: 'c' }] } } } };
  const copy: KubeObject = { kind: 'Job', metadata: { name: 'train-devx', uid: 'uid-copy', annotations: { 'dev.x/copy-of': 'job/train' } } };
  const secret = secretOwnedBy('Job', 'uid-job');
  assert.deepEqual(reasons(planStep(observed(jKey, { workload: job, copy, secret }))), ['CopyDeleted']);
  const left = planStep(observed(jKey, { workload: job, secret }));
  assert.equal(left.type, 'delete-secret');
  assert.deepEqual(reasons(left), ['DevModeLeft', 'SyncSecretDeleted']);
  const orphan = planStep(observed(jKey, { copy, secret }));
  assert.equal(orphan.type, 'delete-copy');
  assert.deepEqual(reasons(orphan), ['Repaired']);
  assert.equal(planStep(observed(jKey, {})).type, 'done');
  // Someone else's Job that happens to be called train-devx is left alone.
  const foreign: KubeObject = { kind: 'Job', metadata: { name: 'train-devx', uid: 'x' } };
  assert.equal(planStep(observed(jKey, { copy: foreign })).type, 'done');
});

test('copies: created when missing, replaced when the source changed (Job) or updated (Deployment), waited for while deleting', () => {
  const jKey: WorkloadKey = { kind: 'Job', namespace: 'ns', name: 'train' };
  const job: KubeObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'train', namespace: 'ns', uid: 'uid-job', labels: { 'dev.x/enabled': 'true' }, annotations: { 'dev.x/enabled-at': '2026-05-01T11:59:00Z' } },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'c:1' }] } } },
  };
  const secret = secretOwnedBy('Job', 'uid-job');
  const base = { workload: job, secret, secretValid: true };
  const create = planStep(observed(jKey, base));
  assert.equal(create.type, 'create-copy');
  const made = create.type === 'create-copy' ? structuredClone(create.object) : {};
  made.metadata!.uid = 'uid-copy';
  assert.equal(planStep(observed(jKey, { ...base, copy: made })).type, 'done');
  const changed = structuredClone(job);
  (changed.spec as { backoffLimit?: number }).backoffLimit = 9;
  assert.deepEqual(reasons(planStep(observed(jKey, { ...base, workload: changed, copy: made }))), ['CopyReplaced']);
  const deleting = { ...made, metadata: { ...made.metadata, deletionTimestamp: '2026-05-01T12:00:00Z' } };
  assert.equal(planStep(observed(jKey, { ...base, copy: deleting })).type, 'done');
  const stale = { ...made, metadata: { ...made.metadata, ownerReferences: [{ kind: 'Job', name: 'train', uid: 'uid-earlier' }] } };
  assert.equal(planStep(observed(jKey, { ...base, copy: stale })).type, 'delete-copy');

  const dsKey: WorkloadKey = { kind: 'DaemonSet', namespace: 'ns', name: 'agent' };
  const ds: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'ns', uid: 'uid-ds', labels: { 'dev.x/enabled': 'true' }, annotations: { 'dev.x/enabled-at': '2026-05-01T11:59:00Z' } },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { nodeSelector: { 'dev.x/paused': 'true' }, containers: [{ name: 'a', image: 'a:1' }] } } },
  };
  const dsCopy = desiredCopy('DaemonSet', ds)!;
  dsCopy.metadata!.uid = 'uid-copy';
  const newer = structuredClone(ds);
  (newer.spec as any).template.spec.containers[0].image = 'a:2';
  const update = planStep(observed(dsKey, { workload: newer, secret: secretOwnedBy('DaemonSet', 'uid-ds'), secretValid: true, copy: dsCopy }));
  assert.equal(update.type, 'update-copy');
});

// ---- a bare pod ----------------------------------------------------------------------------------------------------

const pKey: WorkloadKey = { kind: 'Pod', namespace: 'ns', name: 'solo' };

function pod(opts: { labelled?: boolean; injected?: boolean; original?: KubeObject; uid?: string; owned?: boolean } = {}): KubeObject {
  const annotations: Record<string, string> = { note: 'mine', 'dev.x/enabled-at': '2026-05-01T11:59:00Z', 'dev.x/enabled-by': 'bob' };
  if (opts.injected) annotations['dev.x/status'] = '{}';
  if (opts.original) annotations['dev.x/original-pod'] = JSON.stringify(opts.original);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'solo',
      namespace: 'ns',
      uid: opts.uid ?? 'uid-p1',
      resourceVersion: '11',
      labels: { app: 'solo', ...((opts.labelled ?? true) ? { 'dev.x/enabled': 'true' } : {}) },
      annotations,
      ...(opts.owned ? { ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', uid: 'u' }] } : {}),
    },
    spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'solo:1' }] },
  };
}

test('a bare pod labelled after creation: the Secret first, then the record of what replaces it (the original kept inside)', () => {
  const p = pod();
  assert.equal(planStep(observed(pKey, { workload: p })).type, 'create-secret');
  const step = planStep(observed(pKey, { workload: p, secret: secretOwnedBy('Pod', 'uid-p1'), secretValid: true }));
  assert.equal(step.type, 'mark-pending');
  if (step.type !== 'mark-pending') return;
  assert.equal(step.record.replaces, 'uid-p1');
  const dev = step.record.pod;
  assert.equal(dev.metadata?.labels?.['dev.x/enabled'], 'true');
  assert.equal(dev.metadata?.annotations?.['dev.x/enabled-by'], 'bob');
  assert.equal(dev.metadata?.uid, undefined);
  assert.equal((dev.spec as { nodeName?: string }).nodeName, undefined, 'scheduled again');
  const original = JSON.parse(dev.metadata?.annotations?.['dev.x/original-pod'] ?? '{}');
  assert.deepEqual(original.metadata, { name: 'solo', namespace: 'ns', labels: { app: 'solo' }, annotations: { note: 'mine' } });
  assert.deepEqual(original, step.record.fallback);
  // Injected already (created with the label) or owned by a controller: nothing to recreate.
  const injected = planStep(observed(pKey, { workload: pod({ injected: true }), secret: secretOwnedBy('Pod', 'uid-p1'), secretValid: true }));
  assert.equal(injected.type, 'done');
  assert.equal(planStep(observed(pKey, { workload: pod({ owned: true }) })).type, 'done');
});

test('a pod being replaced: delete the old one (guarded), wait while it terminates, create, then spend the record', () => {
  const p = pod();
  const record = { replaces: 'uid-p1', pod: pod({ uid: '' }), fallback: pod({ labelled: false, uid: '' }) };
  const del = planStep(observed(pKey, { workload: p, secret: secretOwnedBy('Pod', ''), pending: record }));
  assert.deepEqual(del.type === 'delete-pod' && { uid: del.uid, rv: del.resourceVersion }, { uid: 'uid-p1', rv: '11' });
  const terminating = { ...p, metadata: { ...p.metadata, deletionTimestamp: '2026-05-01T12:00:00Z' } };
  assert.equal(planStep(observed(pKey, { workload: terminating, pending: record })).type, 'done');
  const create = planStep(observed(pKey, { pending: record }));
  assert.equal(create.type, 'create-pod');
  assert.ok(create.type === 'create-pod' && create.fallback, 'entering: the original is the fallback');
  const spent = planStep(observed(pKey, { workload: pod({ uid: 'uid-p2', injected: true }), pending: record }));
  assert.deepEqual(spent.type === 'clear-pending' && spent.owner?.uid, 'uid-p2');
  // The label was taken off again before the old pod went: the replacement is abandoned.
  const changedMind = planStep(observed(pKey, { workload: pod({ labelled: false }), pending: record }));
  assert.equal(changedMind.type, 'clear-pending');
});

test('a recreated pod unlabelled: replaced by its original; a pod created in dev mode has none, and says so', () => {
  const original = pod({ labelled: false, uid: '' });
  const dev = pod({ labelled: false, injected: true, original, uid: 'uid-p2' });
  assert.equal(planStep(observed(pKey, { workload: dev })).type, 'create-secret', 'the record needs a Secret to live on');
  const step = planStep(observed(pKey, { workload: dev, secret: secretOwnedBy('Pod', 'uid-p2') }));
  assert.equal(step.type, 'mark-pending');
  assert.deepEqual(step.type === 'mark-pending' && step.record, { replaces: 'uid-p2', pod: JSON.parse(JSON.stringify(original)) });
  const bornDev = pod({ labelled: false, injected: true });
  delete bornDev.metadata!.annotations!['dev.x/enabled-at'];
  delete bornDev.metadata!.annotations!['dev.x/enabled-by'];
  const left = planStep(observed(pKey, { workload: bornDev, secret: secretOwnedBy('Pod', 'uid-p1') }));
  assert.deepEqual(reasons(left), ['DevModeLeft', 'SyncSecretDeleted', 'NoOriginal']);
});

test('a pod deleted by its user while in dev mode is not brought back', () => {
  const dev = pod({ injected: true, original: pod({ labelled: false, uid: '' }) });
  const deleting = { ...dev, metadata: { ...dev.metadata, labels: { app: 'solo' }, deletionTimestamp: '2026-05-01T12:00:00Z' } };
  const step = planStep(observed(pKey, { workload: deleting, secret: secretOwnedBy('Pod', 'uid-p1') }));
  assert.equal(step.type, 'delete-secret');
  assert.deepEqual(reasons(step), ['SyncSecretDeleted']);
});

test('keys: every object maps back to its source workload; pods of controllers and unknown kinds map to none', () => {
  assert.equal(keyString({ kind: 'CronJob', namespace: 'a', name: 'b' }), 'CronJob/a/b');
  assert.deepEqual(parseKeyString('CronJob/a/b'), { kind: 'CronJob', namespace: 'a', name: 'b' });
  assert.equal(parseKeyString('Service/a/b'), undefined);
  assert.equal(parseKeyString('Pod/a'), undefined);
  assert.deepEqual(keyFromRef('daemonset/agent', 'ns'), { kind: 'DaemonSet', namespace: 'ns', name: 'agent' });
  assert.equal(keyFromRef('nonsense', 'ns'), undefined);
  const copy = { metadata: { name: 'train-devx', namespace: 'ns', annotations: { 'dev.x/copy-of': 'job/train' } } };
  assert.deepEqual(keyOfWorkloadObject('Job', copy), { kind: 'Job', namespace: 'ns', name: 'train' });
  assert.equal(keyOfWorkloadObject('Pod', { metadata: { name: 'p', namespace: 'ns', ownerReferences: [{ kind: 'ReplicaSet', name: 'r' }] } }), undefined);
  assert.deepEqual(keyOfWorkloadObject('Pod', { metadata: { name: 'p', namespace: 'ns' } }), { kind: 'Pod', namespace: 'ns', name: 'p' });
  assert.deepEqual(keyOfSecret({ metadata: { namespace: 'ns', annotations: { 'dev.x/workload': 'statefulset/db' } } }), { kind: 'StatefulSet', namespace: 'ns', name: 'db' });
  assert.equal(keyOfSecret({ metadata: { namespace: 'ns' } }), undefined);
});

test('records devx cannot verify: nothing is done for the workload, with a Warning that says how to start again', () => {
  const w = deployment();
  const { records: _r, ...rest } = observed(dKey, { workload: w });
  const step = planStep({ ...rest });
  assert.equal(step.type, 'done');
  assert.deepEqual(reasons(step), ['UnverifiedRecord']);
  // Unlabelled, with forged leftovers: devx writes nothing back from them, and says why.
  const forged = deployment({ labelled: false, annotations: { 'dev.x/original-replicas': '50' } });
  const { records: _f, ...unverified } = observed(dKey, { workload: forged });
  const refused = planStep(unverified);
  assert.equal(refused.type, 'done');
  assert.deepEqual(reasons(refused), ['UnverifiedRecord']);
  // A template label with no record of devx's at all is the user's own: not rewritten either.
  const bare = deployment({ labelled: false });
  delete bare.metadata?.annotations;
  assert.notEqual(planStep(observed(dKey, { workload: bare, records: {} })).type, 'restore-workload');
  // Positive control: the same leftovers with devx's verified records are restored.
  const ours = planStep(observed(dKey, { workload: deployment({ labelled: false }) }));
  assert.equal(ours.type, 'restore-workload');
});

test('a bare pod whose dev.x/original-pod devx did not record is never created again from it', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: 'u1', annotations: { 'dev.x/original-pod': JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'kube-system' }, spec: { hostPID: true, containers: [{ name: 'x', image: 'x' }] } }) } }, spec: { containers: [{ name: 'x', image: 'x' }] } };
  const step = planStep(observed({ kind: 'Pod', namespace: 'ns', name: 'p' }, { workload: pod, records: {} }));
  assert.notEqual(step.type, 'mark-pending');
  assert.notEqual(step.type, 'create-pod');
  // The positive control: the same record, verified, is acted on.
  const verified = planStep(observed({ kind: 'Pod', namespace: 'ns', name: 'p' }, { workload: pod, secret: secretOwnedBy('Pod', 'u1') }));
  assert.equal(verified.type, 'mark-pending');
});

test('a namespace without dev.x/policy: nothing is created, changed or deleted there', () => {
  const step = planStep(observed(dKey, { workload: deployment({ labelled: false }), namespaceEnabled: false, secret: secretOwnedBy('Deployment', 'uid-web') }));
  assert.equal(step.type, 'done');
});

test('a scale during dev mode is recorded and the replicas go back to one', () => {
  const w = deployment();
  (w.spec as { replicas: number }).replicas = 5;
  const step = planStep(observed(dKey, { workload: w, secret: secretOwnedBy('Deployment', 'uid-web'), secretValid: true }));
  assert.equal(step.type, 'repin-replicas');
  assert.equal(step.type === 'repin-replicas' && step.replicas, 5);
});
