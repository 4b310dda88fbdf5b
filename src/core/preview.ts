// Offline dev mode, like `istioctl kube-inject`: what admission makes of an object, and for a workload the pod its
// template will become. Builds AdmissionRequests and runs them through the same `admit` the webhook uses.
import type { AdmissionRequest, UserInfo } from '../schemas/admission.ts';
import { admit } from './admit.ts';
import type { AdmissionContext, ClusterView } from './context.ts';
import type { KubeObject } from './kube.ts';
import { apiVersionOf, kindInfo } from './kinds.ts';
import { annotationsOf, labelsOf } from './kube.ts';
import { ANN_COPY_OF, ANN_DUPLICATE_FOR, ANN_DUPLICATES, WORKLOAD_KINDS, isDevEnabled, type WorkloadKind } from './names.ts';
import { DUPLICATE_KINDS, duplicateName, parseDuplicates } from './duplicate.ts';
import { duplicateTemplate } from './duplicate-copy.ts';
import { signRecords, type RecordSigner } from './records.ts';
import type { Decision } from './result.ts';
import { labelTemplate, templateAsPod, unpauseTemplate, workloadRef } from './workload.ts';


export interface RequestOptions {
  object: KubeObject;
  oldObject?: KubeObject | undefined;
  operation?: 'CREATE' | 'UPDATE';
  user?: UserInfo;
  namespace?: string;
  uid?: string;
  dryRun?: boolean;
}

/** An AdmissionRequest as the API server would send it for this object. */
function gvkOf(object: KubeObject): { group: string; version: string; kind: string } {
  const kind = String(object.kind ?? '');
  const apiVersion = String(object.apiVersion ?? 'v1');
  return { group: kindInfo(kind)?.group ?? '', version: apiVersion.slice(apiVersion.lastIndexOf('/') + 1), kind };
}

const PREVIEW_USER: UserInfo = { username: 'devx-preview', groups: ['system:authenticated'] };

function optionalFields(o: RequestOptions): Partial<AdmissionRequest> {
  const name = o.object.metadata?.name;
  return { ...(name ? { name } : {}), ...(o.dryRun ? { dryRun: true } : {}) };
}

export function requestFor(o: RequestOptions): AdmissionRequest {
  const { group, version, kind } = gvkOf(o.object);
  return {
    uid: o.uid ?? '00000000-0000-0000-0000-000000000000',
    kind: { group, version, kind },
    resource: { group, version, resource: `${kind.toLowerCase()}s` },
    namespace: o.namespace ?? o.object.metadata?.namespace ?? 'default',
    operation: o.operation ?? (o.oldObject ? 'UPDATE' : 'CREATE'),
    userInfo: o.user ?? PREVIEW_USER,
    object: o.object as Record<string, unknown>,
    oldObject: o.oldObject ?? null,
    ...optionalFields(o),
  };
}

export interface Preview {
  /** The workload (or pod) as admission leaves it. */
  workload: Decision;
  /** For a workload with a pod template: the first pod it will create, as the pod webhook leaves it. */
  pod?: Decision;
}


/** The dev copy the reconciler makes for a DaemonSet (a Deployment) or a Job (a Job), as far as the owner chain reads it. */
function previewCopy(kind: WorkloadKind, obj: KubeObject, signer: RecordSigner | undefined): KubeObject {
  const copyKind = kind === 'DaemonSet' ? 'Deployment' : 'Job';
  const name = obj.metadata?.name ?? 'workload';
  const copy: KubeObject = {
    apiVersion: apiVersionOf(copyKind),
    kind: copyKind,
    metadata: {
      name: `${name}-devx`,
      ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}),
      annotations: { [ANN_COPY_OF]: workloadRef(kind, obj) },
      ownerReferences: [{ apiVersion: apiVersionOf(kind), kind, name }],
    },
  };
  if (signer) signRecords(copy, { signer, namespace: obj.metadata?.namespace ?? '' });
  return copy;
}

/** Only a DaemonSet or Job in dev mode has a dev copy; the pods of any other come from its own template. */
function devCopyOf(kind: WorkloadKind, obj: KubeObject, signer: RecordSigner | undefined): KubeObject | undefined {
  return (kind === 'DaemonSet' || kind === 'Job') && isDevEnabled(labelsOf(obj)) ? previewCopy(kind, obj, signer) : undefined;
}

/** In duplicate mode: the user whose copy is previewed (`user` if it has one, else the first), or undefined. */
function duplicateUser(kind: WorkloadKind, obj: KubeObject, user: string | undefined): string | undefined {
  const users = parseDuplicates(annotationsOf(obj)[ANN_DUPLICATES]);
  if (!users || !DUPLICATE_KINDS.includes(kind) || !isDevEnabled(labelsOf(obj))) return undefined;
  return users.find((u) => u === user) ?? users[0];
}

