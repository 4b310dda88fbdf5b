// A bare pod labelled after it was created cannot be injected in place (a pod's spec is immutable): devx deletes it
// and creates it again with the label, so admission injects the new one. The pod as it was before is kept as JSON in
// an annotation of the new pod and is what devx creates again when dev mode ends. While one pod replaces another,
// the sync Secret carries a "pending pod" record (what to create, and which pod uid it replaces), so a crash between
// the delete and the create resumes from the record instead of losing the pod.
import { z } from 'zod';
import type { KubeObject, ObjectMeta } from '../core/kube.ts';
import { annotationsOf, labelsOf, setMetaKey } from '../core/kube.ts';
import { ANN_ENABLED_AT, ANN_ENABLED_BY, ANN_ORIGINAL_POD, ANN_STATUS, LABEL_ENABLED, RECORD_ANNOTATIONS, isDevEnabled } from '../core/names.ts';

/** What creating a pod again takes from the old one: its identity and intent, none of the server's bookkeeping. */
function portableMeta(meta: ObjectMeta | undefined): ObjectMeta {
  const out: ObjectMeta = { name: meta?.name ?? '', namespace: meta?.namespace ?? '' };
  for (const key of ['labels', 'annotations', 'finalizers'] as const) {
    if (meta?.[key] !== undefined) out[key] = structuredClone(meta[key]) as never;
  }
  return out;
}

/**
 * The pod a labelled bare pod was before dev mode: without the dev label and the record of who turned dev mode on.
 * `nodeName` goes too, so the scheduler places it again (the dev pod, with its sidecar, may not fit the old node).
 */
export function originalPodOf(pod: KubeObject): KubeObject {
  const metadata = portableMeta(pod.metadata);
  setMetaKey(metadata, 'labels', LABEL_ENABLED, undefined);
  // None of devx's records travel with the original: what it was before dev mode carries none.
  for (const key of RECORD_ANNOTATIONS) setMetaKey(metadata, 'annotations', key, undefined);
  const { nodeName: _n, ...spec } = structuredClone(pod.spec ?? {});
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

/** The pod to create in place of a labelled bare pod: the original, labelled, carrying the original for the way back. */
export function devPodOf(pod: KubeObject): KubeObject {
  const original = originalPodOf(pod);
  const dev = structuredClone(original);
  const meta = (dev.metadata ??= {});
  const anns = annotationsOf(pod);
  setMetaKey(meta, 'labels', LABEL_ENABLED, 'true');
  for (const key of [ANN_ENABLED_BY, ANN_ENABLED_AT]) setMetaKey(meta, 'annotations', key, anns[key]);
  setMetaKey(meta, 'annotations', ANN_ORIGINAL_POD, JSON.stringify(original));
  return dev;
}

/** Whether a pod has been through injection (admission writes `dev.x/status`). */
export function isInjected(pod: KubeObject): boolean {
  return annotationsOf(pod)[ANN_STATUS] !== undefined;
}

export function isBarePod(pod: KubeObject): boolean {
  return (pod.metadata?.ownerReferences ?? []).length === 0;
}

/** A labelled bare pod that admission could not inject (it was labelled after creation): it must be recreated. */
export function needsRecreate(pod: KubeObject): boolean {
  return isDevEnabled(labelsOf(pod)) && isBarePod(pod) && !isInjected(pod);
}

const PodSchema = z.looseObject({ apiVersion: z.string(), kind: z.literal('Pod'), metadata: z.looseObject({ name: z.string().min(1) }), spec: z.looseObject({}) });

/** The original a recreated pod carries, or undefined when it carries none (or one that is not a pod). */
export function storedOriginalOf(pod: KubeObject): KubeObject | undefined {
  return parsePod(annotationsOf(pod)[ANN_ORIGINAL_POD]);
}

function podFrom(value: unknown): KubeObject | undefined {
  const r = PodSchema.safeParse(value);
  return r.success ? (r.data as KubeObject) : undefined;
}

function parsePod(text: string | undefined): KubeObject | undefined {
  if (text === undefined) return undefined;
  try {
    return podFrom(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** The record on the sync Secret while one pod replaces another. */
export interface PendingPod {
  /** uid of the pod being replaced: while a pod with this uid exists, it is deleted first. */
  replaces: string;
  /** The pod to create once it is gone. */
  pod: KubeObject;
  /** Created instead if admission refuses `pod` (entering dev mode: the original, so the pod is never lost). */
  fallback?: KubeObject;
}

const PendingSchema = z.object({ replaces: z.string().min(1), pod: z.unknown(), fallback: z.unknown().optional() });

export function parsePendingPod(text: string | undefined): PendingPod | undefined {
  if (text === undefined) return undefined;
  try {
    const r = PendingSchema.safeParse(JSON.parse(text));
    if (!r.success) return undefined;
    const pod = podFrom(r.data.pod);
    const fallback = r.data.fallback === undefined ? undefined : podFrom(r.data.fallback);
    if (!pod) return undefined;
    return fallback ? { replaces: r.data.replaces, pod, fallback } : { replaces: r.data.replaces, pod };
  } catch {
    return undefined;
  }
}
