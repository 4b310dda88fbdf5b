// `kubectl devx up` / `down`: the dev label on or off (plus dev.x/image), then wait until it took effect and say what
// admission did. Convenience only: `kubectl label` does the same, the webhook does the work.
import { ANN_IMAGE, LABEL_ENABLED, isDevEnabled } from '../core/names.ts';
import type { KubeObject } from '../core/kube.ts';
import { hasDevState } from '../core/workload.ts';
import { err, ok } from '../core/result.ts';
import { kubeMergePatch, type AgentKube } from '../k8s/agent-api.ts';
import { callFailure, listDevPods, readWorkload, resolveWorkload, waitForDevPod, waitUntil, workloadPermission, type FoundWorkload } from './cluster.ts';
import { pickDevPod } from './dev-pod.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import type { Reporter } from './reporter.ts';
import { objectPath, refString, type WorkloadArg } from './workload-ref.ts';

export interface UpDownCommand {
  kube: AgentKube;
  workload: WorkloadArg;
  namespace: string;
  timeoutMs: number;
  reporter: Reporter;
  signal: AbortSignal;
  /** Print the result as one JSON object on stdout. */
  json: boolean;
  out: NodeJS.WritableStream;
}

/** Patches the workload; the admission warnings, also shown as notes unless the output is JSON. */
async function patch(cmd: UpDownCommand, found: FoundWorkload, body: unknown): Promise<string[]> {
  const { ref } = found;
  let warnings: string[];
  try {
    warnings = (await kubeMergePatch(cmd.kube.kubeConfig, objectPath(ref.kind, ref.namespace, ref.name), body)).warnings;
  } catch (err) {
    throw await callFailure(cmd.kube.kubeConfig, err, `changing the dev label of ${refString(ref)}`, workloadPermission(ref, 'patch'));
  }
  if (!cmd.json) for (const w of warnings) cmd.reporter.note(w);
  return warnings;
}

function report(cmd: UpDownCommand, result: Record<string, unknown>, line: string): void {
  if (cmd.json) cmd.out.write(`${JSON.stringify(result)}\n`);
  else cmd.reporter.step(line);
}

/** Labels the workload (and sets dev.x/image) unless it already is so; the admission warnings. */
async function label(cmd: UpDownCommand & { image?: string }, found: FoundWorkload): Promise<{ already: boolean; warnings: string[] }> {
  const sameImage = cmd.image === undefined || found.object.metadata.annotations?.[ANN_IMAGE] === cmd.image;
  if (isDevEnabled(found.object.metadata.labels) && sameImage) return { already: true, warnings: [] };
  const annotations = cmd.image ? { annotations: { [ANN_IMAGE]: cmd.image } } : {};
  const warnings = await patch(cmd, found, { metadata: { labels: { [LABEL_ENABLED]: 'true' }, ...annotations } });
  return { already: false, warnings };
}

/** `check`: what must hold before the label is set (`up --sync`: the shell and ports it will use), so that a bad
 * setting fails with nothing changed. */
export interface UpCommand extends UpDownCommand {
  image?: string;
  check?: (found: FoundWorkload) => Promise<void>;
}

/** Labels the workload (and sets dev.x/image), then waits for its injected dev pod. */
export async function runUp(cmd: UpCommand): Promise<{ exitCode: ExitCode; found: FoundWorkload }> {
  const started = Date.now();
  const found = await resolveWorkload(cmd.kube.kubeConfig, cmd.workload, cmd.namespace);
  await cmd.check?.(found);
  const { already, warnings } = await label(cmd, found);
  const pod = await waitForDevPod(cmd.kube.kubeConfig, found.ref, { ...cmd, intervalMs: 250, ready: (p) => !p.terminating && (cmd.image === undefined || p.image === cmd.image) });
  const seconds = (Date.now() - started) / 1000;
  const ref = refString(found.ref);
  report(
    cmd,
    { workload: ref, namespace: found.ref.namespace, devMode: true, alreadyOn: already, pod: pod.name, phase: pod.phase, image: pod.image ?? null, warnings, seconds },
    `${ref} ${already ? 'was already' : 'is'} in dev mode: pod ${pod.name} (${pod.phase}), image ${pod.image ?? '?'} [${seconds.toFixed(1)} s]`,
  );
  return { exitCode: EXIT.OK, found };
}

/**
 * Kinds whose dev pod belongs to an object devx made (a copy, a dev Job, a recreated pod): once dev mode is off that
 * pod goes with it, and `down` waits for that. A Deployment's or StatefulSet's dev pod is replaced by the workload's
 * own rollout instead, which takes as long as the new pods take to become ready: `down` reports it and returns.
 */
const DEV_POD_GOES_WITH_DEV_MODE = new Set(['Job', 'CronJob', 'DaemonSet', 'Pod']);

/** Removes the label, then waits until the workload is restored (and, where devx owns it, its dev pod gone). */
export async function runDown(cmd: UpDownCommand): Promise<ExitCode> {
  const started = Date.now();
  const found = await resolveWorkload(cmd.kube.kubeConfig, cmd.workload, cmd.namespace);
  const { ref } = found;
  const wasOn = isDevEnabled(found.object.metadata.labels);
  const warnings = wasOn ? await patch(cmd, found, { metadata: { labels: { [LABEL_ENABLED]: null } } }) : [];
  const leftover = await waitUntil<string | null>({
    ...cmd,
    intervalMs: 250,
    probe: async () => {
      const w = await readWorkload(cmd.kube.kubeConfig, ref);
      if (hasDevState(ref.kind, w as unknown as KubeObject)) return err(`devx to restore ${refString(ref)} (is devx-webhook running?)`);
      const pod = pickDevPod(await listDevPods(cmd.kube.kubeConfig, ref.namespace), ref);
      if (pod && DEV_POD_GOES_WITH_DEV_MODE.has(ref.kind)) return err(`dev pod ${pod.name} to go away`);
      return ok(pod?.name ?? null);
    },
  });
  const seconds = (Date.now() - started) / 1000;
  const podNote = leftover ? `; dev pod ${leftover} is replaced as the rollout proceeds` : '; no dev pod left';
  report(
    cmd,
    { workload: refString(ref), namespace: ref.namespace, devMode: false, wasOn, devPodLeft: leftover, warnings, seconds },
    wasOn ? `${refString(ref)} left dev mode: restored${podNote} [${seconds.toFixed(1)} s]` : `${refString(ref)} was not in dev mode: nothing to do`,
  );
  return EXIT.OK;
}
