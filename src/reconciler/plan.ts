// The reconciler's one decision, pure: given what is observed about one source workload right now (the workload,
// its sync Secret, its dev copy, the policy, the time), the next single step towards the state the labels ask for.
// The executor performs the step, observes again and asks again, until the answer is "done". Because every decision
// starts from the objects alone, a process killed between any two steps (or in the middle of one) continues from
// whatever it finds, and a step repeated by accident changes nothing.
import type { KubeObject } from '../core/kube.ts';
import { annotationsOf, labelsOf } from '../core/kube.ts';
import { ANN_DUPLICATES, ANN_ENABLED_AT, ANN_ENABLED_BY, ANN_ORIGINAL_POD, LABEL_KEEP_VOLUME, isDevEnabled } from '../core/names.ts';
import { planDuplicates, planDuplicatesGone, type DuplicateStep, type DuplicateWait, type DuplicatesSeen } from './duplicates.ts';
import type { Records } from '../core/records.ts';
import { hasDevState, leaveDevMode } from '../core/workload.ts';
import { workdirClaimName } from '../core/secret-name.ts';
import type { DevPolicySpec, Persistence } from '../schemas/policy.ts';
import { syncSecretName } from '../sync/secret.ts';
import { copyKindOf, desiredCopy, isCopyOf, ownerRefTo, ownerUid, sourceHashOf, type OwnerReference } from './copies.ts';
import { expiryOf } from './expiry.ts';
import type { WorkloadKey } from './keys.ts';
import { devPodOf, isBarePod, isInjected, needsRecreate, originalPodOf, storedOriginalOf, type PendingPod } from './pods.ts';

export interface Observed {
  key: WorkloadKey;
  /** The source workload (for a Pod: the pod of that name, whichever it is now). */
  workload?: KubeObject;
  /**
   * devx's records on the workload whose signature verifies ({} when it carries none); undefined when it carries
   * records devx cannot prove it wrote — those are never acted on.
   */
  records?: Records;
  /** The namespace carries dev.x/policy: outside such namespaces devx creates, changes and deletes nothing. */
  namespaceEnabled: boolean;
  /** `devx-sync-<kind>-<name>`, if it exists. */
  secret?: KubeObject;
  /** Whether the Secret's data is a usable identity set (checked by the executor with readSyncSecretData). */
  secretValid?: boolean;
  /** A Secret of that name exists but is not devx's (left out of `secret`, and never touched). */
  secretForeign?: boolean;
  /** The pending-pod record on the Secret, parsed (Pods only). */
  pending?: PendingPod;
  /** `<name>-devx` of the copy's kind, if it exists (whoever made it). */
  copy?: KubeObject;
  /** The workdir claim `devx-workdir-<kind>-<name>`, if it exists and its signed record proves devx made it for
   * this workload. */
  volume?: KubeObject;
  /** A claim of that name exists that devx cannot prove it made (left out of `volume`, and never touched). */
  volumeForeign?: boolean;
  /** The DevPolicy of the namespace, if it resolves (for the TTL cap and persistence). */
  policy?: DevPolicySpec;
  /** Deployments and StatefulSets: devx's duplicate copies of it and their Secrets, and the copy names its record
   * asks for that someone else holds. */
  duplicates?: DuplicatesSeen;
  now: Date;
  /** Why the key was queued, when an event said more than "something changed" (e.g. `secret-deleted`). */
  hints: ReadonlySet<string>;
  /** Step types already performed in this pass, so one that did not take effect is not repeated in a loop. */
  tried: ReadonlySet<Step['type']>;
}

export interface EventSpec {
  type: 'Normal' | 'Warning';
  /** UpperCamelCase, what `kubectl describe` shows in the Reason column. */
  reason: string;
  note: string;
}

