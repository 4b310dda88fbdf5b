// Offline dev mode, like `istioctl kube-inject`: what admission makes of an object, and for a workload the pod its
// template will become. Builds AdmissionRequests and runs them through the same `admit` the webhook uses.
import type { AdmissionRequest, UserInfo } from '../schemas/admission.ts';
import { admit } from './admit.ts';
import type { AdmissionContext } from './context.ts';
import type { KubeObject } from './kube.ts';
import { WORKLOAD_KINDS, type WorkloadKind } from './names.ts';
import type { Decision } from './result.ts';
import { labelTemplate, templateAsPod, unpauseTemplate, workloadRef } from './workload.ts';

const GROUPS: Record<WorkloadKind, string> = { Deployment: 'apps', StatefulSet: 'apps', DaemonSet: 'apps', Job: 'batch', CronJob: 'batch', Pod: '' };

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
  return { group: GROUPS[kind as WorkloadKind] ?? '', version: apiVersion.slice(apiVersion.lastIndexOf('/') + 1), kind };
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

/** A pod as the workload's controller would create it from the template (owned, named after the workload). */
export function podFromTemplate(kind: WorkloadKind, obj: KubeObject): KubeObject | undefined {
  const pod = templateAsPod(kind, obj);
  if (!pod) return undefined;
  const name = obj.metadata?.name ?? 'workload';
  pod.metadata = { ...pod.metadata, generateName: `${name}-`, ownerReferences: [{ apiVersion: 'apps/v1', kind, name, controller: true }] };
  if (kind === 'DaemonSet' || kind === 'Job') {
    // Their pods come from the dev copy the reconciler makes, whose template is labelled like a Deployment's.
    labelTemplate(pod, obj, workloadRef(kind, obj));
    unpauseTemplate(pod.spec);
  }
  return pod;
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
  const pod = podFromTemplate(kind, workload.kind === 'mutate' ? workload.object : o.object);
  if (!pod) return { workload };
  return { workload, pod: admit('pods', requestFor({ ...o, object: pod, oldObject: undefined, operation: 'CREATE' }), ctx) };
}
