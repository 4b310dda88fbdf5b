// The reconciler's executor against an in-memory API server (optimistic concurrency, preconditions, garbage
// collection of owned objects, a stand-in for devx admission): whole flows, the fallback when admission refuses the
// dev pod, and a crash injected before and after every single write, after which a fresh reconciler must reach
// exactly the state an uninterrupted run reaches. No network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/core/kube.ts';
import { labelsOf } from '../../src/core/kube.ts';
import { isDevEnabled } from '../../src/core/names.ts';
import { leaveDevMode } from '../../src/core/workload.ts';
import { signRecords, verifiedRecords } from '../../src/core/records.ts';
import { hmacSigner } from '../../src/tls/record-signer.ts';
import { silentLogger } from '../../src/k8s/logger.ts';
import type { WorkloadKey } from '../../src/reconciler/keys.ts';
import type { ApiKind, DeleteOptions, EventRecord, ObjectApi } from '../../src/reconciler/ports.ts';
import { createReconciler } from '../../src/reconciler/reconciler.ts';
import { DevPolicySpecSchema, type DevPolicySpec } from '../../src/schemas/policy.ts';
import { buildSyncSecretData, type SyncSecretData } from '../../src/sync/secret.ts';

const NS = 'ns';
const SIGNER = hmacSigner(Buffer.from('reconciler executor test key, 32'));

/** Signs an object's records as admission does for a labelled workload. */
function admitted(obj: KubeObject): KubeObject {
  signRecords(obj, { signer: SIGNER, namespace: NS });
  return obj;
}
const policy = DevPolicySpecSchema.parse({});
// Key generation is the slow part: one set of real identities serves every Secret here.
const DATA: SyncSecretData = buildSyncSecretData({ workloadKind: 'Pod', workloadName: 'x', namespace: NS, now: new Date() });

class Crash extends Error {}

function httpError(status: number, message: string): Error {
  return Object.assign(new Error(message), { status });
}

type Store = Map<string, KubeObject>;

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * A small API server: objects by kind/namespace/name, uids and resourceVersions, 404/409 like the real one, GC of
 * objects whose owners are all gone, and admission: a labelled pod is "injected"; removing the label from a workload
 * restores it (leaveDevMode); `refusePods` makes admission deny dev pods.
 */
