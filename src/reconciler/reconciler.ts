// The reconciler (DESIGN §3, §5): for each source workload, observe (fresh GETs), plan one step (plan.ts), perform
// it, record an Event, and again, until the plan says done. Keys come from the informers (labelled workloads, devx's
// own Secrets and copies) and from a periodic resync that also scans dev-enabled namespaces for leftovers of dev mode
// on unlabelled objects. Nothing is remembered between passes except which keys to look at: all state is in the
// objects, so a restart (or a new leader) simply looks at everything once.
import type { KubeObject } from '../core/kube.ts';
import type { Logger } from '../logger.ts';
import { annotationsOf, labelsOf } from '../core/kube.ts';
import { signRecords, verifiedRecords, type RecordSigner, type Records } from '../core/records.ts';
import { ANN_COPY_OF, ANN_ORIGINAL_REPLICAS, ANN_PENDING_POD, ANN_SIGNATURE, ANN_WORKLOAD, LABEL_COPY, LABEL_ENABLED, LABEL_POLICY, WORKLOAD_KINDS, isDevEnabled, type WorkloadKind } from '../core/names.ts';
import { DUPLICATE_KINDS, duplicateName, isDuplicateNameOf } from '../core/duplicate.ts';
import { duplicateSecretName, duplicateVolumeName, isDuplicateOf, wantedUsers, type DuplicatesSeen } from './duplicates.ts';
import { hasDevState } from '../core/workload.ts';
import type { DevPolicySpec } from '../schemas/policy.ts';
import type { BuildSyncSecretOptions, SyncSecretData } from '../sync/secret.ts';
import { syncSecretName } from '../sync/secret.ts';
import { apiVersionOf } from '../core/kinds.ts';
import { copyKindOf, copyName, type OwnerReference } from './copies.ts';
import { keyOfSecret, keyOfVolume, keyOfWorkloadObject, keyString, parseKeyString, refOf, type WorkloadKey } from './keys.ts';
import { planStep, type EventSpec, type Observed, type Step } from './plan.ts';
import { parsePendingPod, storedOriginalOf } from './pods.ts';
import { statusOf, type ApiKind, type ObjectApi } from './ports.ts';
import { createWorkQueue, type WorkQueue } from './queue.ts';
import { duplicateSecretObject, isSyncSecretOf, secretDataUsable, SYNC_SECRET_SELECTOR, syncSecretObject } from './sync-secret-object.ts';
import { duplicateVolumeObject, isWorkdirVolumeOf, WORKDIR_VOLUME_SELECTOR, workdirVolumeObject } from './workdir-volume-object.ts';
import { workdirClaimName } from '../core/secret-name.ts';

export type { Logger as ReconcilerLogger } from '../logger.ts';

export interface ObjectChange {
  /** Kind of the object seen: one of the six workload kinds, `Secret`, `PersistentVolumeClaim`, or a copy's
   * `Job`/`Deployment`. */
  kind: string;
  type: 'add' | 'update' | 'delete';
  object: KubeObject;
}

export interface ReconcilerOptions {
  api: ObjectApi;
  /** The DevPolicy spec of a namespace, if it resolves (for the TTL cap). */
  policyOf: (namespace: string) => DevPolicySpec | undefined;
  /** Whether a namespace carries dev.x/policy: devx creates, changes and deletes nothing anywhere else. */
  namespaceEnabled: (namespace: string) => boolean;
  /** Verifies the records devx acts on, and signs the ones it writes. */
  signer: RecordSigner;
  logger: Logger;
  /** This replica's name, in Events' reportingInstance. */
  identity: string;
  /** Makes a sync Secret's data (in a worker thread; see secret-generator.ts). */
  generateSecretData: (opts: BuildSyncSecretOptions) => Promise<SyncSecretData>;
  /** What the informers hold now, for the resync: labelled workloads and devx's own objects. */
  known: () => ObjectChange[];
  /** Look at every workload again this often (default 60 s). */
  resyncMs?: number;
  /** Wait this long before every change the reconciler makes (default 0): slow motion for tests and demos. */
  stepDelayMs?: number;
  workers?: number;
  now?: () => Date;
}

