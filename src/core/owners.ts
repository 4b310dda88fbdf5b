// Admission decides from the workload, not from the pod (DESIGN §10). A pod that arrives labelled dev.x/enabled=true
// is injected only when its controller owner chain — followed through the objects the API server holds, uid by uid —
// ends at a workload that itself carries the dev label and devx's verified record of entering dev mode (which is only
// written after the policy allowed it). A label on a pod, or on a pod template, proves nothing: any user who may
// create pods or edit a template can write it.
import type { ClusterView } from './context.ts';
import type { KubeObject, OwnerReference as OwnerRef } from './kube.ts';
import { annotationsOf, labelsOf } from './kube.ts';
import { ANN_COPY_OF, ANN_DUPLICATE_FOR, ANN_DUPLICATES, ANN_ENABLED_AT, WORKLOAD_KINDS, isDevEnabled, type WorkloadKind } from './names.ts';
import { duplicateName, parseDuplicates } from './duplicate.ts';
import { verifiedRecords, type RecordSigner } from './records.ts';
import { err, ok, type Result } from './result.ts';
import { parseWorkloadRef } from './workload-ref.ts';

/** The workload a dev pod belongs to, as found by its owner chain. */
export interface DevWorkload {
  kind: WorkloadKind;
  object: KubeObject;
  /** Duplicate mode: the name of the user's copy the pod belongs to (whose own sync Secret it mounts). */
  copy?: string;
}

/** The workload a pod's chain ends at, or why it ends nowhere devx accepts. */
export type OwnerChain = Result<DevWorkload>;

interface Walk {
  view: ClusterView;
  signer: RecordSigner;
  namespace: string;
}

const MAX_DEPTH = 4;

export function controllerOf(obj: KubeObject | undefined): OwnerRef | undefined {
  const refs = obj?.metadata?.ownerReferences ?? [];
  return refs.find((r) => r.controller === true);
}

function describeRef(ref: OwnerRef): string {
  return `${ref.kind} ${ref.name}`;
}

/** The object a reference names, if devx knows it and (where both have one) its uid is the one referenced. */
function resolve(w: Walk, ref: OwnerRef): KubeObject | undefined {
  const obj = w.view.object?.(ref.kind, w.namespace, ref.name);
  if (!obj) return undefined;
  const uid = obj.metadata?.uid;
  if (uid !== undefined && ref.uid !== undefined && String(uid) !== ref.uid) return undefined;
  return obj;
}

/** A workload in dev mode by devx's own record: labelled, and entered through admission (verified enabled-at). */
function inDevMode(w: Walk, kind: WorkloadKind, obj: KubeObject): string | undefined {
  const what = `${kind} ${obj.metadata?.name ?? ''}`;
  if (!isDevEnabled(labelsOf(obj))) return `${what} is not labelled dev.x/enabled=true: label the ${kind} itself (kubectl label ${kind.toLowerCase()} ${obj.metadata?.name ?? ''} dev.x/enabled=true)`;
  const records = verifiedRecords(obj, { signer: w.signer, namespace: w.namespace });
  if (records?.[ANN_ENABLED_AT] === undefined) return `${what} carries no record of devx admitting it to dev mode: remove the label dev.x/enabled and add it again`;
  return undefined;
}

/** The source a verified copy names (`<kind>/<name>`), resolved through the copy's owner reference to it. */
function copySource(w: Walk, copy: KubeObject, text: string): DevWorkload | undefined {
  const ref = parseWorkloadRef(text);
  const owner = ref && (copy.metadata?.ownerReferences ?? []).find((r) => r.kind === ref.kind && r.name === ref.name);
  const source = owner ? resolve(w, owner) : undefined;
  return ref && source ? { kind: ref.kind, object: source } : undefined;
}

/** A dev copy (Job or Deployment) made by devx: the source workload it names, if that is what it is. */
function sourceOfCopy(w: Walk, copy: KubeObject): OwnerChain | undefined {
  const ref = annotationsOf(copy)[ANN_COPY_OF];
  if (ref === undefined) return undefined;
  const name = `${String(copy.kind)} ${copy.metadata?.name ?? ''}`;
  const records = verifiedRecords(copy, { signer: w.signer, namespace: w.namespace });
  if (records?.[ANN_COPY_OF] !== ref) {
    return err(`${name} says it is a dev copy (dev.x/copy-of) but devx did not make it`);
  }
  const source = copySource(w, copy, ref);
  if (!source) return err(`${name} is a dev copy of ${ref}, which does not exist (or is another object of that name)`);
  const end = endsAt(w, source);
  const user = records[ANN_DUPLICATE_FOR];
  return user === undefined || !end.ok ? end : duplicateOf(w, end.value, { copy, user });
}