function fakeApi(opts: { refusePods?: boolean } = {}): ObjectApi & { store: Store; events: EventRecord[]; writes: number; crashAt?: { after: number; mode: 'before' | 'after' } } {
  const store: Store = new Map();
  let counter = 0;
  const id = (kind: string, ns: string, name: string): string => `${kind}/${ns}/${name}`;
  const events: EventRecord[] = [];
  const self = {
    store,
    events,
    writes: 0,
    crashAt: undefined as { after: number; mode: 'before' | 'after' } | undefined,
  };
  /** Counts a write; crashes the "process" before or after the nth one, as told. */
  const write = <T>(apply: () => T): T => {
    const n = ++self.writes;
    const crash = self.crashAt;
    if (crash && crash.mode === 'before' && n > crash.after) throw new Crash('killed');
    const result = apply();
    if (crash && crash.mode === 'after' && n > crash.after) throw new Crash('killed (the write happened; its answer was lost)');
    return result;
  };
  const gc = (): void => {
    const uids = new Set([...store.values()].map((o) => o.metadata?.uid));
    for (const [k, o] of store) {
      const owners = o.metadata?.ownerReferences ?? [];
      if (owners.length > 0 && owners.every((r) => !uids.has(r.uid))) {
        store.delete(k);
        gc();
        return;
      }
    }
  };
  const admit = (kind: ApiKind, obj: KubeObject, old: KubeObject | undefined): KubeObject => {
    if (kind === 'Pod' && !old && isDevEnabled(labelsOf(obj))) {
      if (opts.refusePods) throw httpError(403, 'admission webhook "pods.dev.x" denied the request: image not allowed');
      // As the pod route does: the status added, every record signed (devx created it, so its records are trusted).
      const injected: KubeObject = { ...obj, kind: 'Pod', metadata: { ...obj.metadata, annotations: { ...(obj.metadata?.annotations ?? {}), 'dev.x/status': '{}' } } };
      signRecords(injected, { signer: SIGNER, namespace: NS });
      return injected;
    }
    if (kind !== 'Secret' && old && isDevEnabled(labelsOf(old)) && !isDevEnabled(labelsOf(obj))) {
      const d = leaveDevMode(kind as never, obj, verifiedRecords({ ...old, kind }, { signer: SIGNER, namespace: NS }) ?? {});
      return d.kind === 'mutate' ? d.object : obj;
    }
    return obj;
  };
  const stored = (kind: ApiKind, obj: KubeObject, old?: KubeObject): KubeObject => {
    let o = structuredClone(obj);
    if (kind === 'Secret' && o.stringData) {
      o.data = Object.fromEntries(Object.entries(o.stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
      delete o.stringData;
    }
    o = admit(kind, o, old);
    o.metadata = { ...o.metadata, uid: old?.metadata?.uid ?? `uid-${++counter}`, resourceVersion: String(++counter) };
    return o;
  };
  const api: ObjectApi = {
    get: async (kind, ns, name) => structuredClone(store.get(id(kind, ns, name))),
    list: async (kind, ns) => [...store.entries()].filter(([k]) => k.startsWith(`${kind}/${ns}/`)).map(([, o]) => structuredClone(o)),
    create: async (kind, obj) =>
      write(() => {
        const k = id(kind, obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
        if (store.has(k)) throw httpError(409, 'AlreadyExists');
        const o = stored(kind, obj);
        store.set(k, o);
        return structuredClone(o);
      }),
    replace: async (kind, obj) =>
      write(() => {
        const k = id(kind, obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
        const old = store.get(k);
        if (!old) throw httpError(404, 'NotFound');
        if (obj.metadata?.resourceVersion && obj.metadata.resourceVersion !== old.metadata?.resourceVersion) throw httpError(409, 'Conflict');
        const o = stored(kind, obj, old);
        store.set(k, o);
        return structuredClone(o);
      }),
    patch: async (kind, ns, name, patch) =>
      write(() => {
        const k = id(kind, ns, name);
        const old = store.get(k);
        if (!old) throw httpError(404, 'NotFound');
        const rv = (patch as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
        if (rv && rv !== old.metadata?.resourceVersion) throw httpError(409, 'Conflict');
        const o = stored(kind, mergePatch(old, patch) as KubeObject, old);
        store.set(k, o);
        return structuredClone(o);
      }),
    delete: async (kind, ns, name, o: DeleteOptions = {}) =>
      write(() => {
        const k = id(kind, ns, name);
        const old = store.get(k);
        if (!old) return false;
        if ((o.uid && o.uid !== old.metadata?.uid) || (o.resourceVersion && o.resourceVersion !== old.metadata?.resourceVersion)) return false;
        store.delete(k);
        gc();
        return true;
      }),
    namespaces: async () => [NS],
    event: async (e) => {
      events.push(e);
    },
  };
  return Object.assign(self, api);
}

function reconcilerOn(api: ObjectApi, spec: DevPolicySpec = policy): ReturnType<typeof createReconciler> {
  return createReconciler({ api, policyOf: () => spec, namespaceEnabled: () => true, signer: SIGNER, logger: silentLogger, identity: 'test', generateSecretData: async () => DATA, known: () => [] });
}

/** Reconciles until the plan is done (a delay asked for counts as "look again now", as time passes in between). */
async function settle(api: ObjectApi, key: WorkloadKey, spec: DevPolicySpec = policy): Promise<void> {
  const r = reconcilerOn(api, spec);
  for (let i = 0; i < 10; i++) {
    const { afterMs } = await r.reconcile(key);
    if (afterMs === undefined || afterMs > 60_000) return;
  }
  throw new Error('did not settle');
}

/** The store, reduced to what the outcome is: which objects, their labels, devx's markers, and whether owners are alive. */
function outcome(store: Store): string[] {
  const uids = new Set([...store.values()].map((o) => o.metadata?.uid));
  return [...store.entries()]
    .map(([k, o]) => {
      const anns = o.metadata?.annotations ?? {};
      const owners = (o.metadata?.ownerReferences ?? []).map((r) => `${r.kind}/${r.name}:${uids.has(r.uid) ? 'alive' : 'gone'}`);
      const markers = ['dev.x/status', 'dev.x/original-pod', 'dev.x/pending-pod', 'dev.x/copy-of', 'dev.x/enabled-at'].filter((a) => anns[a] !== undefined);
      return `${k} labels=${JSON.stringify(o.metadata?.labels ?? {})} owners=${owners.join(',')} markers=${markers.join(',')}`;
    })
    .sort();
}

const ENABLED = { 'dev.x/enabled-at': '2026-01-01T00:00:00Z', 'dev.x/enabled-by': 'alice' };

function seedPod(api: ReturnType<typeof fakeApi>, labelled: boolean): void {
  api.store.set(`Pod/${NS}/solo`, admitted({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'solo', namespace: NS, uid: 'uid-orig', resourceVersion: '1', labels: { app: 'solo', ...(labelled ? { 'dev.x/enabled': 'true' } : {}) }, annotations: labelled ? { ...ENABLED } : {} },
    spec: { containers: [{ name: 'app', image: 'solo:1' }] },
  }));
}

function seedJob(api: ReturnType<typeof fakeApi>): void {
  api.store.set(`Job/${NS}/train`, admitted({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'train', namespace: NS, uid: 'uid-job', resourceVersion: '1', labels: { 'dev.x/enabled': 'true' }, annotations: { ...ENABLED } },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'c:1' }] } } },
  }));
}

