// Validating-route checks that are about devx's marks rather than the policy: the dev label on pod templates, and
// devx's sync Secrets (DESIGN §10).
import type { AdmissionRequest } from '../schemas/admission.ts';
import type { KubeObject, PodTemplate } from './kube.ts';
import { annotationsOf, labelsOf } from './kube.ts';
import { controllerOf } from './owners.ts';
import { ANN_COPY_OF, SYNC_SECRET_LABELS, isDevEnabled, type WorkloadKind } from './names.ts';
import { verifiedRecords, type RecordSigner } from './records.ts';
import { deny, skip, type Decision } from './result.ts';
import { podTemplateOf } from './workload.ts';


function templateOf(kind: string, obj: KubeObject): PodTemplate | undefined {
  if (kind === 'ReplicaSet' || kind === 'ReplicationController') return (obj.spec as { template?: PodTemplate } | undefined)?.template;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(kind)) return podTemplateOf(kind as WorkloadKind, obj);
  return undefined;
}

function isVerifiedCopy(obj: KubeObject, o: { signer: RecordSigner; namespace: string }): boolean {
  const ref = annotationsOf(obj)[ANN_COPY_OF];
  return ref !== undefined && verifiedRecords(obj, o)?.[ANN_COPY_OF] === ref;
}

/** Whose template devx labels itself: a labelled Deployment/StatefulSet/CronJob, devx's copies, a Deployment's RS. */
function templateLabelIsDevx(kind: string, obj: KubeObject, o: { signer: RecordSigner; namespace: string }): boolean {
  if (isVerifiedCopy(obj, o)) return true;
  if (kind === 'Deployment' || kind === 'StatefulSet' || kind === 'CronJob') return isDevEnabled(labelsOf(obj));
  if (kind === 'ReplicaSet') return controllerOf(obj)?.kind === 'Deployment';
  return false;
}

/**
 * The dev label on a pod template is devx's to set (on a workload in dev mode, or its copy); on any other template it
 * would put pods in dev mode without the workload passing the policy.
 */
export function templateLabelProblem(kind: string, obj: KubeObject, o: { signer: RecordSigner; namespace: string; oldObject?: KubeObject | undefined }): Decision<never> | undefined {
  const template = templateOf(kind, obj);
  if (!template || !isDevEnabled(labelsOf(template))) return undefined;
  if (templateLabelIsDevx(kind, obj, o)) return undefined;
  // Already there before this request (e.g. left by dev mode that is now ending): not written by this requester, and
  // leaving dev mode is never denied.
  const before = o.oldObject ? templateOf(kind, o.oldObject) : undefined;
  if (before && isDevEnabled(labelsOf(before))) return undefined;
  const name = obj.metadata?.name ?? '';
  const self = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(kind) ? `label the ${kind} itself: kubectl label ${kind.toLowerCase()} ${name} dev.x/enabled=true` : `label the workload that owns it instead`;
  return deny(`the pod template of ${kind} ${name} carries dev.x/enabled=true, which only devx sets on a workload in dev mode; remove it from the template and ${self}`, 'template-label');
}

function isSyncSecret(obj: KubeObject | undefined): boolean {
  const labels = labelsOf(obj);
  if (Object.entries(SYNC_SECRET_LABELS).some(([k, v]) => labels[k] === v)) return true;
  return Object.keys(annotationsOf(obj)).some((k) => k.startsWith('dev.x/'));
}

/** devx's sync Secrets (its labels, or any dev.x/ annotation) are written by devx alone. */
export function validateSecret(req: AdmissionRequest, self: boolean): Decision {
  const obj = req.object as KubeObject | undefined;
  const old = (req.oldObject ?? undefined) as KubeObject | undefined;
  if (self || (!isSyncSecret(obj) && !isSyncSecret(old))) return skip('not a devx Secret, or written by devx');
  return deny(
    `Secret ${obj?.metadata?.name ?? ''} carries devx's labels (app.kubernetes.io/managed-by=devx) or dev.x/ annotations: sync Secrets are made and changed by devx alone; remove those labels and annotations, or delete the Secret`,
    'devx-secret',
  );
}
