// Side effects admission decisions ask for, carried out after the answer: e.g. a scale request during dev mode is
// recorded on the workload as the replicas to restore. Failures are logged; the next reconcile repairs them.
import type { KubeConnection } from './kubeconfig.ts';
import type { SideEffect } from '../core/result.ts';
import { ANN_ORIGINAL_REPLICAS } from '../core/names.ts';
import { describeError, type Logger } from './logger.ts';
import { kubeCall } from './rest.ts';

const PLURAL: Record<string, string> = { Deployment: 'deployments', StatefulSet: 'statefulsets' };

export async function runEffect(kc: KubeConnection, effect: SideEffect): Promise<void> {
  const plural = PLURAL[effect.kind];
  if (!plural) return;
  await kubeCall(kc, {
    method: 'PATCH',
    path: `/apis/apps/v1/namespaces/${encodeURIComponent(effect.namespace)}/${plural}/${encodeURIComponent(effect.name)}`,
    contentType: 'application/merge-patch+json',
    body: { metadata: { annotations: { [ANN_ORIGINAL_REPLICAS]: String(effect.replicas) } } },
  });
}

export function runEffects(kc: KubeConnection, effects: SideEffect[], logger: Logger): void {
  for (const effect of effects) {
    runEffect(kc, effect).then(
      () => logger.info({ effect }, 'recorded'),
      (err: unknown) => logger.warn({ effect, ...describeError(err) }, 'could not record; the reconciler will retry'),
    );
  }
}
