// Who owns the synced files in the pod. devx runs the sidecar as the dev container's user when the pod spec fixes a
// non-root one; a user that only the dev image sets (USER in its Dockerfile) cannot be known at admission, and then
// the sidecar runs as the syncthing image's uid while the dev container runs as another: files synced in are then
// read-only for the dev container. The kubelet reports the uid each container really runs as
// (status.containerStatuses[].user); from it the agent says so, with the one command that fixes it. Pure.
import type { DevPod } from './dev-pod.ts';
import { sidecarUidOf } from './pod-side.ts';
import type { WorkloadRef } from './workload-ref.ts';

export interface RunningUsers {
  /** The dev container's uid and gid as the kubelet reports them; undefined while not known (not started, older node). */
  dev?: { uid: number; gid: number };
  /** The sidecar's runAsUser in the pod spec. */
  sidecarUid?: number;
  /** The dev container's name. */
  target: string;
}

/** `spec.template` of each kind, as a strategic-merge patch nests it (a bare pod's securityContext cannot change). */
function templatePatch(kind: WorkloadRef['kind'], podSpec: Record<string, unknown>): Record<string, unknown> | undefined {
  const template = { template: { spec: podSpec } };
  if (kind === 'Pod') return undefined;
  if (kind === 'CronJob') return { spec: { jobTemplate: { spec: template } } };
  return { spec: template };
}

/** A sentence and the command to run when the dev container's user cannot write what the sidecar syncs in; else undefined. */
export function ownershipAdvice(users: RunningUsers, ref: WorkloadRef): string | undefined {
  const { dev, sidecarUid } = users;
  if (!dev || sidecarUid === undefined || dev.uid === 0 || dev.uid === sidecarUid) return undefined;
  const why = `the dev container ${users.target} runs as uid ${dev.uid} (its image's user) and the sidecar as uid ${sidecarUid}: files synced into the pod are read-only for the dev container`;
  const patch = templatePatch(ref.kind, { containers: [{ name: users.target, securityContext: { runAsUser: dev.uid, runAsGroup: dev.gid } }] });
  if (!patch) return `${why}; create the pod again with securityContext.runAsUser: ${dev.uid} and runAsGroup: ${dev.gid} on container ${users.target}, and devx runs the sidecar as that user`;
  const kind = ref.kind.toLowerCase();
  return `${why}; to run both as uid ${dev.uid}, fix the user in the workload (devx then runs the sidecar as it): kubectl patch ${kind}/${ref.name} -n ${ref.namespace} -p '${JSON.stringify(patch)}'`;
}

/** The users of a dev pod, from its spec and its status. */
export function runningUsers(pod: DevPod): RunningUsers {
  const status = (pod.pod.status?.containerStatuses ?? []).find((s) => s.name === pod.target);
  const linux = status?.user?.linux;
  const sidecarUid = sidecarUidOf(pod.sidecar);
  return { target: pod.target, ...(linux ? { dev: { uid: linux.uid, gid: linux.gid } } : {}), ...(sidecarUid === undefined ? {} : { sidecarUid }) };
}
