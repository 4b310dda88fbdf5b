// Whether a pod is really the dev pod of a workload (DESIGN §6, §10): the agent hands the workload's files and its
// sync identity only to a pod that devx injected for that workload. Anyone who may create pods could make a decoy
// that carries `dev.x/workload`, a copied `dev.x/status`, a made-up owner reference and its own `devx-sync`
// container; the newest such pod would otherwise be picked. Two proofs, both required:
//
// (a) the owner chain, checked against the objects the API server holds, by uid: every owner reference on the way
//     up must name the object of that kind and name that exists now, with that uid, and the chain must end at the
//     workload itself:
//       Deployment  pod → ReplicaSet → Deployment
//       StatefulSet pod → StatefulSet
//       DaemonSet   pod → ReplicaSet → Deployment `<name>-devx` (dev.x/copy-of daemonset/<name>) → DaemonSet
//       Job         pod → Job `<name>-devx` (dev.x/copy-of job/<name>) → Job
//       CronJob     pod → Job `<name>-devx` (dev.x/copy-of cronjob/<name>) → CronJob
//       Pod         the pod itself: the workload's name, no owner
//     The links a controller made (pod → ReplicaSet/StatefulSet/Job, ReplicaSet → Deployment) must be the child's
//     controller reference; devx's copies point at their source with a plain owner reference (src/reconciler/copies.ts).
// (b) the injection record: `dev.x/status` parses and agrees with the pod: the target container and every container
//     and volume it lists exist, and the `devx-sync` container mounts volume `devx-sync-secret`, which is the sync
//     Secret of this workload.
//
// Pure: the decision is made from the pod and the owner objects fetched so far. When it needs one more object it
// says which (`need`); firstVerified fetches it through the reader it is given (cluster.ts passes the API server's)
// and asks again. A chain is at most three links long.
import { ANN_COPY_OF, ANN_STATUS, SIDECAR_NAME, VOLUME_SYNC_SECRET, type WorkloadKind } from '../core/names.ts';
import { copyName } from '../reconciler/copies.ts';
import type { Permission } from './rbac.ts';
import type { z } from 'zod';
import { KINDS, apiVersionOf, collectionPathOf } from '../core/kinds.ts';
import { err, ok, type Result } from '../core/result.ts';
import { formatIssues } from '../schemas/issues.ts';
import { InjectionRecordSchema, type ObjectMeta, type Pod } from './schemas.ts';
import { refString, refText, syncSecretOf, type WorkloadRef } from './workload-ref.ts';

/** The kinds an owner chain passes through. */
export type OwnerKind = 'ReplicaSet' | 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob';

const OWNER_API = (kind: OwnerKind): { apiVersion: string; plural: string; group: string } => ({ apiVersion: apiVersionOf(kind), plural: KINDS[kind].plural, group: KINDS[kind].group });

/** What one link of the chain must be. */
interface Link {
  kind: OwnerKind;
  /** `workload`: the workload itself; `copy`: devx's dev copy of it; `between`: a controller's object (a ReplicaSet). */
  role: 'workload' | 'copy' | 'between';
  /** The child must point at it with its controller reference (else with a plain owner reference). */
  controller: boolean;
}

const CHAINS: Record<WorkloadKind, readonly Link[]> = {
  Deployment: [
    { kind: 'ReplicaSet', role: 'between', controller: true },
    { kind: 'Deployment', role: 'workload', controller: true },
  ],
  StatefulSet: [{ kind: 'StatefulSet', role: 'workload', controller: true }],
  DaemonSet: [
    { kind: 'ReplicaSet', role: 'between', controller: true },
    { kind: 'Deployment', role: 'copy', controller: true },
    { kind: 'DaemonSet', role: 'workload', controller: false },
  ],
  Job: [
    { kind: 'Job', role: 'copy', controller: true },
    { kind: 'Job', role: 'workload', controller: false },
  ],
  CronJob: [
    { kind: 'Job', role: 'copy', controller: true },
    { kind: 'CronJob', role: 'workload', controller: false },
  ],
  Pod: [],
};

/** Duplicate mode: pod → ReplicaSet → the caller's copy (a Deployment, dev.x/copy-of naming the workload) → the
 * Deployment or StatefulSet itself. */
function duplicateChain(kind: WorkloadKind): readonly Link[] {
  return [
    { kind: 'ReplicaSet', role: 'between', controller: true },
    { kind: 'Deployment', role: 'copy', controller: true },
    { kind: kind as OwnerKind, role: 'workload', controller: false },
  ];
}

