// The scale subresource (kubectl scale, HPA) of a Deployment or StatefulSet in dev mode: the requested count becomes
// the one restored when dev mode ends, and the pods go back to one. A Scale object carries no labels or annotations,
// so whether the workload is in dev mode comes from the ClusterView; the answer only warns.
import type { AdmissionRequest } from '../schemas/admission.ts';
import type { AdmissionContext } from './context.ts';
import { KINDS, kindOfPlural } from './kinds.ts';
import type { KubeObject } from './kube.ts';
import { err, ok, skip, type Decision, type Result } from './result.ts';

/** Deployment or StatefulSet, for `deployments`/`statefulsets`. */
function scalableKind(plural: string): string | undefined {
  const kind = kindOfPlural(plural);
  return kind && KINDS[kind].scalable ? kind : undefined;
}

/** The workload a scale request pins, or why it pins none. */
function pinnable(req: AdmissionRequest, ctx: AdmissionContext): Result<{ kind: string; namespace: string; name: string }> {
  const kind = scalableKind(req.resource.resource);
  if (!kind || req.operation !== 'UPDATE' || !req.object) return err('scale of a kind devx does not pin');
  const target = { kind, namespace: req.namespace ?? '', name: req.name ?? '' };
  const inDevMode = ctx.view.isInDevMode?.(kind, target.namespace, target.name);
  if (inDevMode === undefined) return err('dev mode unknown for scale target');
  return inDevMode ? ok(target) : err('not in dev mode');
}

/**
 * A scale request never changes anything here: a review that changed the workload as a side effect could be forged
 * by anyone who reaches devx's port. The Scale passes as asked, with a warning, and the reconciler — reading the
 * workload from the API server — records the new count as the one to restore and sets the replicas back to 1.
 */
export function admitScale(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  const target = pinnable(req, ctx);
  if (!target.ok) return skip(target.error);
  const { kind, name } = target.value;
  const requested = (req.object as KubeObject & { spec?: { replicas?: number } }).spec?.replicas ?? 1;
  if (requested === 1) return skip('scale to 1 is what dev mode wants');
  return {
    kind: 'mutate',
    object: req.object as KubeObject,
    warnings: [`dev mode: ${kind} ${name} goes back to 1 replica; ${requested} will be restored when dev mode ends`],
    reason: `scale during dev mode (requested ${requested}); the reconciler records it`,
  };
}