export type Step =
  | { type: 'create-secret'; owner: OwnerReference; events: EventSpec[] }
  | { type: 'regenerate-secret'; events: EventSpec[] }
  | { type: 'adopt-secret'; owner: OwnerReference; events: EventSpec[] }
  | { type: 'delete-secret'; events: EventSpec[] }
  | { type: 'create-copy'; object: KubeObject; events: EventSpec[] }
  | { type: 'update-copy'; object: KubeObject; events: EventSpec[] }
  | { type: 'delete-copy'; events: EventSpec[] }
  | { type: 'create-volume'; owner: OwnerReference; persistence: Persistence; events: EventSpec[] }
  | { type: 'delete-volume'; events: EventSpec[] }
  | { type: 'readmit'; events: EventSpec[] }
  /** A scale during dev mode (kubectl scale, an HPA): record the count to restore, back to one replica. */
  | { type: 'repin-replicas'; replicas: number; events: EventSpec[] }
  | { type: 'expire'; events: EventSpec[] }
  | { type: 'restore-workload'; object: KubeObject; events: EventSpec[] }
  | { type: 'mark-pending'; record: PendingPod; events: EventSpec[] }
  | { type: 'delete-pod'; uid: string; resourceVersion: string; events: EventSpec[] }
  | { type: 'create-pod'; pod: KubeObject; fallback?: KubeObject; events: EventSpec[] }
  | { type: 'clear-pending'; owner?: OwnerReference; events: EventSpec[] }
  /** Duplicate mode: one copy and one sync Secret per user (see duplicates.ts). */
  | DuplicateStep
  /** Nothing to do now; look again after `afterMs` (a deletion in progress, a TTL not yet due), or never. */
  | { type: 'done'; afterMs?: number; reason: string; events: EventSpec[] };

const WAIT_FOR_DELETION_MS = 250;
/** A claim is deleted only once no pod uses it (the API server's pvc-protection): a pod's graceful stop, seconds. */
const WAIT_FOR_VOLUME_MS = 1000;

const normal = (reason: string, note: string): EventSpec => ({ type: 'Normal', reason, note });
const warning = (reason: string, note: string): EventSpec => ({ type: 'Warning', reason, note });
const done = (reason: string, afterMs?: number, events: EventSpec[] = []): Step => ({ type: 'done', reason, events, ...(afterMs === undefined ? {} : { afterMs }) });

function isDeleting(obj: KubeObject | undefined): boolean {
  return obj?.metadata?.deletionTimestamp !== undefined;
}

function uidOf(obj: KubeObject | undefined): string {
  return String(obj?.metadata?.uid ?? '');
}

/** The workload is (to be) in dev mode: labelled, not being deleted, and a workload of its own (a bare pod). */
export function wantsDevMode(o: Pick<Observed, 'key' | 'workload'>): boolean {
  const w = o.workload;
  if (!w || isDeleting(w) || !isDevEnabled(labelsOf(w))) return false;
  return o.key.kind !== 'Pod' || isBarePod(w);
}

function secretName(o: Observed): string {
  return syncSecretName(o.key.kind, o.key.name);
}

function volumeName(o: Observed): string {
  return workdirClaimName(o.key.kind, o.key.name);
}

function describeKey(o: Observed): string {
  return `${o.key.kind} ${o.key.name}`;
}

// ---- dev mode on ----------------------------------------------------------------------------------------------

function planSecret(o: Observed, w: KubeObject): Step | undefined {
  const owner = ownerRefTo(o.key.kind, w);
  if (!o.secret) {
    const by = annotationsOf(w)[ANN_ENABLED_BY];
    const created = normal('SyncSecretCreated', `sync Secret ${secretName(o)} created: fresh syncthing identities for the sidecar and the agent`);
    const first = o.hints.has('secret-deleted')
      ? warning('Repaired', `sync Secret ${secretName(o)} was deleted during dev mode; made again (the agent must fetch the new identities)`)
      : normal('DevModeEntered', `dev mode on${by ? ` (by ${by})` : ''}`);
    return { type: 'create-secret', owner, events: [first, created] };
  }
  if (ownerUid(o.secret, o.key.kind) !== owner.uid) {
    return { type: 'adopt-secret', owner, events: [normal('Repaired', `sync Secret ${secretName(o)} now owned by this ${o.key.kind}`)] };
  }
  if (o.secretValid === false) {
    return { type: 'regenerate-secret', events: [warning('Repaired', `sync Secret ${secretName(o)} held no usable identities; made again`)] };
  }
  return undefined;
}