/** The user's `kubectl label … dev.x/enabled-`, admission included. */
async function unlabel(api: ObjectApi, kind: ApiKind, name: string): Promise<void> {
  await api.patch(kind, NS, name, { metadata: { labels: { 'dev.x/enabled': null } } });
}

const podKey: WorkloadKey = { kind: 'Pod', namespace: NS, name: 'solo' };
const jobKey: WorkloadKey = { kind: 'Job', namespace: NS, name: 'train' };

test('a bare pod through enter and leave: recreated injected with its Secret, then recreated as it was, nothing left', async () => {
  const api = fakeApi();
  seedPod(api, true);
  await settle(api, podKey);
  const dev = api.store.get(`Pod/${NS}/solo`)!;
  assert.notEqual(dev.metadata?.uid, 'uid-orig');
  assert.ok(dev.metadata?.annotations?.['dev.x/status']);
  const secret = api.store.get(`Secret/${NS}/devx-sync-pod-solo`)!;
  assert.equal(secret.metadata?.ownerReferences?.[0]?.uid, dev.metadata?.uid);
  assert.equal(secret.metadata?.annotations?.['dev.x/pending-pod'], undefined);
  assert.deepEqual(api.events.map((e) => e.reason), ['DevModeEntered', 'SyncSecretCreated', 'Recreating', 'Recreated']);
  // Events until the replacement are about the old pod, from then on about the new one (describe matches by uid).
  assert.deepEqual(api.events.map((e) => e.regarding.uid), ['uid-orig', 'uid-orig', 'uid-orig', dev.metadata?.uid]);
  const writes = api.writes;
  await settle(api, podKey);
  assert.equal(api.writes, writes, 'a settled workload gets no writes');

  await unlabel(api, 'Pod', 'solo');
  await settle(api, podKey);
  const back = api.store.get(`Pod/${NS}/solo`)!;
  assert.deepEqual(back.metadata?.labels, { app: 'solo' });
  assert.deepEqual(back.metadata?.annotations ?? {}, {});
  assert.deepEqual(back.spec, { containers: [{ name: 'app', image: 'solo:1' }] });
  assert.deepEqual([...api.store.keys()], [`Pod/${NS}/solo`]);
});

