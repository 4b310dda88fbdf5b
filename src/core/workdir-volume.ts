// The dev workdir's volume (`devx-workdir`), pure: an emptyDir, or — when the DevPolicy asks for `persistence` — the
// workload's own PersistentVolumeClaim, which the reconciler creates and deletes (src/reconciler/plan.ts). Both the
// dev container and the sidecar mount it; a claim keeps synced files, installed dependencies and build caches across
// pod restarts.
import type { DevPolicySpec } from '../schemas/policy.ts';
import type { Pod, Volume } from './kube.ts';
import { SIDECAR_NAME, VOLUME_WORKDIR } from './names.ts';
import { workdirClaimName } from './secret-name.ts';
import { parseWorkloadRef } from './workload-ref.ts';

/**
 * The workload's claim, when the policy asks for persistence; undefined for an emptyDir. A bare pod keeps the
 * emptyDir: it lives exactly as long as the pod, and a container restart inside the pod keeps an emptyDir already.
 * Copies (a Job's, a DaemonSet's, a CronJob's dev Job) name their source workload, so they mount its claim.
 */
export function workdirClaimOf(spec: DevPolicySpec, workload: string): string | undefined {
  const ref = parseWorkloadRef(workload);
  if (!spec.persistence || !ref || ref.kind === 'Pod') return undefined;
  return workdirClaimName(ref.kind, ref.name);
}

export function workdirVolume(claim: string | undefined): Volume {
  return claim === undefined ? { name: VOLUME_WORKDIR, emptyDir: {} } : { name: VOLUME_WORKDIR, persistentVolumeClaim: { claimName: claim } };
}

/** Volume sources whose data live and die with the pod: an fsGroup on the pod changes nothing of theirs that lasts. */
const POD_SCOPED_SOURCES = new Set(['name', 'emptyDir', 'configMap', 'secret', 'projected', 'downwardAPI', 'ephemeral', 'image']);

function outlivesPod(v: Volume): boolean {
  return Object.keys(v).some((k) => !POD_SCOPED_SOURCES.has(k));
}

function fsGroupOf(pod: Pod): unknown {
  const sc = pod.spec.securityContext;
  return sc !== null && typeof sc === 'object' ? (sc as Record<string, unknown>).fsGroup : undefined;
}

/**
 * Makes the claim writable for the sidecar, whose user is not root (Pod Security restricted): many volumes (a cloud
 * disk's fresh filesystem) have a root-owned root directory, which only `fsGroup` opens to another user — the kubelet
 * then gives the volume that group, group-writable. A pod with an fsGroup of its own keeps it (every container, the
 * sidecar included, is in that group). Without one, devx sets the sidecar's group, with `OnRootMismatch` so a restart
 * does not walk a large workdir again — unless the pod has other volumes that outlive it (claims, host paths, network
 * storage): Kubernetes applies fsGroup to every volume of the pod, and devx does not re-own a user's data. Then it
 * returns a warning instead. Mutates `pod.spec` (the copy being injected).
 */
function openClaimToSidecar(pod: Pod, sidecarGid: number): string | undefined {
  if (fsGroupOf(pod) !== undefined) return undefined;
  const others = (pod.spec.volumes ?? []).filter((v) => v.name !== VOLUME_WORKDIR && outlivesPod(v)).map((v) => v.name);
  if (others.length > 0) {
    return (
      `dev mode: the pod sets no fsGroup and has other lasting volumes (${others.join(', ')}), which devx does not re-own; ` +
      `if the storage gives ${VOLUME_WORKDIR} a root-owned directory, container ${SIDECAR_NAME} (gid ${sidecarGid}) cannot write it: ` +
      `set spec.securityContext.fsGroup in the workload's pod template`
    );
  }
  const sc = pod.spec.securityContext;
  const current = sc !== null && typeof sc === 'object' ? (sc as Record<string, unknown>) : {};
  pod.spec.securityContext = { ...current, fsGroup: sidecarGid, fsGroupChangePolicy: 'OnRootMismatch' };
  return undefined;
}

/**
 * The workdir of a pod being injected: the workload's claim (persistence), opened to the sidecar, or an emptyDir
 * (`claim` undefined). Warnings say where the workdir lives, and when devx could not make the claim writable.
 */
export function prepareWorkdir(pod: Pod, o: { spec: DevPolicySpec; workload: string; sidecarGid: number }): { claim?: string; warnings: string[] } {
  const claim = workdirClaimOf(o.spec, o.workload);
  if (claim === undefined) return { warnings: [] };
  const access = openClaimToSidecar(pod, o.sidecarGid);
  return { claim, warnings: [`dev mode: workdir on PersistentVolumeClaim ${claim}, kept across pod restarts`, ...(access ? [access] : [])] };
}