/**
 * A claim devx made for an earlier workload of this name (its owner reference names another uid; the garbage
 * collector is about to take it). One whose owner reference was removed stays this workload's: data is never deleted
 * on a guess.
 */
function ownedByEarlier(o: Observed, v: KubeObject, w: KubeObject): boolean {
  const owner = ownerUid(v, o.key.kind);
  return owner !== undefined && owner !== uidOf(w);
}

/** A claim of devx's that is not this workload's to use: being deleted, or made for an earlier workload of the name. */
function staleVolume(o: Observed, v: KubeObject, w: KubeObject): Step | undefined {
  if (isDeleting(v)) return done('old workdir claim still being deleted', WAIT_FOR_VOLUME_MS);
  if (!ownedByEarlier(o, v, w)) return undefined;
  return { type: 'delete-volume', events: [normal('Repaired', `PersistentVolumeClaim ${volumeName(o)} belonged to an earlier ${o.key.kind} of this name; replaced`)] };
}

/**
 * The workdir claim, when the policy asks for persistence (bare pods keep their emptyDir). During dev mode devx never
 * deletes one of its claims for lack of persistence in the policy (a policy edited, or not resolvable for a moment):
 * a claim holds a developer's work and goes only when dev mode ends.
 */
function planVolume(o: Observed, w: KubeObject): Step | undefined {
  const persistence = o.policy?.persistence;
  if (o.key.kind === 'Pod' || !persistence) return undefined;
  if (o.volumeForeign) {
    const note = `PersistentVolumeClaim ${volumeName(o)} exists and is not devx's: devx neither adopts nor deletes it, but a dev pod would mount the claim of that name; rename or delete it`;
    return done('volume name taken', undefined, [warning('VolumeNameTaken', note)]);
  }
  if (o.volume) return staleVolume(o, o.volume, w);
  const cls = persistence.storageClassName === undefined ? 'the default StorageClass' : `StorageClass "${persistence.storageClassName}"`;
  const note = `PersistentVolumeClaim ${volumeName(o)} created (${persistence.size}, ${cls}): the workdir survives pod restarts`;
  return { type: 'create-volume', owner: ownerRefTo(o.key.kind, w), persistence, events: [normal('VolumeCreated', note)] };
}

function planCopy(o: Observed, w: KubeObject): Step | undefined {
  const wanted = desiredCopy(o.key.kind, w);
  if (!wanted) return undefined;
  const what = `${wanted.kind} ${wanted.metadata?.name}`;
  if (!o.copy) return { type: 'create-copy', object: wanted, events: [normal('CopyCreated', `dev copy ${what} created; its pod runs in dev mode`)] };
  if (!isCopyOf(o.copy, o.key.kind, o.key.name)) {
    return done('copy name taken', undefined, [warning('CopyNameTaken', `${what} exists and is not devx's copy of this ${o.key.kind}: rename or delete it`)]);
  }
  if (isDeleting(o.copy)) return done('old copy still being deleted', WAIT_FOR_DELETION_MS);
  if (ownerUid(o.copy, o.key.kind) !== uidOf(w)) {
    return { type: 'delete-copy', events: [normal('Repaired', `${what} belonged to an earlier ${o.key.kind} of this name; replaced`)] };
  }
  if (sourceHashOf(o.copy) === sourceHashOf(wanted)) return undefined;
  if (wanted.kind === 'Deployment') return { type: 'update-copy', object: wanted, events: [normal('CopyUpdated', `${what} updated from the changed ${o.key.kind}`)] };
  return { type: 'delete-copy', events: [normal('CopyReplaced', `${what} is replaced: its ${o.key.kind} changed`)] };
}

