// The workdir PersistentVolumeClaim as a Kubernetes object (DevPolicy `persistence`): owned by the workload
// (garbage-collected with it), labelled so devx can watch its own claims, and carrying `dev.x/volume-of` — a record
// the reconciler signs, because labels alone prove nothing (no webhook stands between a user and a claim's labels).
// One ReadWriteOnce claim per workload is enough: dev mode runs one pod, and the copies of a Job, a DaemonSet or a
// CronJob mount their source's claim in its place.
import type { KubeObject } from '../core/kube.ts';
import { annotationsOf } from '../core/kube.ts';
import { ANN_VOLUME_OF, LABEL_COPY, WORKDIR_VOLUME_LABELS } from '../core/names.ts';
import type { Records } from '../core/records.ts';
import { workdirClaimName } from '../core/secret-name.ts';
import type { Persistence } from '../schemas/policy.ts';
import type { OwnerReference } from './copies.ts';
import { refOf, type WorkloadKey } from './keys.ts';

export const WORKDIR_VOLUME_SELECTOR = Object.entries(WORKDIR_VOLUME_LABELS)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');

/** The claim, unsigned (the reconciler signs its record before creating it). */
export function workdirVolumeObject(key: WorkloadKey, persistence: Persistence, owner: OwnerReference): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: workdirClaimName(key.kind, key.name),
      namespace: key.namespace,
      labels: { ...WORKDIR_VOLUME_LABELS },
      annotations: { [ANN_VOLUME_OF]: refOf(key) },
      ownerReferences: [owner],
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Filesystem',
      resources: { requests: { storage: persistence.size } },
      ...(persistence.storageClassName === undefined ? {} : { storageClassName: persistence.storageClassName }),
    },
  };
}

/**
 * The workdir claim of a duplicate copy (`devx-workdir-deployment-<copy>`, the claim the copy's pod mounts): like the
 * workload's, naming the workload in `dev.x/volume-of` (so its events wake that workload's reconciliation) and the
 * copy in the label `dev.x/copy`.
 */
export function duplicateVolumeObject(key: WorkloadKey, copy: string, persistence: Persistence, owner: OwnerReference): KubeObject {
  const claim = workdirVolumeObject(key, persistence, owner);
  return { ...claim, metadata: { ...claim.metadata, name: workdirClaimName('Deployment', copy), labels: { ...WORKDIR_VOLUME_LABELS, [LABEL_COPY]: copy } } };
}

/**
 * Whether a claim is devx's workdir claim of this workload: its `dev.x/volume-of` names the workload and is among the
 * records whose signature verified (`verified`, from the reconciler). One of that name made by anyone else is not.
 */
export function isWorkdirVolumeOf(claim: KubeObject, key: WorkloadKey, verified: Records | undefined): boolean {
  const ref = annotationsOf(claim)[ANN_VOLUME_OF];
  return ref === refOf(key) && verified?.[ANN_VOLUME_OF] === ref;
}
