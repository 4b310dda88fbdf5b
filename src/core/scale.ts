// The scale subresource (kubectl scale, HPA) of a Deployment or StatefulSet in dev mode: the pods stay at one, and
// the requested count becomes the one restored when dev mode ends. A Scale object carries no labels or annotations,
// so whether the workload is in dev mode comes from the ClusterView, and the new original count is recorded by the
// server after answering (a side effect, skipped on dry-run).
import type { AdmissionRequest } from '../schemas/admission.ts';
import type { AdmissionContext } from './context.ts';
import type { KubeObject } from './kube.ts';
import { skip, type Decision } from './result.ts';

const SCALABLE: Record<string, string> = { deployments: 'Deployment', statefulsets: 'StatefulSet' };

function pinnable(req: AdmissionRequest, ctx: AdmissionContext): { kind: string; namespace: string; name: string } | string {
  const kind = SCALABLE[req.resource.resource];
  if (!kind || req.operation !== 'UPDATE' || !req.object) return 'scale of a kind devx does not pin';
  const target = { kind, namespace: req.namespace ?? '', name: req.name ?? '' };
  const inDevMode = ctx.view.isInDevMode?.(kind, target.namespace, target.name);
  if (inDevMode === undefined) return 'dev mode unknown for scale target';
  return inDevMode ? target : 'not in dev mode';
}

export function admitScale(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  const target = pinnable(req, ctx);
  if (typeof target === 'string') return skip(target);
  const { kind, namespace, name } = target;
  const scale = structuredClone(req.object) as KubeObject & { spec?: { replicas?: number } };
  const requested = scale.spec?.replicas ?? 1;
  if (requested === 1) return skip('scale to 1 is what dev mode wants');
  scale.spec = { ...(scale.spec ?? {}), replicas: 1 };
  return {
    kind: 'mutate',
    object: scale,
    warnings: [`dev mode: ${kind} ${name} stays at 1 replica; ${requested} will be restored when dev mode ends`],
    reason: `scale pinned to 1 (requested ${requested})`,
    effects: req.dryRun ? [] : [{ type: 'record-original-replicas', kind, namespace, name, replicas: requested }],
  };
}