function planRecreate(o: Observed, w: KubeObject): Step | undefined {
  if (o.key.kind !== 'Pod' || !needsRecreate(w)) return undefined;
  const record: PendingPod = { replaces: uidOf(w), pod: devPodOf(w), fallback: originalPodOf(w) };
  return { type: 'mark-pending', record, events: [normal('Recreating', 'the pod is created again in dev mode (a pod cannot change in place)')] };
}

/** Dev mode due to end: the label is removed (through admission, which restores the workload). */
function planExpiry(o: Observed, w: KubeObject): Step | undefined {
  const expiry = expiryOf(w, o.policy);
  if (!expiry || expiry.at.getTime() > o.now.getTime()) return undefined;
  if (o.tried.has('expire')) return done('expiry did not take effect yet', 1000);
  return { type: 'expire', events: [normal('Expired', `dev mode ended after ${expiry.source} (since ${annotationsOf(w)[ANN_ENABLED_AT]})`)] };
}

/** Everything is in place: look again when the TTL is due (the periodic resync covers the rest). */
function inDevMode(o: Observed, w: KubeObject): Step {
  const expiry = expiryOf(w, o.policy);
  return expiry ? done('in dev mode until the TTL', expiry.at.getTime() - o.now.getTime()) : done('in dev mode');
}

/** Deployments and StatefulSets stay at one replica; a count that arrived through the scale subresource is recorded. */
function planRepin(o: Observed, w: KubeObject): Step | undefined {
  if (o.key.kind !== 'Deployment' && o.key.kind !== 'StatefulSet') return undefined;
  const replicas = w.spec?.replicas;
  if (typeof replicas !== 'number' || replicas === 1) return undefined;
  if (o.tried.has('repin-replicas')) return done('replicas not pinned yet', 1000);
  const note = `scaled to ${replicas} during dev mode: ${replicas} recorded for when dev mode ends, back to 1 replica`;
  return { type: 'repin-replicas', replicas, events: [normal('Scaled', note)] };
}

function unverified(o: Observed): Step {
  return done('records not devx\'s', undefined, [
    warning('UnverifiedRecord', `${describeKey(o)} carries dev.x/ records devx did not write (their signature does not verify): devx does nothing for it; remove the label dev.x/enabled and add it again`),
  ]);
}

/** Labelled, but admission never saw it (devx was not registered): an update through the webhook completes it. */
function planReadmit(o: Observed): Step {
  if (o.tried.has('readmit')) {
    return done('admission did not complete dev mode', 30_000, [warning('Incomplete', 'labelled dev.x/enabled=true but devx admission has not processed it; is the webhook registered?')]);
  }
  return { type: 'readmit', events: [normal('Repaired', 'labelled while devx admission was not running; dev mode completed')] };
}

/** What devx makes for a workload in dev mode, in order: the sync Secret, the workdir claim, the copy, the new pod. */
function planObjects(o: Observed, w: KubeObject): Step | undefined {
  return planSecret(o, w) ?? planVolume(o, w) ?? planCopy(o, w) ?? planRecreate(o, w);
}

function planOn(o: Observed, w: KubeObject): Step {
  if (o.records === undefined) return unverified(o);
  if (o.records[ANN_ENABLED_AT] === undefined) return planReadmit(o);
  if (o.records[ANN_DUPLICATES] !== undefined) return planDuplicateMode(o, w, o.records);
  return planReplaceMode(o, w);
}

