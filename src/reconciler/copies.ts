// The second object some kinds need in dev mode (DESIGN §3), built from the source workload as plain data:
// Job → a copy Job `<name>-devx`; CronJob → one dev Job `<name>-devx` from its jobTemplate; DaemonSet → a Deployment
// `<name>-devx` with one replica. Each copy is owned by its source (garbage-collected with it), names it in
// `dev.x/copy-of`, carries no dev label itself (so admission does not treat it as a workload) and has a pod template
// labelled like a Deployment's in dev mode, so its pod is injected and mounts the source's sync Secret.
import { createHash } from 'node:crypto';
import { apiVersionOf } from '../core/kinds.ts';
import type { KubeObject, ObjectMeta, OwnerReference as KubeOwnerReference, PodTemplate } from '../core/kube.ts';
import { annotationsOf, labelsOf } from '../core/kube.ts';
import { ANN_COPY_OF, ANN_SOURCE_HASH, LABEL_COPY, LABEL_ENABLED, RECORD_ANNOTATIONS, type WorkloadKind } from '../core/names.ts';
import { labelTemplate, podTemplateOf, unpauseTemplate, workloadRef } from '../core/workload.ts';
import { refOf } from './keys.ts';

export type CopyKind = 'Job' | 'Deployment';

/** The kind of a workload's dev copy; undefined for kinds that need none. */
export function copyKindOf(kind: WorkloadKind): CopyKind | undefined {
  if (kind === 'Job' || kind === 'CronJob') return 'Job';
  return kind === 'DaemonSet' ? 'Deployment' : undefined;
}

const MAX_NAME = 63;
const SUFFIX = '-devx';

/**
 * `<name>-devx`. Job names must fit a label value (63), so a longer result keeps the start of the name and a hash of
 * all of it: stable, distinct for distinct sources, always a valid name.
 */