/** A user's duplicate copy: its source must still list the user, and the copy carry the user's copy name. */
function duplicateOf(w: Walk, source: DevWorkload, o: { copy: KubeObject; user: string }): OwnerChain {
  const name = o.copy.metadata?.name ?? '';
  const sourceName = source.object.metadata?.name ?? '';
  const users = parseDuplicates(verifiedRecords(source.object, { signer: w.signer, namespace: w.namespace })?.[ANN_DUPLICATES]);
  if (!users?.includes(o.user) || duplicateName(sourceName, o.user) !== name) {
    return err(`Deployment ${name} is the duplicate copy of ${o.user}, who has no copy of ${source.kind} ${sourceName} now`);
  }
  return ok({ ...source, copy: name });
}

/** The end of a chain: the workload must be in dev mode by devx's own record. */
function endsAt(w: Walk, workload: DevWorkload): OwnerChain {
  const problem = inDevMode(w, workload.kind, workload.object);
  return problem ? err(problem) : ok(workload);
}

/** devx's copies are Deployments (a DaemonSet's) and Jobs (a Job's, a CronJob's dev Job). */
const COPY_KINDS: ReadonlySet<string> = new Set(['Deployment', 'Job']);

/** Kinds whose own template devx labels: a chain ends there. */
const ENDS: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet', 'CronJob']);
/** Links devx follows upwards: a Deployment's ReplicaSet, a Job a CronJob made (`kubectl create job --from` too). */
const LINKS: Readonly<Record<string, string>> = { ReplicaSet: 'Deployment', Job: 'CronJob' };

/** Every kind an owner chain passes through. */
/** (A DaemonSet is where a copy's chain ends: the source its dev.x/copy-of names.) */
export const CHAIN_KINDS: ReadonlySet<string> = new Set([...ENDS, ...COPY_KINDS, ...Object.keys(LINKS), 'DaemonSet']);

/** The next object up a chain, unverified (for fetching it, not for deciding): the source a copy names, else the
 * controller. */
export function nextOwnerRef(obj: KubeObject): { kind: string; name: string } | undefined {
  const copyOf = COPY_KINDS.has(String(obj.kind)) ? annotationsOf(obj)[ANN_COPY_OF] : undefined;
  return copyOf === undefined ? controllerOf(obj) : parseWorkloadRef(copyOf);
}

/** From an object in the chain, one step up (or the end of the chain). */
function step(w: Walk, obj: KubeObject, depth: number): OwnerChain {
  const kind = String(obj.kind ?? '');
  // devx's copies are Deployments and Jobs (a copy's ReplicaSet carries its annotations too, but is not the copy).
  const copy = COPY_KINDS.has(kind) ? sourceOfCopy(w, obj) : undefined;
  if (copy) return copy;
  if (ENDS.has(kind)) return endsAt(w, { kind: kind as WorkloadKind, object: obj });
  const ref = controllerOf(obj);
  if (ref && LINKS[kind] === ref.kind) return follow(w, ref, depth);
  return err(`${kind} ${obj.metadata?.name ?? ''} is not a workload devx puts in dev mode (${WORKLOAD_KINDS.filter((k) => k !== 'Pod').join(', ')})`);
}

function follow(w: Walk, ref: OwnerRef, depth: number): OwnerChain {
  if (depth >= MAX_DEPTH) return err(`the owner chain is longer than devx follows (${MAX_DEPTH})`);
  const obj = resolve(w, ref);
  if (!obj) return err(`its owner ${describeRef(ref)} is not a workload in dev mode that devx knows of (wrong name or uid, or not labelled)`);
  return step(w, { ...obj, kind: obj.kind ?? ref.kind }, depth + 1);
}

/** Where a labelled pod with owners comes from: the workload in dev mode at the end of its controller chain. */
export function ownerChain(pod: KubeObject, o: Walk): OwnerChain {
  const ref = controllerOf(pod);
  if (!ref) {
    const names = (pod.metadata?.ownerReferences ?? []).map(describeRef).join(', ');
    return err(`the pod has owners (${names}) but no controller: only a workload's own pods, or a pod without owners, can be in dev mode`);
  }
  return follow(o, ref, 0);
}
