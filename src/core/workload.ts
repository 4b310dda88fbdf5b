// Workload admission (DESIGN §3): entering and leaving dev mode, and the invariants re-applied on every update.
// Every function here works on a copy and returns a Decision; nothing is written by hand as a patch.
import type { UserInfo } from '../schemas/admission.ts';
import type { KubeObject, ObjectMeta, Pod, PodSpec, PodTemplate } from './kube.ts';
import { annotationsOf, labelsOf, setMetaKey } from './kube.ts';
import {
  ANN_ENABLED_AT,
  ANN_ENABLED_BY,
  ANN_ORIGINAL_POD,
  ANN_ORIGINAL_REPLICAS,
  ANN_ORIGINAL_SUSPEND,
  ANN_WORKLOAD,
  ANN_DUPLICATE_REQUEST,
  ANN_DUPLICATES,
  LABEL_ENABLED,
  OVERRIDE_ANNOTATIONS,
  PAUSE_NODE_SELECTOR_KEY,
  isDevEnabled,
  type WorkloadKind,
} from './names.ts';
import type { Decision } from './result.ts';
import { formatWorkloadRef } from './workload-ref.ts';
import { duplicateName, parseDuplicates } from './duplicate.ts';
import { RECORD_ANNOTATIONS } from './names.ts';
import { signRecords, type RecordSigner, type Records } from './records.ts';

export interface WorkloadChange {
  kind: WorkloadKind;
  object: KubeObject;
  oldObject?: KubeObject | undefined;
  user: UserInfo;
  now: Date;
  /** devx's own records as they stand (verified on the stored object): the only source of what to keep or restore. */
  trusted: Records;
  /** devx's records on the stored object as they verify ({} when none; undefined when they do not verify). */
  stored?: Records | undefined;
  signer: RecordSigner;
  namespace: string;
  /** The request is devx's own (its ServiceAccount), e.g. the reconciler completing or repairing dev mode. */
  self: boolean;
}

/** Where a kind keeps the pod template that devx labels (undefined: the kind's template is not touched). */
export function podTemplateOf(kind: WorkloadKind, obj: KubeObject): PodTemplate | undefined {
  const spec = obj.spec as Record<string, unknown> | undefined;
  if (!spec) return undefined;
  if (kind === 'Deployment' || kind === 'StatefulSet' || kind === 'DaemonSet' || kind === 'Job') {
    return spec.template as PodTemplate | undefined;
  }
  if (kind === 'CronJob') return (spec.jobTemplate as { spec?: { template?: PodTemplate } } | undefined)?.spec?.template;
  return undefined;
}

/** The template devx labels so that new pods are injected; DaemonSet and Job templates are left alone. */
function labelledTemplateOf(kind: WorkloadKind, obj: KubeObject): PodTemplate | undefined {
  return kind === 'Deployment' || kind === 'StatefulSet' || kind === 'CronJob' ? podTemplateOf(kind, obj) : undefined;
}

export function workloadRef(kind: WorkloadKind, obj: KubeObject): string {
  return formatWorkloadRef({ kind, name: obj.metadata?.name ?? obj.metadata?.generateName ?? '' });
}

function meta(obj: { metadata?: ObjectMeta }): ObjectMeta {
  obj.metadata ??= {};
  return obj.metadata;
}

// ---- entering / keeping dev mode --------------------------------------------------------------------------------

/** Labels a pod template for injection and copies the workload's override annotations onto it. */
export function labelTemplate(template: { metadata?: ObjectMeta }, obj: KubeObject, ref: string): void {
  const m = meta(template);
  setMetaKey(m, 'labels', LABEL_ENABLED, 'true');
  setMetaKey(m, 'annotations', ANN_WORKLOAD, ref);
  const source = annotationsOf(obj);
  for (const key of OVERRIDE_ANNOTATIONS) setMetaKey(m, 'annotations', key, source[key]);
}

/** replicas → 1; a different incoming value (apply or scale during dev mode) becomes the new original. */
function pinReplicas(obj: KubeObject, trusted: Records, warnings: string[]): void {
  const spec = (obj.spec ??= {});
  const incoming = typeof spec.replicas === 'number' ? spec.replicas : 1;
  const recorded = trusted[ANN_ORIGINAL_REPLICAS];
  const original = recorded === undefined || incoming !== 1 ? incoming : Number(recorded);
  if (recorded === undefined && incoming !== 1) warnings.push(`dev mode on: replicas ${incoming} -> 1`);
  else if (recorded !== undefined && Number(recorded) !== original) {
    warnings.push(`dev mode: replicas stay 1; ${original} recorded for when dev mode ends`);
  }
  setMetaKey(meta(obj), 'annotations', ANN_ORIGINAL_REPLICAS, String(original));
  spec.replicas = 1;
}

