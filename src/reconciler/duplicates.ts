// Duplicate mode in the reconciler (issue 14 §4): one copy `<name>-devx-<user>` per user in the workload's verified
// record `dev.x/duplicates`, each a Deployment with one replica made from the workload's own pod template (with
// devx's labels instead of the app's, see src/core/duplicate-copy.ts), each with its own sync Secret, so two
// developers never share a sync session, and — when the DevPolicy asks for persistence — its own workdir claim.
// Copies, Secrets and claims are owned by the workload (garbage-collected with it);
// a copy is devx's only when its `dev.x/copy-of` and `dev.x/duplicate-for` verify, so an object someone else made
// under a copy's name is never adopted, changed or deleted. Pure: what is observed in, the next step out.
import { duplicateName, parseDuplicates } from '../core/duplicate.ts';
import { duplicateTemplate } from '../core/duplicate-copy.ts';
import type { KubeObject } from '../core/kube.ts';
import { annotationsOf, labelsOf } from '../core/kube.ts';
import { ANN_COPY_OF, ANN_DUPLICATE_FOR, ANN_DUPLICATES, ANN_SOURCE_HASH, LABEL_COPY, LABEL_KEEP_VOLUME, type WorkloadKind } from '../core/names.ts';
import { workdirClaimName } from '../core/secret-name.ts';
import type { Persistence } from '../schemas/policy.ts';
import { workloadRef } from '../core/workload.ts';
import { syncSecretName } from '../sync/secret.ts';
import { ownerRefTo, ownerUid, sourceHashOf, specHash, type OwnerReference } from './copies.ts';

/** What the reconciler sees of a workload's duplicate copies. */
export interface DuplicatesSeen {
  /** devx's copies of this workload (records verified), whoever they are for. */
  copies: KubeObject[];
  /** devx's sync Secrets of copies of this workload, each under the Secret name of a copy name of this workload. */
  secrets: KubeObject[];
  /** Names the record asks for that someone else's Deployment holds. */
  takenCopies: string[];
  /** Sync Secret names the record asks for that someone else's Secret holds. */
  takenSecrets: string[];
  /** devx's workdir claims of copies of this workload (records verified), each under the claim name of a copy name. */
  volumes: KubeObject[];
  /** Workdir claim names the record asks for that someone else's claim holds. */
  takenVolumes: string[];
}

interface Event {
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
}

export type DuplicateStep =
  | { type: 'create-duplicate-secret'; name: string; copy: string; owner: OwnerReference; events: Event[] }
  | { type: 'delete-duplicate-secret'; name: string; uid: string; events: Event[] }
  | { type: 'create-duplicate'; object: KubeObject; events: Event[] }
  | { type: 'update-duplicate'; object: KubeObject; resourceVersion: string; events: Event[] }
  | { type: 'delete-duplicate'; name: string; uid: string; events: Event[] }
  | { type: 'create-duplicate-volume'; name: string; copy: string; owner: OwnerReference; persistence: Persistence; events: Event[] }
  | { type: 'delete-duplicate-volume'; name: string; uid: string; events: Event[] };

/** What planDuplicates asks for when nothing is to be changed but something is to be said or waited for. */
export interface DuplicateWait {
  type: 'wait';
  afterMs?: number;
  reason: string;
  events: Event[];
}

const normal = (reason: string, note: string): Event => ({ type: 'Normal', reason, note });
const warning = (reason: string, note: string): Event => ({ type: 'Warning', reason, note });
const WAIT_FOR_DELETION_MS = 250;

/** The sync Secret of a copy: the sync Secret a Deployment of the copy's name would have. */
export function duplicateSecretName(copy: string): string {
  return syncSecretName('Deployment', copy);
}

/** The workdir claim of a copy (persistence): the claim a Deployment of the copy's name would have, which is the one
 * the pod webhook mounts in the copy's pod. */
export function duplicateVolumeName(copy: string): string {
  return workdirClaimName('Deployment', copy);
}

/** `user`'s copy of a Deployment or StatefulSet: one replica of its pod template, owned by it, its records unsigned. */
export function duplicateCopy(kind: WorkloadKind, source: KubeObject, user: string): KubeObject | undefined {
  const template = duplicateTemplate(kind, source, user);
  if (!template) return undefined;
  const name = duplicateName(source.metadata?.name ?? '', user);
  const spec = {
    replicas: 1,
    selector: { matchLabels: { [LABEL_COPY]: name } },
    template,
    // One dev pod at a time: two would share one sync Secret.
    strategy: { type: 'Recreate' },
  };
  const annotations = { [ANN_COPY_OF]: workloadRef(kind, source), [ANN_DUPLICATE_FOR]: user, [ANN_SOURCE_HASH]: specHash(spec) };
  const metadata = { name, namespace: source.metadata?.namespace ?? '', labels: { [LABEL_COPY]: name }, annotations, ownerReferences: [ownerRefTo(kind, source)] };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec };
}

