// The scale subresource (kubectl scale, HPA) of a Deployment or StatefulSet in dev mode: the pods stay at one, and
// the requested count becomes the one restored when dev mode ends. A Scale object carries no labels or annotations,
// so whether the workload is in dev mode comes from the ClusterView, and the new original count is recorded by the
// server after answering (a side effect, skipped on dry-run).
import type { AdmissionRequest } from '../schemas/admission.ts';
import type { AdmissionContext } from './context.ts';
import type { KubeObject } from './kube.ts';
import { skip, type Decision } from './result.ts';

const SCALABLE: Record<string, string> = { deployments: 'Deployment', statefulsets: 'StatefulSet' };

export function admitScale(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  const kind = SCALABLE[req.resource.resource];
  if (!kind || req.operation !== 'UPDATE' || !req.object) return skip('scale of a kind devx does not pin');
  const namespace = req.namespace ?? '';
  const name = req.name ?? '';
  const inDevMode = ctx.view.isInDevMode?.(kind, namespace, name);
  if (inDevMode !== true) return skip(inDevMode === undefined ? 'dev mode unknown for scale target' : 'not in dev mode');
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
