// What the reconciler works on: one source workload, named by kind, namespace and name. Every object devx makes
// (sync Secret, workdir claim, dev copy, recreated pod) points back to its source, so any event maps to the key of
// that source.
import type { KubeObject } from '../core/kube.ts';
import { annotationsOf } from '../core/kube.ts';
import { ANN_COPY_OF, ANN_VOLUME_OF, ANN_WORKLOAD, WORKLOAD_KINDS, type WorkloadKind } from '../core/names.ts';
import { formatWorkloadRef, parseWorkloadRef } from '../core/workload-ref.ts';

export interface WorkloadKey {
  kind: WorkloadKind;
  namespace: string;
  name: string;
}

/** `Kind/namespace/name`: the queue's identity of a key. */
export function keyString(k: WorkloadKey): string {
  return `${k.kind}/${k.namespace}/${k.name}`;
}

export function parseKeyString(text: string): WorkloadKey | undefined {
  const [kind, namespace, name, ...rest] = text.split('/');
  const k = kindFromLower(kind?.toLowerCase());
  if (!k || !namespace || !name || rest.length > 0) return undefined;
  return { kind: k, namespace, name };
}

function kindFromLower(lower: string | undefined): WorkloadKind | undefined {
  return WORKLOAD_KINDS.find((k) => k.toLowerCase() === lower);
}

/** `deployment/reviews` (the form of `dev.x/workload` and `dev.x/copy-of`) in a namespace, as a key. */
export function keyFromRef(ref: string | undefined, namespace: string | undefined): WorkloadKey | undefined {
  const parsed = parseWorkloadRef(ref);
  return parsed && namespace ? { ...parsed, namespace } : undefined;
}

/** `<kind lowercase>/<name>`, as admission writes `dev.x/workload`. */
export function refOf(k: Pick<WorkloadKey, 'kind' | 'name'>): string {
  return formatWorkloadRef(k);
}

/**
 * The source workload an observed object stands for, or undefined when it stands for none: a copy names its source;
 * a pod made by a controller belongs to its workload (whose own events cover it); anything else of the six kinds is
 * its own source.
 */
export function keyOfWorkloadObject(kind: string, obj: KubeObject): WorkloadKey | undefined {
  const ns = obj.metadata?.namespace;
  const copyOf = annotationsOf(obj)[ANN_COPY_OF];
  if (copyOf !== undefined) return keyFromRef(copyOf, ns);
  if (kind === 'Pod' && (obj.metadata?.ownerReferences ?? []).length > 0) return undefined;
  return keyFromRef(`${kind.toLowerCase()}/${obj.metadata?.name ?? ''}`, ns);
}

/** The workload a sync Secret belongs to (its `dev.x/workload` annotation). */
export function keyOfSecret(secret: KubeObject): WorkloadKey | undefined {
  return keyFromRef(annotationsOf(secret)[ANN_WORKLOAD], secret.metadata?.namespace);
}

/** The workload a workdir claim belongs to (its `dev.x/volume-of`; whether devx wrote it is checked when acting). */
export function keyOfVolume(claim: KubeObject): WorkloadKey | undefined {
  return keyFromRef(annotationsOf(claim)[ANN_VOLUME_OF], claim.metadata?.namespace);
}