/** Whether a (verified) object is a duplicate copy of this workload: it names it, and the user it is for. */
export function isDuplicateOf(copy: KubeObject, source: { kind: WorkloadKind; name: string }): boolean {
  const anns = annotationsOf(copy);
  return anns[ANN_COPY_OF] === workloadRef(source.kind, { metadata: { name: source.name } }) && anns[ANN_DUPLICATE_FOR] !== undefined;
}

/** The users the workload's verified record gives a copy, sorted. */
export function wantedUsers(records: Record<string, string> | undefined): string[] {
  return [...(parseDuplicates(records?.[ANN_DUPLICATES]) ?? [])].sort();
}

const nameOf = (o: KubeObject): string => o.metadata?.name ?? '';
const uidOf = (o: KubeObject | undefined): string => String(o?.metadata?.uid ?? '');

interface Want {
  kind: WorkloadKind;
  source: KubeObject;
  user: string;
  seen: DuplicatesSeen;
  persistence: Persistence | undefined;
}

/** The copy of one user, once its Secret exists: made, replaced (an earlier workload's), renewed (template changed). */
function planCopy(w: Want, name: string): DuplicateStep | DuplicateWait | undefined {
  const wanted = duplicateCopy(w.kind, w.source, w.user);
  if (!wanted) return undefined;
  const copy = w.seen.copies.find((c) => nameOf(c) === name);
  if (!copy) return { type: 'create-duplicate', object: wanted, events: [normal('CopyCreated', `duplicate copy Deployment ${name} created for ${w.user}; its pod runs in dev mode`)] };
  if (copy.metadata?.deletionTimestamp !== undefined) return { type: 'wait', afterMs: WAIT_FOR_DELETION_MS, reason: 'old copy still being deleted', events: [] };
  if (ownerUid(copy, w.kind) !== uidOf(w.source)) {
    return { type: 'delete-duplicate', name, uid: uidOf(copy), events: [normal('Repaired', `Deployment ${name} belonged to an earlier ${w.kind} of this name; replaced`)] };
  }
  if (sourceHashOf(copy) === sourceHashOf(wanted)) return undefined;
  const resourceVersion = String(copy.metadata?.resourceVersion ?? '');
  return { type: 'update-duplicate', object: wanted, resourceVersion, events: [normal('CopyUpdated', `duplicate copy Deployment ${name} updated from the changed ${w.kind}`)] };
}

/** A name the user's copy needs that someone else's object holds, as a Warning; undefined when all are free. */
function takenName(w: Want, name: string): Event | undefined {
  const secret = duplicateSecretName(name);
  const claim = duplicateVolumeName(name);
  const why = `${w.user}'s copy needs the name`;
  if (w.seen.takenSecrets.includes(secret)) return warning('SecretNameTaken', `Secret ${secret} exists and is not devx's: rename or delete it (${why})`);
  if (w.seen.takenCopies.includes(name)) return warning('CopyNameTaken', `Deployment ${name} exists and is not devx's copy of this ${w.kind}: rename or delete it (${why})`);
  if (w.persistence && w.seen.takenVolumes.includes(claim)) return warning('VolumeNameTaken', `PersistentVolumeClaim ${claim} exists and is not devx's: rename or delete it (${why})`);
  return undefined;
}

/** The copy's workdir claim when the policy asks for persistence (before the copy: its pod mounts it). */
function planVolume(w: Want, name: string): DuplicateStep | DuplicateWait | undefined {
  if (!w.persistence) return undefined;
  const claim = duplicateVolumeName(name);
  const found = w.seen.volumes.find((v) => nameOf(v) === claim);
  if (found?.metadata?.deletionTimestamp !== undefined) return { type: 'wait', afterMs: WAIT_FOR_DELETION_MS, reason: 'old workdir claim still being deleted', events: [] };
  if (found) return undefined;
  const note = `PersistentVolumeClaim ${claim} created (${w.persistence.size}) for ${w.user}'s copy ${name}: its workdir survives pod restarts`;
  return { type: 'create-duplicate-volume', name: claim, copy: name, owner: ownerRefTo(w.kind, w.source), persistence: w.persistence, events: [normal('VolumeCreated', note)] };
}