export interface Reconciler {
  /** Begins handling keys (on becoming leader) with a full resync. */
  start(): void;
  /** Stops handling keys; waits for passes in progress. */
  stop(): Promise<void>;
  running(): boolean;
  /** An informer saw a change: queue the workload it belongs to. */
  observe(change: ObjectChange): void;
  /** Queues every workload that may need work; resolves with how many were queued. */
  resync(): Promise<number>;
  /** One full pass over one workload (what a queued key gets); exported for tests. */
  reconcile(key: WorkloadKey, hints?: ReadonlySet<string>): Promise<{ afterMs?: number }>;
}

const REPORTER = 'dev.x/reconciler';
const MAX_STEPS = 16;
const DEFAULT_RESYNC_MS = 60_000;
const RESYNC_HINT = 'resync';

/** Admission refused the object (as opposed to failing to answer, which is a 500 and worth retrying). */
function isRefusal(err: unknown): boolean {
  const s = statusOf(err);
  return s === 400 || s === 403 || s === 422;
}

async function ignoring(status: number, p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (statusOf(err) !== status) throw err;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function createReconciler(o: ReconcilerOptions): Reconciler {
  const now = o.now ?? ((): Date => new Date());
  const resyncMs = o.resyncMs ?? DEFAULT_RESYNC_MS;
  let queue: WorkQueue | undefined;
  let resyncTimer: NodeJS.Timeout | undefined;
  // A second stop() (leadership lost while the server shuts down) waits for the same passes as the first.
  let stopping: Promise<void> | undefined;

  const enqueue = (key: WorkloadKey | undefined, hint?: string): void => {
    if (key) queue?.add(keyString(key), hint ? { hint } : {});
  };

  // ---- observing ----------------------------------------------------------------------------------------------

  const verify = (obj: KubeObject | undefined, namespace: string): Records | undefined =>
    verifiedRecords(obj, { signer: o.signer, namespace });

  /** The sync Secret, sorted into ours (with its record, if devx can prove it wrote it) or someone else's. */
  function withSecret(observed: Observed, secret: KubeObject | undefined): void {
    const { key } = observed;
    if (!secret) return;
    if (!isSyncSecretOf(secret, key)) {
      observed.secretForeign = true;
      return;
    }
    observed.secret = secret;
    observed.secretValid = secretDataUsable(secret);
    const record = verify({ ...secret, kind: 'Secret' }, key.namespace)?.[ANN_PENDING_POD];
    if (record === undefined && annotationsOf(secret)[ANN_PENDING_POD] !== undefined) {
      o.logger.warn({ workload: keyString(key) }, 'pending-pod record on the sync Secret is not devx\'s; ignored');
    }
    const pending = key.kind === 'Pod' ? parsePendingPod(record) : undefined;
    if (pending) observed.pending = pending;
  }

  /** The workdir claim, sorted into ours (its signed dev.x/volume-of names this workload) or someone else's. */
  function withVolume(observed: Observed, claim: KubeObject | undefined): void {
    if (!claim) return;
    const { key } = observed;
    if (isWorkdirVolumeOf(claim, key, verify({ ...claim, kind: 'PersistentVolumeClaim' }, key.namespace))) observed.volume = claim;
    else observed.volumeForeign = true;
  }

  /** A copy whose dev.x/copy-of devx cannot verify is someone else's object of that name. */
  function verifiedCopy(copy: KubeObject | undefined, namespace: string): KubeObject | undefined {
    if (!copy) return undefined;
    const ref = annotationsOf(copy)[ANN_COPY_OF];
    if (ref === undefined || verify(copy, namespace)?.[ANN_COPY_OF] === ref) return copy;
    const { [ANN_COPY_OF]: _forged, ...annotations } = annotationsOf(copy);
    return { ...copy, metadata: { ...copy.metadata, annotations } };
  }

  /** What stands under one wanted name: nothing, ours (in `ours`), or someone else's. */
  const taken = (found: Array<KubeObject | undefined>, ours: KubeObject[]): string[] =>
    found.filter((x): x is KubeObject => x !== undefined && !ours.some((m) => m.metadata?.uid === x.metadata?.uid)).map((x) => x.metadata?.name ?? '');

  /** devx's duplicate copies of a Deployment or StatefulSet, their Secrets and workdir claims (records verified where
   * they carry any), and the names its record asks for that someone else holds. */
  async function observeDuplicates(key: WorkloadKey, records: Records | undefined): Promise<{ duplicates?: DuplicatesSeen }> {
    if (!DUPLICATE_KINDS.includes(key.kind)) return {};
    const names = wantedUsers(records).map((u) => duplicateName(key.name, u));
    const ns = key.namespace;
    const [listed, secrets, claims, named] = await Promise.all([
      o.api.list('Deployment', ns, LABEL_COPY),
      o.api.list('Secret', ns, `${SYNC_SECRET_SELECTOR},${LABEL_COPY}`),
      o.api.list('PersistentVolumeClaim', ns, `${WORKDIR_VOLUME_SELECTOR},${LABEL_COPY}`),
      Promise.all(names.flatMap((n) => [o.api.get('Deployment', ns, n), o.api.get('Secret', ns, duplicateSecretName(n)), o.api.get('PersistentVolumeClaim', ns, duplicateVolumeName(n))])),
    ]);
    const copies = listed.map((c) => ({ ...c, kind: 'Deployment' })).filter((c) => {
      const verified = verify(c, ns);
      return verified !== undefined && isDuplicateOf({ metadata: { annotations: verified } }, key);
    });
    // A copy's Secret and claim carry the copy's name in dev.x/copy: the workload's own never do.
    // Listed by label, kept only under the name devx gives a copy of this workload's Secret or claim: a label alone
    // (anyone who may update the object can set it) never makes devx delete an object of another name.
    const ofCopy = (x: KubeObject, nameFor: (copy: string) => string): boolean => {
      const copy = labelsOf(x)[LABEL_COPY];
      return copy !== undefined && isDuplicateNameOf(copy, key.name) && x.metadata?.name === nameFor(copy);
    };
    const ownSecrets = secrets.filter((x) => ofCopy(x, duplicateSecretName) && annotationsOf(x)[ANN_WORKLOAD] === refOf(key));
    const volumes = claims.filter((c) => ofCopy(c, duplicateVolumeName) && isWorkdirVolumeOf(c, key, verify({ ...c, kind: 'PersistentVolumeClaim' }, ns)));
    const nth = (i: number): Array<KubeObject | undefined> => named.filter((_x, j) => j % 3 === i);
    const duplicates = { copies, secrets: ownSecrets, volumes, takenCopies: taken(nth(0), copies), takenSecrets: taken(nth(1), ownSecrets), takenVolumes: taken(nth(2), volumes) };
    return { duplicates };
  }

  async function observeKey(key: WorkloadKey, hints: ReadonlySet<string>, tried: ReadonlySet<Step['type']>): Promise<Observed> {
    const copyKind = copyKindOf(key.kind);
    const [workload, secret, copy, claim] = await Promise.all([
      o.api.get(key.kind, key.namespace, key.name),
      o.api.get('Secret', key.namespace, syncSecretName(key.kind, key.name)),
      copyKind ? o.api.get(copyKind, key.namespace, copyName(key.name)) : Promise.resolve(undefined),
      // A bare pod never has a workdir claim (it keeps its emptyDir).
      key.kind === 'Pod' ? Promise.resolve(undefined) : o.api.get('PersistentVolumeClaim', key.namespace, workdirClaimName(key.kind, key.name)),
    ]);
    const policy = o.policyOf(key.namespace);
    const ownCopy = verifiedCopy(copy ? { ...copy, kind: copy.kind ?? copyKind } : undefined, key.namespace);
    const records = workload ? verify({ ...workload, kind: key.kind }, key.namespace) : {};
    const duplicates = await observeDuplicates(key, records);
    const observed: Observed = {
      key,
      now: now(),
      hints,
      tried,
      namespaceEnabled: o.namespaceEnabled(key.namespace),
      ...(records ? { records } : {}),
      ...(workload ? { workload } : {}),
      ...(ownCopy ? { copy: ownCopy } : {}),
      ...(policy ? { policy } : {}),
      ...duplicates,
    };
    withSecret(observed, secret);
    withVolume(observed, claim);
    return observed;
  }

  // ---- acting -------------------------------------------------------------------------------------------------

  async function newSecretData(key: WorkloadKey): Promise<SyncSecretData> {
    return o.generateSecretData({ workloadKind: key.kind, workloadName: key.name, namespace: key.namespace, now: now() });
  }

  /** Creates the replacement pod and returns it (Events are about the new pod: `kubectl describe` goes by uid). */
  /** A pod to create for a key: in the key's own namespace and under its name, whatever the record says. */
  const ownPod = (pod: KubeObject, key: WorkloadKey): KubeObject => ({ ...pod, metadata: { ...pod.metadata, namespace: key.namespace, name: key.name } });

  async function createPod(step: Extract<Step, { type: 'create-pod' }>, ob: Observed): Promise<KubeObject | undefined> {
    try {
      return await o.api.create('Pod', ownPod(step.pod, ob.key));
    } catch (err) {
      if (statusOf(err) === 409) return undefined; // made already (by an earlier pass that did not live to see the answer)
      if (!step.fallback || !isRefusal(err)) throw err;
      const created = await o.api.create('Pod', ownPod(step.fallback, ob.key)).catch((e: unknown) => {
        if (statusOf(e) === 409) return undefined;
        throw e;
      });
      const why = (err as Error).message.replace(/^.*?: HTTP \d+: /, '');
      await emit(ob, 'Recreate', [{ type: 'Warning', reason: 'DevModeRefused', note: `the pod could not be created in dev mode (${why}); it was created again as it was` }], created);
      return created;
    }
  }

  type Performer<T extends Step['type']> = (step: Extract<Step, { type: T }>, ob: Observed) => Promise<KubeObject | undefined | void>;
  type Performers = { [T in Exclude<Step['type'], 'done'>]: Performer<T> };

  const secretName = (ob: Observed): string => syncSecretName(ob.key.kind, ob.key.name);
  const copyKind = (ob: Observed): ApiKind => copyKindOf(ob.key.kind) as ApiKind;
  const uidOf = (obj: KubeObject | undefined): string => String(obj?.metadata?.uid ?? '');

  /** How each step is carried out. Creating what exists already (409) counts as done: an earlier pass made it. */
  const performers: Performers = {
    'create-secret': async (step, ob) => {
      await ignoring(409, o.api.create('Secret', syncSecretObject(ob.key, await newSecretData(ob.key), [step.owner])));
    },
    'regenerate-secret': async (_step, ob) => {
      const current = ob.secret?.metadata;
      const fresh = syncSecretObject(ob.key, await newSecretData(ob.key), (current?.ownerReferences ?? []) as OwnerReference[]);
      await o.api.replace('Secret', { ...fresh, metadata: { ...fresh.metadata, resourceVersion: current?.resourceVersion } });
    },
    'adopt-secret': async (step, ob) => {
      await o.api.patch('Secret', ob.key.namespace, secretName(ob), { metadata: { ownerReferences: [step.owner], resourceVersion: ob.secret?.metadata?.resourceVersion } });
    },
    'delete-secret': async (_step, ob) => {
      await o.api.delete('Secret', ob.key.namespace, secretName(ob), { uid: uidOf(ob.secret) });
    },
    'create-copy': async (step, ob) => ignoring(409, o.api.create(copyKind(ob), signed(step.object, ob))),
    'update-copy': async (step, ob) => {
      const copy = signed(step.object, ob);
      await o.api.replace(copyKind(ob), { ...copy, metadata: { ...copy.metadata, resourceVersion: ob.copy?.metadata?.resourceVersion } });
    },
    'create-volume': async (step, ob) => {
      const claim = workdirVolumeObject(ob.key, step.persistence, step.owner);
      signRecords(claim, { signer: o.signer, namespace: ob.key.namespace });
      await ignoring(409, o.api.create('PersistentVolumeClaim', claim));
    },
    // Only this incarnation (uid): never a claim made since under the name. A pod still using it keeps it until it
    // stops (the API server's pvc-protection finalizer).
    'delete-volume': async (_step, ob) => {
      await o.api.delete('PersistentVolumeClaim', ob.key.namespace, workdirClaimName(ob.key.kind, ob.key.name), { uid: uidOf(ob.volume) });
    },
    'delete-copy': async (_step, ob) => {
      await o.api.delete(copyKind(ob), ob.key.namespace, copyName(ob.key.name), { uid: uidOf(ob.copy) });
    },
    // Through admission, as devx: the mutation keeps the recorded count and signs the records again.
    'repin-replicas': async (step, ob) => {
      const metadata = { annotations: { [ANN_ORIGINAL_REPLICAS]: String(step.replicas) }, resourceVersion: ob.workload?.metadata?.resourceVersion };
      await o.api.patch(ob.key.kind, ob.key.namespace, ob.key.name, { metadata, spec: { replicas: 1 } });
    },
    // A no-op update of a labelled object goes through admission, which completes dev mode.
    readmit: async (_step, ob) => {
      await o.api.patch(ob.key.kind, ob.key.namespace, ob.key.name, { metadata: { labels: { [LABEL_ENABLED]: 'true' } } });
    },
    // Through admission too: removing the label restores the workload exactly as a user's `kubectl label` would.
    expire: async (_step, ob) => {
      await o.api.patch(ob.key.kind, ob.key.namespace, ob.key.name, { metadata: { labels: { [LABEL_ENABLED]: null } } });
    },
    // An unlabelled object never reaches admission: the restored object is written directly (resourceVersion-guarded).
    'restore-workload': async (step, ob) => {
      await o.api.replace(ob.key.kind, step.object);
    },
    // Un-owned first: the Secret must outlive the pod it is about to replace.
    'mark-pending': async (step, ob) => {
      const annotations = pendingAnnotations(ob, JSON.stringify(step.record));
      const metadata = { annotations, ownerReferences: null, resourceVersion: ob.secret?.metadata?.resourceVersion };
      await o.api.patch('Secret', ob.key.namespace, secretName(ob), { metadata });
    },
    'delete-pod': async (step, ob) => {
      await o.api.delete('Pod', ob.key.namespace, ob.key.name, { uid: step.uid, resourceVersion: step.resourceVersion });
    },
    'create-pod': async (step, ob) => createPod(step, ob),
    'create-duplicate-secret': async (step, ob) => {
      const data = await o.generateSecretData({ workloadKind: 'Deployment', workloadName: step.copy, namespace: ob.key.namespace, now: now() });
      await ignoring(409, o.api.create('Secret', duplicateSecretObject(ob.key, step.copy, data, [step.owner])));
    },
    'delete-duplicate-secret': async (step, ob) => {
      await o.api.delete('Secret', ob.key.namespace, step.name, { uid: step.uid });
    },
    'create-duplicate': async (step, ob) => ignoring(409, o.api.create('Deployment', signed(step.object, ob))),
    'update-duplicate': async (step, ob) => {
      const copy = signed(step.object, ob);
      await o.api.replace('Deployment', { ...copy, metadata: { ...copy.metadata, resourceVersion: step.resourceVersion } });
    },
    'delete-duplicate': async (step, ob) => {
      await o.api.delete('Deployment', ob.key.namespace, step.name, { uid: step.uid });
    },
    'create-duplicate-volume': async (step, ob) => {
      const claim = duplicateVolumeObject(ob.key, step.copy, step.persistence, step.owner);
      signRecords(claim, { signer: o.signer, namespace: ob.key.namespace });
      await ignoring(409, o.api.create('PersistentVolumeClaim', claim));
    },
    'delete-duplicate-volume': async (step, ob) => {
      await o.api.delete('PersistentVolumeClaim', ob.key.namespace, step.name, { uid: step.uid });
    },
    'clear-pending': async (step, ob) => {
      const metadata = { annotations: pendingAnnotations(ob, undefined), ownerReferences: step.owner ? [step.owner] : null, resourceVersion: ob.secret?.metadata?.resourceVersion };
      await o.api.patch('Secret', ob.key.namespace, secretName(ob), { metadata });
    },
  };

  /** A copy with its records (dev.x/copy-of, dev.x/source-hash) signed. */
  function signed(copy: KubeObject, ob: Observed): KubeObject {
    const out = structuredClone(copy);
    signRecords(out, { signer: o.signer, namespace: ob.key.namespace });
    return out;
  }

  /** The sync Secret's pending-pod record (or its removal), signed, as a merge patch of its annotations. */
  function pendingAnnotations(ob: Observed, record: string | undefined): Record<string, string | null> {
    const secret: KubeObject = { kind: 'Secret', metadata: { name: secretName(ob), namespace: ob.key.namespace, annotations: record === undefined ? {} : { [ANN_PENDING_POD]: record } } };
    signRecords(secret, { signer: o.signer, namespace: ob.key.namespace });
    const signature = annotationsOf(secret)[ANN_SIGNATURE];
    return { [ANN_PENDING_POD]: record ?? null, [ANN_SIGNATURE]: signature ?? null };
  }

  /** Performs a step; returns the object it created when later Events should be about that one. */
  async function perform(step: Exclude<Step, { type: 'done' }>, ob: Observed): Promise<KubeObject | undefined> {
    return (await (performers[step.type] as Performer<typeof step.type>)(step as never, ob)) ?? undefined;
  }

  async function emit(ob: Observed, action: string, events: EventSpec[], about?: KubeObject): Promise<void> {
    const w = about ?? ob.workload;
    const regarding = {
      apiVersion: apiVersionOf(ob.key.kind),
      kind: ob.key.kind,
      namespace: ob.key.namespace,
      name: ob.key.name,
      ...(w?.metadata?.uid ? { uid: String(w.metadata.uid) } : {}),
    };
    for (const e of events) {
      try {
        await o.api.event({ ...e, regarding, action }, { controller: REPORTER, instance: o.identity });
      } catch (err) {
        o.logger.warn({ workload: keyString(ob.key), reason: e.reason, error: (err as Error).message }, 'event not recorded');
      }
    }
  }

  const actionOf = (type: Step['type']): string => type.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase());

  async function reconcile(key: WorkloadKey, hints: ReadonlySet<string> = new Set()): Promise<{ afterMs?: number }> {
    const tried = new Set<Step['type']>();
    for (let i = 0; i < MAX_STEPS; i++) {
      const ob = await observeKey(key, hints, tried);
      const step = planStep(ob);
      if (step.type === 'done') {
        // A standing problem (a name taken by someone else) is reported when something happens, not every resync.
        const onlyResync = hints.size === 1 && hints.has(RESYNC_HINT);
        if (step.events.length > 0 && !(i === 0 && onlyResync)) await emit(ob, 'Reconcile', step.events);
        o.logger.debug({ workload: keyString(key), state: step.reason, steps: i, afterMs: step.afterMs }, 'reconciled');
        return step.afterMs === undefined ? {} : { afterMs: step.afterMs };
      }
      if (o.stepDelayMs) await sleep(o.stepDelayMs);
      const made = await perform(step, ob);
      o.logger.info({ workload: keyString(key), step: step.type, events: step.events.map((e) => e.reason) }, 'reconcile step');
      await emit(ob, actionOf(step.type), step.events, made);
      tried.add(step.type);
    }
    o.logger.warn({ workload: keyString(key), steps: MAX_STEPS }, 'still not settled; looking again shortly');
    return { afterMs: 1000 };
  }

  // ---- what to look at ----------------------------------------------------------------------------------------

  function keyOfChange(c: ObjectChange): WorkloadKey | undefined {
    if (c.kind === 'Secret') return keyOfSecret(c.object);
    if (c.kind === 'PersistentVolumeClaim') return keyOfVolume(c.object);
    return keyOfWorkloadObject(c.kind, c.object);
  }

  /** Whether an object found by the namespace scan may have dev mode to finish or undo. */
  function mayNeedWork(kind: WorkloadKind, obj: KubeObject): boolean {
    if (isDevEnabled(labelsOf(obj)) || obj.metadata?.annotations?.[ANN_COPY_OF] !== undefined) return true;
    return hasDevState(kind, obj) || (kind === 'Pod' && storedOriginalOf(obj) !== undefined);
  }

  async function scanNamespace(ns: string, found: Map<string, WorkloadKey>): Promise<void> {
    const add = (k: WorkloadKey | undefined): void => {
      if (k) found.set(keyString(k), k);
    };
    for (const s of await o.api.list('Secret', ns, SYNC_SECRET_SELECTOR)) add(keyOfSecret(s));
    // A kept workdir claim outlives dev mode: its workload is looked at again (the label dev.x/keep-volume removed).
    for (const c of await o.api.list('PersistentVolumeClaim', ns, WORKDIR_VOLUME_SELECTOR)) add(keyOfVolume(c));
    for (const kind of WORKLOAD_KINDS) {
      for (const obj of await o.api.list(kind, ns)) if (mayNeedWork(kind, obj)) add(keyOfWorkloadObject(kind, obj));
    }
  }

  async function resync(): Promise<number> {
    const found = new Map<string, WorkloadKey>();
    for (const c of o.known()) {
      const k = keyOfChange(c);
      if (k) found.set(keyString(k), k);
    }
    try {
      for (const ns of await o.api.namespaces(LABEL_POLICY)) await scanNamespace(ns, found);
    } catch (err) {
      o.logger.warn({ error: (err as Error).message }, 'resync scan incomplete; the informers still drive the reconciler');
    }
    for (const k of found.values()) enqueue(k, RESYNC_HINT);
    o.logger.debug({ keys: found.size }, 'resync');
    return found.size;
  }

  const handle = async (text: string, hints: ReadonlySet<string>): Promise<{ afterMs?: number } | undefined> => {
    const key = parseKeyString(text);
    return key ? reconcile(key, hints) : undefined;
  };

  return {
    start: () => {
      if (queue) return;
      queue = createWorkQueue({
        workers: o.workers ?? 4,
        onError: (key, err, retryInMs) => o.logger.warn({ workload: key, error: (err as Error).message, retryInMs }, 'reconcile failed; retrying'),
      });
      queue.start(handle);
      const tick = (): void => {
        resync().catch((err: unknown) => o.logger.warn({ error: (err as Error).message }, 'resync failed'));
      };
      tick();
      resyncTimer = setInterval(tick, resyncMs);
      resyncTimer.unref();
    },
    stop: async () => {
      clearInterval(resyncTimer);
      resyncTimer = undefined;
      const q = queue;
      queue = undefined;
      if (q) stopping = q.stop();
      await stopping;
    },
    running: () => queue !== undefined,
    observe: (c) => {
      if (!queue) return;
      enqueue(keyOfChange(c), c.kind === 'Secret' && c.type === 'delete' ? 'secret-deleted' : undefined);
    },
    resync,
    reconcile,
  };
}