/** Replace mode: the workload's own pods in dev mode, one replica, its sync Secret (and its dev copy, for some kinds). */
function planReplaceMode(o: Observed, w: KubeObject): Step {
  if (o.secretForeign) return done('secret name taken', undefined, [warning('SecretNameTaken', `Secret ${secretName(o)} exists and is not devx's: rename or delete it`)]);
  // Copies left by a duplicate session that ended just before this one began go first.
  return planExpiry(o, w) ?? planDuplicatesGone(o.duplicates, w) ?? planRepin(o, w) ?? planObjects(o, w) ?? inDevMode(o, w);
}

function fromWait(s: DuplicateStep | DuplicateWait | undefined): Step | undefined {
  if (s?.type !== 'wait') return s;
  return done(s.reason, s.afterMs, s.events);
}

/** Duplicate mode: the workload itself is left as it is; one copy per user, and no sync Secret of its own. */
function planDuplicateMode(o: Observed, w: KubeObject, records: Records): Step {
  const leftover = o.secret ? { type: 'delete-secret' as const, events: [normal('SyncSecretDeleted', `sync Secret ${secretName(o)} deleted: in duplicate mode each copy has its own`)] } : undefined;
  const copies = o.duplicates ? fromWait(planDuplicates({ kind: o.key.kind, source: w, records, seen: o.duplicates, persistence: o.policy?.persistence })) : undefined;
  return planExpiry(o, w) ?? leftover ?? copies ?? inDevMode(o, w);
}

// ---- dev mode off ---------------------------------------------------------------------------------------------

/** The workload itself, unlabelled but still changed (the label went while devx admission was not running). */
function planRestore(o: Observed, w: KubeObject): Step | undefined {
  if (o.key.kind === 'Pod') {
    // Only an original devx itself recorded is ever created again.
    const original = o.records?.[ANN_ORIGINAL_POD] === undefined ? undefined : storedOriginalOf(w);
    if (original) {
      if (!o.secret) return { type: 'create-secret', owner: ownerRefTo('Pod', w), events: [] }; // the record's holder
      return { type: 'mark-pending', record: { replaces: uidOf(w), pod: original }, events: [normal('Restoring', 'dev mode off: the pod is created again as it was before')] };
    }
  }
  if (!hasDevState(o.key.kind, w)) return undefined;
  // Written back as devx only from state devx can prove it left: records it signed. Forged records are reported;
  // a template label or pause selector with no record of devx's is the user's own, and stays.
  if (o.records === undefined) return unverified(o);
  if (Object.keys(o.records).length === 0) return undefined;
  const restored = leaveDevMode(o.key.kind, w, o.records);
  if (restored.kind !== 'mutate') return undefined;
  return { type: 'restore-workload', object: restored.object, events: [normal('Repaired', `dev.x/enabled was removed while devx admission was not running; ${describeKey(o)} restored`)] };
}

function deleteCopy(o: Observed, present: boolean): Step | undefined {
  if (!o.copy || !isCopyOf(o.copy, o.key.kind, o.key.name) || isDeleting(o.copy)) return undefined;
  const what = `${o.copy.kind ?? copyKindOf(o.key.kind)} ${o.copy.metadata?.name}`;
  const events = present ? [normal('CopyDeleted', `dev copy ${what} deleted`)] : [normal('Repaired', `orphaned dev copy ${what} deleted`)];
  return { type: 'delete-copy', events };
}

/** The workload (present, not in dev mode) keeps its claim for next time: dev.x/keep-volume=true, and it is its own. */
function keepsVolume(o: Observed, v: KubeObject): boolean {
  const w = o.workload;
  return w !== undefined && labelsOf(w)[LABEL_KEEP_VOLUME] === 'true' && !ownedByEarlier(o, v, w);
}

