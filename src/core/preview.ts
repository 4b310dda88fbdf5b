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
export function requestFor(o: RequestOptions): AdmissionRequest {
  const kind = String(o.object.kind ?? '');
  const group = GROUPS[kind as WorkloadKind] ?? '';
  const version = String(o.object.apiVersion ?? 'v1').split('/').pop() ?? 'v1';
  const req: AdmissionRequest = {
    uid: o.uid ?? '00000000-0000-0000-0000-000000000000',
    kind: { group, version, kind },
    resource: { group, version, resource: `${kind.toLowerCase()}s` },
    namespace: o.namespace ?? o.object.metadata?.namespace ?? 'default',
    operation: o.operation ?? (o.oldObject ? 'UPDATE' : 'CREATE'),
    userInfo: o.user ?? { username: 'devx-preview', groups: ['system:authenticated'] },
    object: o.object as Record<string, unknown>,
    oldObject: (o.oldObject as Record<string, unknown> | undefined) ?? null,
  };
  if (o.object.metadata?.name) req.name = o.object.metadata.name;
  if (o.dryRun) req.dryRun = true;
  return req;
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

export function previewDevMode(o: RequestOptions, ctx: AdmissionContext): Preview {
  const kind = String(o.object.kind ?? '');
  if (kind === 'Pod' && (o.operation ?? 'CREATE') === 'CREATE' && !o.oldObject) {
    return { workload: admit('pods', requestFor(o), ctx) };
  }
  const workload = admit('workloads', requestFor(o), ctx);
  const after = workload.kind === 'mutate' ? workload.object : o.object;
  if (!(WORKLOAD_KINDS as readonly string[]).includes(kind) || kind === 'Pod' || workload.kind === 'deny') return { workload };
  const pod = podFromTemplate(kind as WorkloadKind, after);
  if (!pod) return { workload };
  return { workload, pod: admit('pods', requestFor({ ...o, object: pod, oldObject: undefined, operation: 'CREATE' }), ctx) };
}