test('admission refuses the dev pod: the original is created again, with a Warning, and dev mode ends cleanly', async () => {
  const api = fakeApi({ refusePods: true });
  seedPod(api, true);
  await settle(api, podKey);
  const pod = api.store.get(`Pod/${NS}/solo`)!;
  assert.deepEqual(pod.metadata?.labels, { app: 'solo' });
  const refused = api.events.find((e) => e.reason === 'DevModeRefused');
  assert.equal(refused?.type, 'Warning');
  assert.match(refused?.note ?? '', /image not allowed/);
  assert.equal(refused?.regarding.uid, pod.metadata?.uid, 'about the pod that exists now');
  assert.deepEqual([...api.store.keys()], [`Pod/${NS}/solo`], 'no Secret left');
});

/** The outcome of an uninterrupted run of `scenario`. */
async function reference(scenario: (api: ReturnType<typeof fakeApi>) => Promise<void>): Promise<{ outcome: string[]; writes: number }> {
  const api = fakeApi();
  await scenario(api);
  return { outcome: outcome(api.store), writes: api.writes };
}

/** Runs `scenario` with a crash at every write, before it or after it, then lets a fresh reconciler finish. */
async function crashEverywhere(name: string, seed: (api: ReturnType<typeof fakeApi>) => void, key: WorkloadKey, between?: (api: ReturnType<typeof fakeApi>) => Promise<void>, spec: DevPolicySpec = policy): Promise<void> {
  const run = async (api: ReturnType<typeof fakeApi>): Promise<void> => {
    seed(api);
    await settle(api, key, spec);
    if (between) {
      await between(api);
      await settle(api, key, spec);
    }
  };
  const ref = await reference(run);
  assert.ok(ref.writes > 3, `${name}: a scenario with writes`);
  for (const mode of ['before', 'after'] as const) {
    for (let n = 0; n < ref.writes; n++) {
      const api = fakeApi();
      api.crashAt = { after: n, mode };
      seed(api);
      const phase = async (): Promise<void> => {
        try {
          await settle(api, key, spec);
        } catch (err) {
          if (!(err instanceof Crash)) throw err;
          // The process died; a new one starts from whatever the objects say.
          api.crashAt = undefined;
          await settle(api, key, spec);
        }
      };
      await phase();
      if (between) {
        api.crashAt = undefined;
        await between(api);
        api.crashAt = { after: n, mode };
        api.writes = 0;
        await phase();
      }
      assert.deepEqual(outcome(api.store), ref.outcome, `${name}: crash ${mode} write ${n + 1}`);
    }
  }
}

test('SIGKILL at any write (before or after it lands): a fresh reconciler ends exactly where an uninterrupted one does', async () => {
  await crashEverywhere('pod enters', (api) => seedPod(api, true), podKey);
  await crashEverywhere('pod enters and leaves', (api) => seedPod(api, true), podKey, (api) => unlabel(api, 'Pod', 'solo'));
  await crashEverywhere('job enters and leaves', seedJob, jobKey, (api) => unlabel(api, 'Job', 'train'));
});

// ---- DevPolicy persistence: the workdir claim ------------------------------------------------------------------

const persistent = DevPolicySpecSchema.parse({ persistence: { size: '1Gi' } });
const deployKey: WorkloadKey = { kind: 'Deployment', namespace: NS, name: 'web' };
const CLAIM = `PersistentVolumeClaim/${NS}/devx-workdir-deployment-web`;

/** A Deployment in dev mode as admission leaves it (records signed), with more labels if asked. */
function seedDeployment(api: ReturnType<typeof fakeApi>, labels: Record<string, string> = {}): void {
  api.store.set(`Deployment/${NS}/web`, admitted({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: NS, uid: 'uid-dep', resourceVersion: '1', labels: { 'dev.x/enabled': 'true', ...labels }, annotations: { ...ENABLED, 'dev.x/original-replicas': '2' } },
    spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web', 'dev.x/enabled': 'true' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } } },
  }));
}