function suspendCronJob(obj: KubeObject, trusted: Records, warnings: string[]): void {
  const spec = (obj.spec ??= {});
  const recorded = trusted[ANN_ORIGINAL_SUSPEND];
  const incoming = spec.suspend === undefined ? 'unset' : String(spec.suspend === true);
  // devx pins `suspend: true`; anything else arriving during dev mode (an apply of the manifest) is the new original.
  const original = recorded !== undefined && incoming === 'true' ? recorded : incoming;
  if (recorded === undefined) warnings.push('dev mode on: schedule suspended; one dev Job runs instead');
  setMetaKey(meta(obj), 'annotations', ANN_ORIGINAL_SUSPEND, original);
  spec.suspend = true;
}

function pauseDaemonSet(obj: KubeObject, warnings: string[]): void {
  const template = podTemplateOf('DaemonSet', obj);
  if (!template?.spec) return;
  const selector = { ...(template.spec.nodeSelector ?? {}) };
  if (selector[PAUSE_NODE_SELECTOR_KEY] === undefined) warnings.push('dev mode on: DaemonSet pods paused; one dev Deployment runs instead');
  selector[PAUSE_NODE_SELECTOR_KEY] = 'true';
  template.spec.nodeSelector = selector;
}

/** Who turned dev mode on and when: kept from devx's own record, else this request's user and admission's clock. */
export function recordWho(obj: KubeObject, c: WorkloadChange): void {
  const by = c.trusted[ANN_ENABLED_BY] ?? c.user.username ?? 'unknown';
  const at = c.trusted[ANN_ENABLED_AT] ?? c.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  setMetaKey(meta(obj), 'annotations', ANN_ENABLED_BY, by);
  setMetaKey(meta(obj), 'annotations', ANN_ENABLED_AT, at);
}

/** Starts the object's records from devx's own (whatever the request carried in their place is dropped). */
export function resetRecords(obj: KubeObject, trusted: Records): void {
  for (const key of RECORD_ANNOTATIONS) setMetaKey(meta(obj), 'annotations', key, trusted[key]);
}

/** Kinds whose dev pod comes from an object devx makes, said once when dev mode begins. */
const COPY_NOTICE: Partial<Record<WorkloadKind, string>> = {
  Job: 'dev mode on: a dev copy of this Job is created',
  Pod: 'dev mode on: the pod is recreated with dev mode',
};

/** Applies the dev-mode invariants to a copy of the workload. */
export function enterDevMode(c: WorkloadChange): Decision {
  const obj = structuredClone(c.object);
  const warnings: string[] = [];
  resetRecords(obj, c.trusted);
  recordWho(obj, c);
  const template = labelledTemplateOf(c.kind, obj);
  if (template) labelTemplate(template, obj, workloadRef(c.kind, obj));
  if (c.kind === 'Deployment' || c.kind === 'StatefulSet') pinReplicas(obj, c.trusted, warnings);
  if (c.kind === 'CronJob') suspendCronJob(obj, c.trusted, warnings);
  if (c.kind === 'DaemonSet') pauseDaemonSet(obj, warnings);
  signRecords(obj, { signer: c.signer, namespace: c.namespace });
  const wasOn = isDevEnabled(labelsOf(c.oldObject));
  if (!wasOn && COPY_NOTICE[c.kind]) warnings.push(COPY_NOTICE[c.kind] as string);
  return { kind: 'mutate', object: obj, warnings, reason: wasOn ? 'dev mode kept' : 'dev mode on' };
}

// ---- leaving dev mode -------------------------------------------------------------------------------------------

function unlabelTemplate(template: PodTemplate): void {
  const m = meta(template);
  setMetaKey(m, 'labels', LABEL_ENABLED, undefined);
  for (const key of [ANN_WORKLOAD, ...OVERRIDE_ANNOTATIONS]) setMetaKey(m, 'annotations', key, undefined);
  if (Object.keys(m).length === 0) delete template.metadata;
}

function restoreReplicas(obj: KubeObject, trusted: Records, warnings: string[]): void {
  const recorded = trusted[ANN_ORIGINAL_REPLICAS];
  if (recorded === undefined) {
    if (annotationsOf(obj)[ANN_ORIGINAL_REPLICAS] !== undefined) {
      warnings.push(`dev mode off: the recorded replica count is not devx's own record, so replicas stay ${String(obj.spec?.replicas ?? 1)}; scale the workload yourself`);
    }
    return;
  }
  const n = Number(recorded);
  if (Number.isInteger(n) && n >= 0) {
    (obj.spec ??= {}).replicas = n;
    warnings.push(`dev mode off: replicas 1 -> ${n}`);
  }
}