export function copyName(name: string): string {
  const plain = `${name}${SUFFIX}`;
  if (plain.length <= MAX_NAME) return plain;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, MAX_NAME - SUFFIX.length - hash.length - 1).replace(/[-.]+$/, '')}-${hash}${SUFFIX}`;
}

/** Labels the Job controller generates for its own pods; a copy must not carry the source's. */
const JOB_GENERATED_LABELS = ['controller-uid', 'job-name', 'batch.kubernetes.io/controller-uid', 'batch.kubernetes.io/job-name'];

/** An owner reference as devx writes it: every field set, and no `controller`. */
export type OwnerReference = Required<Pick<KubeOwnerReference, 'apiVersion' | 'kind' | 'name' | 'uid'>>;

/** An owner reference to a workload (no `controller`: nothing should adopt or release devx's objects). */
export function ownerRefTo(kind: WorkloadKind, obj: KubeObject): OwnerReference {
  return { apiVersion: apiVersionOf(kind), kind, name: obj.metadata?.name ?? '', uid: String(obj.metadata?.uid ?? '') };
}

/** The uid of the first owner reference of the given kind, if any. */
export function ownerUid(obj: KubeObject | undefined, kind: string): string | undefined {
  return obj?.metadata?.ownerReferences?.find((o) => o.kind === kind)?.uid;
}

function without(map: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> {
  const out = { ...(map ?? {}) };
  for (const k of keys) delete out[k];
  return out;
}

/** Hash of the spec a copy is made from (dev.x/source-hash): a changed source gives a changed hash. */
export function specHash(spec: unknown): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

/** Metadata of a copy: the source's labels (minus devx's and generated ones) plus the copy label, the back-reference
 * and the hash of the spec it was made from. */
function copyMeta(o: { kind: WorkloadKind; source: KubeObject; labels: Record<string, string> | undefined; spec: unknown; annotations?: Record<string, string> }): ObjectMeta {
  const name = copyName(o.source.metadata?.name ?? '');
  const labels = { ...without(o.labels, [LABEL_ENABLED, ...JOB_GENERATED_LABELS]), [LABEL_COPY]: name };
  const annotations = { ...without(o.annotations, RECORD_ANNOTATIONS), [ANN_COPY_OF]: workloadRef(o.kind, o.source), [ANN_SOURCE_HASH]: specHash(o.spec) };
  return { name, namespace: o.source.metadata?.namespace ?? '', labels, annotations, ownerReferences: [ownerRefTo(o.kind, o.source)] };
}

/** A pod template labelled for injection, naming the source workload (whose sync Secret its pod mounts). */
function devTemplate(kind: WorkloadKind, source: KubeObject, template: PodTemplate, extraLabels: Record<string, string> = {}): PodTemplate {
  const t = structuredClone(template);
  t.metadata = { ...(t.metadata ?? {}), labels: { ...without(t.metadata?.labels, JOB_GENERATED_LABELS), ...extraLabels } };
  if (Object.keys(t.metadata.labels ?? {}).length === 0) delete t.metadata.labels;
  labelTemplate(t, source, workloadRef(kind, source));
  return t;
}

/**
 * A Job spec for a dev pod: the generated selector goes (the API server makes a new one), and everything that would
 * end or repeat the dev session by itself: deadline, suspension, parallel pods, TTL after finishing (a finished copy
 * deleted by its TTL would otherwise be made again).
 */
function devJobSpec(spec: Record<string, unknown>, template: PodTemplate): Record<string, unknown> {
  const { selector: _s, manualSelector: _m, activeDeadlineSeconds: _a, suspend: _p, ttlSecondsAfterFinished: _t, ...rest } = spec;
  return { ...rest, parallelism: 1, template };
}

function jobCopy(source: KubeObject): KubeObject | undefined {
  const template = podTemplateOf('Job', source);
  if (!template) return undefined;
  const spec = devJobSpec(source.spec ?? {}, devTemplate('Job', source, template));
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: copyMeta({ kind: 'Job', source, labels: labelsOf(source), spec }), spec };
}

function cronJobDevJob(source: KubeObject): KubeObject | undefined {
  const jobTemplate = (source.spec?.jobTemplate ?? undefined) as { metadata?: ObjectMeta; spec?: Record<string, unknown> } | undefined;
  const template = podTemplateOf('CronJob', source);
  if (!jobTemplate?.spec || !template) return undefined;
  // Admission has labelled the jobTemplate's pod template already; labelling again is a no-op, and makes the copy
  // right even if it was admitted while devx was not registered.
  const spec = devJobSpec(jobTemplate.spec, devTemplate('CronJob', source, template));
  const meta = copyMeta({ kind: 'CronJob', source, labels: jobTemplate.metadata?.labels, spec, annotations: jobTemplate.metadata?.annotations });
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: meta, spec };
}

function daemonSetDeployment(source: KubeObject): KubeObject | undefined {
  const template = podTemplateOf('DaemonSet', source);
  if (!template) return undefined;
  const name = copyName(source.metadata?.name ?? '');
  const t = devTemplate('DaemonSet', source, template, { [LABEL_COPY]: name });
  unpauseTemplate(t.spec);
  const spec = {
    replicas: 1,
    selector: { matchLabels: { [LABEL_COPY]: name } },
    template: t,
    // One dev pod at a time: it may use host ports like the DaemonSet's pods, and two pods would sync one Secret.
    strategy: { type: 'Recreate' },
  };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: copyMeta({ kind: 'DaemonSet', source, labels: labelsOf(source), spec }), spec };
}

/** The dev copy a workload in dev mode needs, or undefined for kinds that need none. */
export function desiredCopy(kind: WorkloadKind, source: KubeObject): KubeObject | undefined {
  if (kind === 'Job') return jobCopy(source);
  if (kind === 'CronJob') return cronJobDevJob(source);
  if (kind === 'DaemonSet') return daemonSetDeployment(source);
  return undefined;
}

/** Whether an object is devx's copy of this source (a same-named object of someone else's is never touched). */
export function isCopyOf(copy: KubeObject, kind: WorkloadKind, sourceName: string): boolean {
  return annotationsOf(copy)[ANN_COPY_OF] === refOf({ kind, name: sourceName });
}

export function sourceHashOf(obj: KubeObject | undefined): string | undefined {
  return annotationsOf(obj)[ANN_SOURCE_HASH];
}