function chainOf(ref: WorkloadRef): readonly Link[] {
  return ref.copy === undefined ? CHAINS[ref.kind] : duplicateChain(ref.kind);
}

/** The name devx's copy on the way must have: the caller's duplicate copy, else `<name>-devx`. */
function copyNameOf(ref: WorkloadRef): string {
  return ref.copy ?? copyName(ref.name);
}

/** An owner as the API server returned it (only its metadata matters). */
export interface OwnerObject {
  metadata: ObjectMeta;
}

/** The owner objects fetched so far, by fetchedKey: the object, or null when the API server has none of that name. */
export type Fetched = ReadonlyMap<string, OwnerObject | null>;

export function fetchedKey(kind: OwnerKind, name: string): string {
  return `${kind}/${name}`;
}

/** One more owner object the decision needs before it can be made. */
export interface Need {
  need: { kind: OwnerKind; name: string };
}

/** The pod is the dev pod, or the reason it is not; or `need`: fetch that owner and ask again. */
export type Verdict = Result<void> | Need;

/** API path of an owner object. */
export function ownerObjectPath(kind: OwnerKind, namespace: string, name: string): string {
  return `${collectionPathOf(kind, namespace)}/${encodeURIComponent(name)}`;
}

/** The RBAC permission that reading an owner object needs. */
export function ownerPermission(kind: OwnerKind, namespace: string, name?: string): Permission {
  const { group, plural } = OWNER_API(kind);
  return { verb: 'get', group, resource: plural, namespace, ...(name === undefined ? {} : { name }) };
}

/** What verifying a dev pod of `ref` reads besides the pod: `get` on each kind of its owner chain. */
export function ownerChainPermissions(ref: WorkloadRef): Permission[] {
  const kinds = [...new Set(chainOf(ref).map((l) => l.kind))];
  return kinds.map((k) => ownerPermission(k, ref.namespace));
}

// ---- (b) the injection record ------------------------------------------------------------------------------------

function secretVolumeProblem(pod: Pod, ref: WorkloadRef): string | undefined {
  const sidecar = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === SIDECAR_NAME);
  if (sidecar === undefined) return `it has no ${SIDECAR_NAME} container`;
  if (!(sidecar.volumeMounts ?? []).some((m) => m.name === VOLUME_SYNC_SECRET)) return `container ${SIDECAR_NAME} does not mount volume ${VOLUME_SYNC_SECRET}`;
  const volume = (pod.spec.volumes ?? []).find((v) => v.name === VOLUME_SYNC_SECRET);
  const expected = syncSecretOf(ref);
  const actual = volume?.secret?.secretName;
  if (actual === undefined) return `volume ${VOLUME_SYNC_SECRET} is not a Secret volume`;
  if (actual !== expected) return `volume ${VOLUME_SYNC_SECRET} is Secret ${actual}, not ${expected} (the sync Secret of ${refText(ref)})`;
  return undefined;
}

function parseRecord(raw: string): ReturnType<typeof InjectionRecordSchema.safeParse> | undefined {
  try {
    return InjectionRecordSchema.safeParse(JSON.parse(raw));
  } catch {
    return undefined;
  }
}

type InjectionRecord = z.infer<typeof InjectionRecordSchema>;

/** What the record must agree with in the pod; each check: a problem, or undefined. */
const RECORD_CHECKS: ReadonlyArray<(record: InjectionRecord, pod: Pod) => string | undefined> = [
  (r, pod) => (pod.spec.containers.some((c) => c.name === r.target) ? undefined : `${ANN_STATUS} names target container ${r.target}, which the pod does not have`),
  (r, pod) => {
    const containers = new Set([...pod.spec.containers, ...(pod.spec.initContainers ?? [])].map((c) => c.name));
    const missing = r.containers.find((c) => !containers.has(c));
    return missing === undefined ? undefined : `${ANN_STATUS} lists container ${missing}, which the pod does not have`;
  },
  (r, pod) => {
    const volumes = new Set((pod.spec.volumes ?? []).map((v) => v.name));
    const missing = r.volumes.find((v) => !volumes.has(v));
    return missing === undefined ? undefined : `${ANN_STATUS} lists volume ${missing}, which the pod does not have`;
  },
  (r) => (r.containers.includes(SIDECAR_NAME) ? undefined : `${ANN_STATUS} does not list container ${SIDECAR_NAME}`),
  (r) => (r.volumes.includes(VOLUME_SYNC_SECRET) ? undefined : `${ANN_STATUS} does not list volume ${VOLUME_SYNC_SECRET}`),
];