/** A user's duplicate copy (a Deployment) as far as the owner chain reads it: its name, records and source. */
function duplicateCopyStub(kind: WorkloadKind, obj: KubeObject, o: { user: string; signer: RecordSigner | undefined }): KubeObject {
  const namespace = obj.metadata?.namespace ?? '';
  const copy: KubeObject = {
    apiVersion: apiVersionOf('Deployment'),
    kind: 'Deployment',
    metadata: {
      name: duplicateName(obj.metadata?.name ?? '', o.user),
      namespace,
      annotations: { [ANN_COPY_OF]: workloadRef(kind, obj), [ANN_DUPLICATE_FOR]: o.user },
      ownerReferences: [{ apiVersion: apiVersionOf(kind), kind, name: obj.metadata?.name ?? '' }],
    },
  };
  if (o.signer) signRecords(copy, { signer: o.signer, namespace });
  return copy;
}

/** The pod a user's duplicate copy creates, and the objects of its owner chain. */
function previewDuplicate(kind: WorkloadKind, obj: KubeObject, o: { user: string; signer: RecordSigner | undefined }): { pod: KubeObject; owners: KubeObject[] } | undefined {
  const template = duplicateTemplate(kind, obj, o.user);
  if (!template) return undefined;
  const copy = duplicateCopyStub(kind, obj, o);
  const name = copy.metadata?.name ?? '';
  const metadata = { ...structuredClone(template.metadata ?? {}), namespace: copy.metadata?.namespace ?? '', generateName: `${name}-` };
  const ownerReferences = [{ apiVersion: 'apps/v1', kind: 'Deployment', name, controller: true }];
  const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { ...metadata, ownerReferences }, spec: structuredClone(template.spec) };
  return { pod, owners: [copy, { ...obj, kind }] };
}

/** The pod of a workload's own template (or of its DaemonSet's or Job's dev copy). */
function previewOwnPod(kind: WorkloadKind, obj: KubeObject, signer: RecordSigner | undefined): { pod: KubeObject; owners: KubeObject[] } | undefined {
  const pod = templateAsPod(kind, obj);
  if (!pod) return undefined;
  const name = obj.metadata?.name ?? 'workload';
  const copy = devCopyOf(kind, obj, signer);
  const owner = copy ?? { ...obj, kind, apiVersion: apiVersionOf(kind) };
  const ownerRef = { apiVersion: String(owner.apiVersion), kind: String(owner.kind), name: owner.metadata?.name ?? name, controller: true };
  pod.metadata = { ...pod.metadata, generateName: `${name}-`, ownerReferences: [ownerRef] };
  if (copy) {
    labelTemplate(pod, obj, workloadRef(kind, obj));
    unpauseTemplate(pod.spec);
  }
  return { pod, owners: [owner, ...(copy ? [{ ...obj, kind }] : [])] };
}

/**
 * A pod as the workload's controller would create it from the template (owned, named after the workload), and the
 * objects its owner chain passes through (a dev copy for DaemonSets and Jobs, whose template is labelled like a
 * Deployment's; in duplicate mode, the copy of `user`, else of the first user with one).
 */
export function previewPod(kind: WorkloadKind, obj: KubeObject, signer?: RecordSigner, user?: string): { pod: KubeObject; owners: KubeObject[] } | undefined {
  const duplicateFor = duplicateUser(kind, obj, user);
  if (duplicateFor !== undefined) return previewDuplicate(kind, obj, { user: duplicateFor, signer });
  if (annotationsOf(obj)[ANN_DUPLICATES] !== undefined) return undefined; // duplicate mode, nobody has a copy yet
  return previewOwnPod(kind, obj, signer);
}

/** The pod of `previewPod`, alone. */
export function podFromTemplate(kind: WorkloadKind, obj: KubeObject): KubeObject | undefined {
  return previewPod(kind, obj)?.pod;
}

/** The cluster view, plus the objects a preview made up (the admitted workload, its copy). */
function withObjects(view: ClusterView, objects: KubeObject[]): ClusterView {
  const find = (kind: string, namespace: string, name: string): KubeObject | undefined =>
    objects.find((o) => o.kind === kind && o.metadata?.name === name && (o.metadata?.namespace ?? namespace) === namespace) ?? view.object?.(kind, namespace, name);
  return { ...view, object: find };
}

function isPodCreate(o: RequestOptions): boolean {
  return o.object.kind === 'Pod' && !o.oldObject && o.operation !== 'UPDATE';
}

function hasTemplate(kind: string): kind is WorkloadKind {
  return kind !== 'Pod' && (WORKLOAD_KINDS as readonly string[]).includes(kind);
}

export function previewDevMode(o: RequestOptions, ctx: AdmissionContext): Preview {
  const kind = String(o.object.kind ?? '');
  if (isPodCreate(o)) return { workload: admit('pods', requestFor(o), ctx) };
  const workload = admit('workloads', requestFor(o), ctx);
  if (!hasTemplate(kind) || workload.kind === 'deny') return { workload };
  const made = previewPod(kind, workload.kind === 'mutate' ? workload.object : o.object, ctx.signer, o.user?.username);
  if (!made) return { workload };
  const podCtx = { ...ctx, view: withObjects(ctx.view, made.owners) };
  return { workload, pod: admit('pods', requestFor({ ...o, object: made.pod, oldObject: undefined, operation: 'CREATE' }), podCtx) };
}
