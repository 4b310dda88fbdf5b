// Which pod is the dev pod of a workload, and what the agent is waiting for when there is none it can sync with.
// Pure: a list of pods in, a choice and a sentence out. A pod's own claim (`dev.x/workload`, `dev.x/status`) only
// makes it a candidate; `kubectl devx sync` verifies a candidate before syncing with it (verify-dev-pod.ts).
import { ANN_STATUS, ANN_WORKLOAD, SIDECAR_NAME, VOLUME_WORKDIR } from '../core/names.ts';
import { InjectionStatusSchema, type Container, type Pod } from './schemas.ts';
import { rejectionsText, type Rejection } from './verify-dev-pod.ts';
import { claimOf, refText, type WorkloadRef } from './workload-ref.ts';

/** What the agent knows about a dev pod. */
export interface DevPod {
  name: string;
  uid: string;
  phase: string;
  terminating: boolean;
  /** The devx-sync container is running (phase Running alone is not enough: it may be restarting). */
  sidecarRunning: boolean;
  /** Restarts of the devx-sync container: a change means syncthing in the pod started afresh. */
  sidecarRestarts: number;
  /** The dev container (dev.x/status `target`) and the directory the synced volume is mounted at in it. */
  target: string;
  /** The dev container is running (a terminal can be opened in it). */
  targetRunning: boolean;
  workdir: string | undefined;
  image: string | undefined;
  /** The injected devx-sync container as the API server stored it. */
  sidecar: Container | undefined;
  pod: Pod;
}

/** Whether a pod was injected by devx for `ref` (a bare dev-mode pod is its own workload). */
export function belongsTo(pod: Pod, ref: WorkloadRef): boolean {
  const anns = pod.metadata.annotations ?? {};
  if (anns[ANN_STATUS] === undefined) return false;
  const owner = anns[ANN_WORKLOAD];
  if (owner !== undefined) return owner === claimOf(ref);
  return ref.kind === 'Pod' && pod.metadata.name === ref.name;
}

function sidecarOf(pod: Pod): Container | undefined {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === SIDECAR_NAME);
}

function containerStatus(pod: Pod, name: string): { running: boolean; restarts: number } {
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  const s = statuses.find((c) => c.name === name);
  return { running: s?.state?.running !== undefined, restarts: s?.restartCount ?? 0 };
}

function injection(pod: Pod): { target: string; image: string } | undefined {
  const raw = pod.metadata.annotations?.[ANN_STATUS];
  if (raw === undefined) return undefined;
  try {
    const parsed = InjectionStatusSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The dev container and where the synced volume is mounted in it. */
function targetOf(pod: Pod, name: string | undefined): { target: string; workdir: string | undefined; image: string | undefined } {
  const target = pod.spec.containers.find((c) => c.name === name) ?? pod.spec.containers[0];
  if (target === undefined) return { target: '', workdir: undefined, image: undefined };
  const mount = target.volumeMounts?.find((m) => m.name === VOLUME_WORKDIR);
  return { target: target.name, workdir: mount?.mountPath ?? target.workingDir, image: target.image };
}

/** The dev pod's facts, read from the pod object. */
export function describeDevPod(pod: Pod): DevPod {
  const status = injection(pod);
  const target = targetOf(pod, status?.target);
  const side = containerStatus(pod, SIDECAR_NAME);
  return {
    name: pod.metadata.name,
    uid: pod.metadata.uid ?? '',
    phase: pod.status?.phase ?? 'Pending',
    terminating: pod.metadata.deletionTimestamp !== undefined,
    sidecarRunning: side.running,
    sidecarRestarts: side.restarts,
    ...target,
    targetRunning: containerStatus(pod, target.target).running,
    image: status?.image ?? target.image,
    sidecar: sidecarOf(pod),
    pod,
  };
}

function newestFirst(a: Pod, b: Pod): number {
  return (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '');
}

/** The pods among `pods` that claim to be dev pods of `ref`, best first: not terminating before terminating, then the
 * newest. A claim is not a proof: see verify-dev-pod.ts. */
export function devPodCandidates(pods: readonly Pod[], ref: WorkloadRef): Pod[] {
  const mine = pods.filter((p) => belongsTo(p, ref)).sort(newestFirst);
  return [...mine.filter((p) => p.metadata.deletionTimestamp === undefined), ...mine.filter((p) => p.metadata.deletionTimestamp !== undefined)];
}

/** The dev pod of `ref` among `pods` by its claim alone (for display: `status`, `up`, `down`): the best candidate. */
export function pickDevPod(pods: readonly Pod[], ref: WorkloadRef): DevPod | undefined {
  const [chosen] = devPodCandidates(pods, ref);
  return chosen === undefined ? undefined : describeDevPod(chosen);
}

/** Whether a port-forward to the pod's syncthing can work now. */
export function readyToSync(pod: DevPod): boolean {
  return !pod.terminating && pod.phase === 'Running' && pod.sidecarRunning;
}

/** Whether a terminal can be opened in the dev container now. */
export function readyToExec(pod: DevPod): boolean {
  return !pod.terminating && pod.phase === 'Running' && pod.targetRunning;
}

function waitingContainer(pod: Pod): string | undefined {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const s of statuses) {
    const w = s.state?.waiting;
    if (w?.reason !== undefined) return `container ${s.name}: ${w.reason}${w.message ? ` (${w.message})` : ''}`;
  }
  return undefined;
}

function waitingReason(pod: Pod): string | undefined {
  const container = waitingContainer(pod);
  if (container) return container;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status !== 'True');
  if (unscheduled) return `not scheduled${unscheduled.message ? `: ${unscheduled.message}` : ' yet'}`;
  if (pod.spec.nodeName === undefined) return 'not scheduled yet'; // no scheduler has looked at it at all
  return pod.status?.message;
}

/** One sentence for the spinner: what the agent waits for before it can sync (`forExec`: open a terminal);
 * `rejected`: the pods that claim to be the dev pod but are not (named with the reason while there is no other). */
export function waitingFor(pod: DevPod | undefined, ref: WorkloadRef, rejected: readonly Rejection[] = [], forExec = false): string {
  if (pod === undefined && rejected.length > 0) {
    return `the dev pod of ${refText(ref)}; not syncing with ${rejected.length === 1 ? 'a pod that is' : `${rejected.length} pods that are`} not devx's dev pod of it: ${rejectionsText(rejected)}`;
  }
  if (pod === undefined) return `the dev pod of ${refText(ref)} (devx injects it when the workload's pod is created)`;
  if (pod.terminating) return `pod ${pod.name} to finish terminating and its replacement to start`;
  return podToRun(pod, forExec ? pod.target : SIDECAR_NAME);
}

function podToRun(pod: DevPod, container: string): string {
  const why = waitingReason(pod.pod);
  if (pod.phase !== 'Running') return `pod ${pod.name} to run (${pod.phase}${why ? `: ${why}` : ''})`;
  return `container ${container} of pod ${pod.name} to run${why ? ` (${why})` : ''}`;
}
