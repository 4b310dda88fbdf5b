// The sync Secret as a Kubernetes object (DESIGN §5): its data from src/sync, owned by the workload, labelled so
// devx can watch its own Secrets and nobody else's, and annotated with the workload it belongs to.
import type { KubeObject } from '../core/kube.ts';
import { annotationsOf } from '../core/kube.ts';
import { ANN_WORKLOAD, LABEL_COPY, SYNC_SECRET_LABELS } from '../core/names.ts';
import { readSyncSecretData, syncSecretName, type SyncSecretData } from '../sync/secret.ts';
import type { OwnerReference } from './copies.ts';
import { refOf, type WorkloadKey } from './keys.ts';

export { SYNC_SECRET_LABELS };

export const SYNC_SECRET_SELECTOR = Object.entries(SYNC_SECRET_LABELS)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');

export function syncSecretObject(key: WorkloadKey, data: SyncSecretData, owners: OwnerReference[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: syncSecretName(key.kind, key.name),
      namespace: key.namespace,
      labels: { ...SYNC_SECRET_LABELS },
      annotations: { [ANN_WORKLOAD]: refOf(key) },
      ...(owners.length > 0 ? { ownerReferences: owners } : {}),
    },
    stringData: data,
  };
}

/**
 * The sync Secret of a duplicate copy (`devx-sync-deployment-<copy>`): the copy's own identities. It names the
 * workload it was copied from in `dev.x/workload` (so its events wake that workload's reconciliation) and the copy in
 * the label `dev.x/copy`; owned by the workload, like the copy.
 */
export function duplicateSecretObject(key: WorkloadKey, copy: string, data: SyncSecretData, owners: OwnerReference[]): KubeObject {
  const secret = syncSecretObject(key, data, owners);
  const metadata = { ...secret.metadata, name: syncSecretName('Deployment', copy), labels: { ...SYNC_SECRET_LABELS, [LABEL_COPY]: copy } };
  return { ...secret, metadata };
}

/** Whether a Secret is devx's sync Secret of this workload (one of the same name made by someone else is not). */
export function isSyncSecretOf(secret: KubeObject, key: WorkloadKey): boolean {
  return annotationsOf(secret)[ANN_WORKLOAD] === refOf(key) && secret.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'devx';
}

/** The Secret's `data`, base64-decoded, checked like the agent checks it. */
export function secretDataUsable(secret: KubeObject): boolean {
  const raw = (secret.data ?? {}) as Record<string, string>;
  const decoded = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  return readSyncSecretData(decoded).ok;
}