/** One user's copy, Secret and claim (Secret and claim first: the copy's pod mounts them). A name someone else's
 * object holds is reported, and that user's copy waits for it. */
function planUser(w: Want, taken: Event[]): DuplicateStep | DuplicateWait | undefined {
  const name = duplicateName(nameOf(w.source), w.user);
  const problem = takenName(w, name);
  if (problem) {
    taken.push(problem);
    return undefined;
  }
  if (!w.seen.secrets.some((s) => nameOf(s) === duplicateSecretName(name))) {
    const secret = duplicateSecretName(name);
    const events = [normal('SyncSecretCreated', `sync Secret ${secret} created for ${w.user}'s copy ${name}: its own syncthing identities`)];
    return { type: 'create-duplicate-secret', name: secret, copy: name, owner: ownerRefTo(w.kind, w.source), events };
  }
  return planVolume(w, name) ?? planCopy(w, name);
}

/** The first copy, then Secret, then workdir claim (unless kept) that no user in `keep` has (or had) any more. */
function planUnwanted(seen: DuplicatesSeen, keep: ReadonlySet<string>, o: { why: string; keepVolumes: boolean }): DuplicateStep | undefined {
  const copy = seen.copies.find((c) => !keep.has(nameOf(c)) && c.metadata?.deletionTimestamp === undefined);
  if (copy) {
    const user = annotationsOf(copy)[ANN_DUPLICATE_FOR] ?? '';
    return { type: 'delete-duplicate', name: nameOf(copy), uid: uidOf(copy), events: [normal('CopyDeleted', `duplicate copy Deployment ${nameOf(copy)} of ${user} deleted: ${o.why}`)] };
  }
  // Secrets and claims are matched to copies by their names (which devx derives, and a claim's signature covers),
  // never by their dev.x/copy label, which anyone who may update them can change.
  const kept = (names: (copy: string) => string): Set<string> => new Set([...keep].map(names));
  const keptSecrets = kept(duplicateSecretName);
  const secret = seen.secrets.find((s) => !keptSecrets.has(nameOf(s)));
  if (secret) return { type: 'delete-duplicate-secret', name: nameOf(secret), uid: uidOf(secret), events: [normal('SyncSecretDeleted', `sync Secret ${nameOf(secret)} deleted with its copy`)] };
  const keptVolumes = kept(duplicateVolumeName);
  const claim = o.keepVolumes ? undefined : seen.volumes.find((v) => !keptVolumes.has(nameOf(v)) && v.metadata?.deletionTimestamp === undefined);
  if (!claim) return undefined;
  const hint = ` (label the workload ${LABEL_KEEP_VOLUME}=true to keep the copies' claims)`;
  return { type: 'delete-duplicate-volume', name: nameOf(claim), uid: uidOf(claim), events: [normal('VolumeDeleted', `PersistentVolumeClaim ${nameOf(claim)} deleted with its copy${hint}`)] };
}

/** The workload keeps its workdir claims (dev.x/keep-volume=true): the copies' claims stay too. */
export function keepsVolumes(source: KubeObject | undefined): boolean {
  return labelsOf(source)[LABEL_KEEP_VOLUME] === 'true';
}

/** In duplicate mode: the next step towards exactly one copy (Secret, claim) per user in the record. */
export function planDuplicates(o: { kind: WorkloadKind; source: KubeObject; records: Record<string, string>; seen: DuplicatesSeen; persistence?: Persistence | undefined }): DuplicateStep | DuplicateWait | undefined {
  const taken: Event[] = [];
  const users = wantedUsers(o.records);
  for (const user of users) {
    const step = planUser({ kind: o.kind, source: o.source, user, seen: o.seen, persistence: o.persistence }, taken);
    if (step) return step;
  }
  const keep = new Set(users.map((u) => duplicateName(nameOf(o.source), u)));
  const unwanted = planUnwanted(o.seen, keep, { why: 'its user left', keepVolumes: keepsVolumes(o.source) });
  return unwanted ?? (taken.length > 0 ? { type: 'wait', reason: 'copy, Secret or claim name taken', events: taken } : undefined);
}

/** Dev mode is off (or the workload is gone): every copy goes, then every copy's Secret, then its claim (unless the
 * workload, still there, keeps its claims). */
export function planDuplicatesGone(seen: DuplicatesSeen | undefined, source: KubeObject | undefined): DuplicateStep | undefined {
  return seen ? planUnwanted(seen, new Set(), { why: 'dev mode ended', keepVolumes: keepsVolumes(source) }) : undefined;
}