/** Why the pod's injection record is not devx's record of this pod, or undefined when it is. */
export function injectionProblem(pod: Pod, ref: WorkloadRef): string | undefined {
  const raw = pod.metadata.annotations?.[ANN_STATUS];
  if (raw === undefined) return `no ${ANN_STATUS} annotation: devx did not inject it`;
  const parsed = parseRecord(raw);
  if (parsed === undefined) return `${ANN_STATUS} is not JSON`;
  if (!parsed.success) return `${ANN_STATUS} is not devx's injection record (${formatIssues(parsed.error.issues, '(record)')})`;
  for (const check of RECORD_CHECKS) {
    const problem = check(parsed.data, pod);
    if (problem !== undefined) return problem;
  }
  return secretVolumeProblem(pod, ref);
}

// ---- (a) the owner chain -----------------------------------------------------------------------------------------

type OwnerRef = NonNullable<ObjectMeta['ownerReferences']>[number];

interface Child {
  /** How messages name it: `the pod`, `ReplicaSet reviews-abc (uid …)`. */
  text: string;
  metadata: ObjectMeta;
}

/** The reference of `child` that `link` follows, with the right kind and apiVersion. */
function referenceFor(child: Child, link: Link, ref: WorkloadRef): Result<OwnerRef> {
  const refs = child.metadata.ownerReferences ?? [];
  const { apiVersion } = OWNER_API(link.kind);
  if (link.controller) {
    const controller = refs.find((o) => o.controller === true);
    if (controller === undefined) return err(`${child.text} has no controller owner (expected a ${link.kind} on the way to ${refString(ref)})`);
    if (controller.kind !== link.kind || controller.apiVersion !== apiVersion) {
      return err(`${child.text} is controlled by ${controller.kind} ${controller.name} (${controller.apiVersion ?? 'no apiVersion'}), not by a ${link.kind} (${apiVersion})`);
    }
    return ok(controller);
  }
  const owners = refs.filter((o) => o.kind === link.kind && o.apiVersion === apiVersion);
  const owner = owners.find((o) => o.name === ref.name) ?? owners[0];
  return owner === undefined ? err(`${child.text} is not owned by ${refString(ref)} (it has no ${link.kind} owner)`) : ok(owner);
}

/** A reference whose name cannot be the one `link` wants is refused before anything is fetched. */
function nameProblem(child: Child, link: Link, owner: OwnerRef, ref: WorkloadRef): string | undefined {
  if (link.role === 'workload' && owner.name !== ref.name) return `${child.text} is not owned by ${refString(ref)} (its owner is ${owner.kind} ${owner.name})`;
  if (link.role === 'copy' && owner.name !== copyNameOf(ref)) {
    return `${child.text} is owned by ${owner.kind} ${owner.name}, not by ${link.kind} ${copyNameOf(ref)}, devx's dev copy of ${refString(ref)}`;
  }
  return undefined;
}

/** What the fetched owner must be beyond its uid. */
function objectProblem(link: Link, owner: OwnerRef, obj: OwnerObject, ref: WorkloadRef): string | undefined {
  if (link.role !== 'copy') return undefined;
  const copyOf = obj.metadata.annotations?.[ANN_COPY_OF];
  if (copyOf === refString(ref)) return undefined;
  return `${link.kind} ${owner.name} is not devx's dev copy of ${refString(ref)} (${ANN_COPY_OF}: ${copyOf ?? 'none'})`;
}

/** The fetched owner against the reference that named it: the same object (uid), and what its role asks. */
function ownerProblem(at: { child: Child; link: Link; owner: OwnerRef; ref: WorkloadRef }, obj: OwnerObject): string | undefined {
  const { child, link, owner, ref } = at;
  const uid = obj.metadata.uid ?? '';
  if (!owner.uid || owner.uid !== uid || obj.metadata.name !== owner.name) {
    return `${child.text} names owner ${link.kind} ${owner.name} with uid ${owner.uid ?? '(none)'}, but the ${link.kind} ${owner.name} in the cluster has uid ${uid || '(none)'}`;
  }
  return objectProblem(link, owner, obj, ref);
}