test('persistence: the claim is made with the Secret, signed and owned by the Deployment; leaving dev mode deletes it', async () => {
  const api = fakeApi();
  seedDeployment(api);
  await settle(api, deployKey, persistent);
  const claim = api.store.get(CLAIM);
  assert.ok(claim, 'the claim exists');
  assert.deepEqual(claim.metadata?.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-dep' }]);
  assert.deepEqual(claim.spec, { accessModes: ['ReadWriteOnce'], volumeMode: 'Filesystem', resources: { requests: { storage: '1Gi' } } });
  assert.equal(verifiedRecords(claim, { signer: SIGNER, namespace: NS })?.['dev.x/volume-of'], 'deployment/web');
  assert.deepEqual(api.events.map((e) => e.reason), ['DevModeEntered', 'SyncSecretCreated', 'VolumeCreated']);
  const writes = api.writes;
  await settle(api, deployKey, persistent);
  assert.equal(api.writes, writes, 'a settled workload gets no writes');

  await unlabel(api, 'Deployment', 'web');
  await settle(api, deployKey, persistent);
  assert.deepEqual([...api.store.keys()], [`Deployment/${NS}/web`], 'claim and Secret gone');
  assert.deepEqual(api.events.slice(3).map((e) => e.reason), ['VolumeDeleted', 'DevModeLeft', 'SyncSecretDeleted']);
});

test('persistence: dev.x/keep-volume=true keeps the claim when dev mode ends and dev mode uses the same one again; deleting the Deployment deletes it', async () => {
  const api = fakeApi();
  seedDeployment(api, { 'dev.x/keep-volume': 'true' });
  await settle(api, deployKey, persistent);
  const uid = api.store.get(CLAIM)?.metadata?.uid;
  await unlabel(api, 'Deployment', 'web');
  await settle(api, deployKey, persistent);
  assert.equal(api.store.get(CLAIM)?.metadata?.uid, uid, 'kept');
  assert.equal(api.store.get(`Secret/${NS}/devx-sync-deployment-web`), undefined, 'the Secret goes');
  assert.ok(api.events.some((e) => e.reason === 'VolumeKept'));
  // Dev mode again (admission's work done as the user's `kubectl label` would have it): the same claim.
  seedDeployment(api, { 'dev.x/keep-volume': 'true' });
  await settle(api, deployKey, persistent);
  assert.equal(api.store.get(CLAIM)?.metadata?.uid, uid, 'reused, not made again');
  assert.equal(api.events.filter((e) => e.reason === 'VolumeCreated').length, 1);
  // The Deployment deleted: the claim goes with it (garbage collection, and the reconciler's own pass).
  await api.delete('Deployment', NS, 'web');
  await settle(api, deployKey, persistent);
  assert.deepEqual([...api.store.keys()], []);
});

test('persistence: a claim of that name that devx did not make (devx\'s labels and record copied, unsigned) is neither used as devx\'s nor deleted', async () => {
  const api = fakeApi();
  const users: KubeObject = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'devx-workdir-deployment-web', namespace: NS, uid: 'uid-users', resourceVersion: '1', labels: { 'app.kubernetes.io/managed-by': 'devx', 'app.kubernetes.io/component': 'workdir' }, annotations: { 'dev.x/volume-of': 'deployment/web' } },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '9Gi' } } },
  };
  api.store.set(CLAIM, structuredClone(users));
  seedDeployment(api);
  await settle(api, deployKey, persistent);
  const taken = api.events.find((e) => e.reason === 'VolumeNameTaken');
  assert.equal(taken?.type, 'Warning');
  await unlabel(api, 'Deployment', 'web');
  await settle(api, deployKey, persistent);
  assert.deepEqual(api.store.get(CLAIM), users, 'untouched: not adopted, not deleted');
});

test('persistence, SIGKILL at any write: a fresh reconciler ends exactly where an uninterrupted one does', async () => {
  await crashEverywhere('deployment with a claim enters and leaves', (api) => seedDeployment(api), deployKey, (api) => unlabel(api, 'Deployment', 'web'), persistent);
  await crashEverywhere('deployment keeps its claim', (api) => seedDeployment(api, { 'dev.x/keep-volume': 'true' }), deployKey, (api) => unlabel(api, 'Deployment', 'web'), persistent);
});