/** Dev mode is over: the claim goes, unless the workload keeps it. Once the workload is gone it goes too. */
function deleteVolume(o: Observed, present: boolean): Step | undefined {
  const v = o.volume;
  if (!v || isDeleting(v) || (present && keepsVolume(o, v))) return undefined;
  const hint = present ? ` (label the ${o.key.kind} ${LABEL_KEEP_VOLUME}=true to keep it for next time)` : '';
  return { type: 'delete-volume', events: [normal('VolumeDeleted', `PersistentVolumeClaim ${volumeName(o)} deleted${hint}`)] };
}

function deleteSecret(o: Observed, present: boolean): Step | undefined {
  if (!o.secret) return undefined;
  const events = [normal('SyncSecretDeleted', `sync Secret ${secretName(o)} deleted`)];
  if (!present) return { type: 'delete-secret', events };
  events.unshift(normal('DevModeLeft', `dev mode off: ${describeKey(o)} is as before`));
  if (o.volume && !isDeleting(o.volume)) {
    events.push(normal('VolumeKept', `PersistentVolumeClaim ${volumeName(o)} kept (${LABEL_KEEP_VOLUME}=true): dev mode uses it again next time; kubectl delete pvc ${volumeName(o)} frees it`));
  }
  const w = o.workload as KubeObject;
  if (o.key.kind === 'Pod' && isInjected(w) && !storedOriginalOf(w)) {
    events.push(warning('NoOriginal', 'this pod was created in dev mode, so there is no earlier pod to go back to; create it again from its manifest'));
  }
  return { type: 'delete-secret', events };
}

/** Dev mode is off (or the workload is gone): what devx made for it goes, the copy first and the Secret last. */
function planCleanup(o: Observed): Step {
  const present = o.workload !== undefined && !isDeleting(o.workload);
  return deleteCopy(o, present) ?? planDuplicatesGone(o.duplicates, present ? o.workload : undefined) ?? deleteVolume(o, present) ?? deleteSecret(o, present) ?? done(present ? 'not in dev mode' : 'workload gone');
}

function planOff(o: Observed): Step {
  const w = o.workload;
  // A pod a controller owns is its controller's business, never restored or recreated here.
  if (w && !isDeleting(w) && (o.key.kind !== 'Pod' || isBarePod(w))) {
    const restore = planRestore(o, w);
    if (restore) return restore;
  }
  return planCleanup(o);
}

// ---- a pod being replaced ---------------------------------------------------------------------------------------

function planPending(o: Observed, p: PendingPod): Step {
  const current = o.workload;
  if (current && uidOf(current) === p.replaces) {
    if (isDeleting(current)) return done('old pod still terminating', WAIT_FOR_DELETION_MS);
    // The label changed back since the record was written: the replacement is no longer wanted.
    if (isDevEnabled(labelsOf(current)) !== isDevEnabled(labelsOf(p.pod))) return { type: 'clear-pending', owner: ownerRefTo('Pod', current), events: [] };
    // Guarded by the resourceVersion seen here: a label change after this look makes the delete fail and look again.
    return { type: 'delete-pod', uid: p.replaces, resourceVersion: String(current.metadata?.resourceVersion ?? ''), events: [] };
  }
  if (!current) {
    const step: Step = { type: 'create-pod', pod: p.pod, events: [normal('Recreated', isDevEnabled(labelsOf(p.pod)) ? 'pod created again in dev mode' : 'pod created again as it was before dev mode')] };
    return p.fallback ? { ...step, fallback: p.fallback } : step;
  }
  // The replacement exists (or a pod someone else made): the record is spent.
  return { type: 'clear-pending', owner: ownerRefTo('Pod', current), events: [] };
}

/** The next step for one source workload. */
export function planStep(o: Observed): Step {
  if (!o.namespaceEnabled) return done(`namespace ${o.key.namespace} does not carry dev.x/policy: devx changes nothing there`);
  if (o.key.kind === 'Pod' && o.pending) return planPending(o, o.pending);
  if (o.workload && wantsDevMode(o)) return planOn(o, o.workload);
  return planOff(o);
}