function restoreSuspend(obj: KubeObject, trusted: Records): void {
  const recorded = trusted[ANN_ORIGINAL_SUSPEND];
  if (recorded === undefined) return;
  const spec = (obj.spec ??= {});
  if (recorded === 'unset') delete spec.suspend;
  else spec.suspend = recorded === 'true';
}

/** Removes devx's pause from a pod spec's node selector. */
export function unpauseTemplate(spec: PodSpec | undefined): void {
  if (!spec?.nodeSelector || spec.nodeSelector[PAUSE_NODE_SELECTOR_KEY] === undefined) return;
  const { [PAUSE_NODE_SELECTOR_KEY]: _paused, ...rest } = spec.nodeSelector;
  if (Object.keys(rest).length === 0) delete spec.nodeSelector;
  else spec.nodeSelector = rest;
}

/** Whether an object still carries anything devx put there (e.g. the label went while devx was down). */
export function hasDevState(kind: WorkloadKind, obj: KubeObject): boolean {
  const anns = annotationsOf(obj);
  if (anns[ANN_ORIGINAL_REPLICAS] !== undefined || anns[ANN_ORIGINAL_SUSPEND] !== undefined || anns[ANN_ENABLED_AT] !== undefined) return true;
  if (isDevEnabled(labelsOf(labelledTemplateOf(kind, obj)))) return true;
  return podTemplateOf(kind, obj)?.spec?.nodeSelector?.[PAUSE_NODE_SELECTOR_KEY] !== undefined && kind === 'DaemonSet';
}

function leftMessage(kind: WorkloadKind, obj: KubeObject, trusted: Records): string {
  const users = parseDuplicates(trusted[ANN_DUPLICATES]);
  const name = obj.metadata?.name ?? '';
  if (users === undefined) return `dev mode off: ${kind} ${name} restored`;
  const copies = users.length === 0 ? 'it had no copies' : `its copies are deleted (${users.map((u) => duplicateName(name, u)).join(', ')})`;
  return `dev mode off: ${kind} ${name} was never changed; ${copies}`;
}

/**
 * Undoes every dev-mode change on a copy of the workload. What to restore comes only from `trusted` (devx's verified
 * records); every record goes, whoever wrote it.
 */
export function leaveDevMode(kind: WorkloadKind, object: KubeObject, trusted: Records): Decision {
  const obj = structuredClone(object);
  const warnings: string[] = [];
  const template = labelledTemplateOf(kind, obj);
  if (template) unlabelTemplate(template);
  restoreReplicas(obj, trusted, warnings);
  restoreSuspend(obj, trusted);
  if (kind === 'DaemonSet') unpauseTemplate(podTemplateOf('DaemonSet', obj)?.spec);
  // A bare pod devx recreated keeps devx's records, signed as they are: the reconciler creates it again from its
  // dev.x/original-pod. Anything else is left without records.
  if (kind !== 'Pod' || trusted[ANN_ORIGINAL_POD] === undefined) resetRecords(obj, {});
  // A duplicate-mode request (join/leave) that arrives with the label's removal has nothing left to do.
  setMetaKey(meta(obj), 'annotations', ANN_DUPLICATE_REQUEST, undefined);
  warnings.push(leftMessage(kind, obj, trusted));
  return { kind: 'mutate', object: obj, warnings, reason: 'dev mode off' };
}

/** The template presented as a pod, as the pod webhook will see a new pod of this workload. */
export function templateAsPod(kind: WorkloadKind, obj: KubeObject): Pod | undefined {
  const template = podTemplateOf(kind, obj);
  if (!template?.spec) return undefined;
  const spec = structuredClone(template.spec);
  if (kind === 'StatefulSet') addClaimTemplateVolumes(spec, obj);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...structuredClone(template.metadata ?? {}), ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}) },
    spec,
  } as Pod;
}

/**
 * A StatefulSet's pods get a claim volume per `volumeClaimTemplates` entry from its controller (`<template>-<set>-<n>`,
 * in place of a template volume of that name), so the pod admission sees has them: added for the first pod, so a
 * preview decides what the pod webhook will (e.g. whether devx may set an fsGroup).
 */
function addClaimTemplateVolumes(spec: PodSpec, sts: KubeObject): void {
  const templates = (sts.spec as { volumeClaimTemplates?: Array<{ metadata?: { name?: string } }> } | undefined)?.volumeClaimTemplates ?? [];
  for (const t of templates) {
    const name = t.metadata?.name;
    if (!name) continue;
    const volume = { name, persistentVolumeClaim: { claimName: `${name}-${sts.metadata?.name ?? ''}-0` } };
    spec.volumes = [...(spec.volumes ?? []).filter((v) => v.name !== name), volume];
  }
}