/** The next object up the chain, or why the chain breaks here, or the owner to fetch first. */
function followLink(child: Child, link: Link, ref: WorkloadRef, fetched: Fetched): Result<Child> | Need {
  const step = referenceFor(child, link, ref);
  if (!step.ok) return step;
  const owner = step.value;
  const named = nameProblem(child, link, owner, ref);
  if (named !== undefined) return err(named);
  const key = fetchedKey(link.kind, owner.name);
  if (!fetched.has(key)) return { need: { kind: link.kind, name: owner.name } };
  const obj = fetched.get(key);
  if (!obj) return err(`${child.text} names owner ${link.kind} ${owner.name}, which does not exist`);
  const problem = ownerProblem({ child, link, owner, ref }, obj);
  if (problem !== undefined) return err(problem);
  return ok({ text: `owner ${link.kind} ${owner.name} (uid ${obj.metadata.uid ?? ''})`, metadata: obj.metadata });
}

/** A bare pod in dev mode is its own workload: that name, and no owner at all. */
function barePodProblem(pod: Pod, ref: WorkloadRef): string | undefined {
  if (pod.metadata.name !== ref.name) return `it is not ${refString(ref)}`;
  const [owner] = pod.metadata.ownerReferences ?? [];
  return owner === undefined ? undefined : `it has an owner (${owner.kind} ${owner.name}), and a bare pod in dev mode has none`;
}

function chainVerdict(pod: Pod, ref: WorkloadRef, fetched: Fetched): Verdict {
  if (ref.kind === 'Pod') {
    const problem = barePodProblem(pod, ref);
    return problem === undefined ? ok() : err(problem);
  }
  let child: Child = { text: 'the pod', metadata: pod.metadata };
  for (const link of chainOf(ref)) {
    const r = followLink(child, link, ref, fetched);
    if ('need' in r || !r.ok) return r;
    child = r.value;
  }
  return ok();
}

/**
 * Whether `pod` is the dev pod of `ref`: its injection record, then its owner chain (see the file comment). `need`
 * asks for one more owner object; fetch it into `fetched` (null when it does not exist) and ask again.
 */
export function verifyDevPod(pod: Pod, ref: WorkloadRef, fetched: Fetched): Verdict {
  if (pod.metadata.namespace !== undefined && pod.metadata.namespace !== ref.namespace) return err(`it is in namespace ${pod.metadata.namespace}, not ${ref.namespace}`);
  const injection = injectionProblem(pod, ref);
  if (injection !== undefined) return err(injection);
  return chainVerdict(pod, ref, fetched);
}

/** A pod the agent will not sync with, and why. */
export interface Rejection {
  pod: string;
  reason: string;
}

/** Reads an owner object from the API server: the object, or null when there is none of that name. */
export type ReadOwner = (kind: OwnerKind, name: string) => Promise<OwnerObject | null>;

/** The longest owner chain is three links (DaemonSet); more asks than that would be a bug in verifyDevPod. */
const MAX_FETCHES_PER_POD = 3;

/** verifyDevPod for one pod, reading the owner objects it asks for into `fetched` (shared by the candidates). */
async function verifyReading(pod: Pod, ref: WorkloadRef, read: ReadOwner, fetched: Map<string, OwnerObject | null>): Promise<Result<void>> {
  for (let round = 0; round <= MAX_FETCHES_PER_POD; round++) {
    const verdict = verifyDevPod(pod, ref, fetched);
    if (!('need' in verdict)) return verdict;
    const { kind, name } = verdict.need;
    fetched.set(fetchedKey(kind, name), await read(kind, name));
  }
  return err('its owner chain is longer than any dev pod has');
}

/**
 * Of `candidates` (best first, see devPodCandidates), the first that verifies; the ones tried before it (all of them
 * when none does) come back as `rejected` with the reason. No I/O of its own: `read` fetches owners, each at most once.
 */
export async function firstVerified(candidates: readonly Pod[], ref: WorkloadRef, read: ReadOwner): Promise<{ pod: Pod | undefined; rejected: Rejection[] }> {
  const fetched = new Map<string, OwnerObject | null>();
  const rejected: Rejection[] = [];
  for (const candidate of candidates) {
    const verdict = await verifyReading(candidate, ref, read, fetched);
    if (verdict.ok) return { pod: candidate, rejected };
    rejected.push({ pod: candidate.metadata.name, reason: verdict.error });
  }
  return { pod: undefined, rejected };
}

/** `pod a: why; pod b: why`, for messages. */
export function rejectionsText(rejected: readonly Rejection[]): string {
  return rejected.map((r) => `pod ${r.pod}: ${r.reason}`).join('; ');
}
