// `kubectl devx up` / `down`: the dev label on or off (plus dev.x/image), then wait until it took effect and say what
// admission did. Convenience only: `kubectl label` does the same, the webhook does the work.
import { ANN_DUPLICATE_REQUEST, ANN_DUPLICATES, ANN_IMAGE, ANN_MODE, LABEL_ENABLED, isDevEnabled } from '../core/names.ts';
import { duplicateName } from '../core/duplicate.ts';
import { callerName, duplicateUsers, wantsDuplicate } from './duplicate-target.ts';
import type { KubeObject } from '../core/kube.ts';
import { hasDevState } from '../core/workload.ts';
import { err, ok } from '../core/result.ts';
import { KubeApiError, kubeMergePatch, type AgentKube } from '../k8s/agent-api.ts';
import { callFailure, listDevPods, readWorkload, resolveWorkload, waitForDevPod, waitUntil, workloadPermission, type FoundWorkload } from './cluster.ts';
import { pickDevPod } from './dev-pod.ts';
import { AgentError, EXIT, type ExitCode } from './exit-codes.ts';
import type { Reporter } from './reporter.ts';
import { objectPath, refString, type WorkloadArg, type WorkloadRef } from './workload-ref.ts';

export interface UpDownCommand {
  /** `up --duplicate`: a copy of one's own (dev.x/mode=duplicate); a workload already in duplicate mode implies it. */
  duplicate?: boolean;
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

// ---- duplicate mode ---------------------------------------------------------------------------------------------

/** Labels the workload in duplicate mode and asks for the caller's copy in one request (admission names the copy
 * after the request's user); nothing when the caller has one already. */
async function join(cmd: UpDownCommand & { image?: string }, found: FoundWorkload, user: string): Promise<{ already: boolean; warnings: string[] }> {
  const sameImage = cmd.image === undefined || found.object.metadata.annotations?.[ANN_IMAGE] === cmd.image;
  const has = isDevEnabled(found.object.metadata.labels) && duplicateUsers(found.object).includes(user);
  if (has && sameImage) return { already: true, warnings: [] };
  const annotations = { [ANN_MODE]: 'duplicate', [ANN_DUPLICATE_REQUEST]: 'join', ...(cmd.image ? { [ANN_IMAGE]: cmd.image } : {}) };
  const warnings = await patch(cmd, found, { metadata: { labels: { [LABEL_ENABLED]: 'true' }, annotations } });
  return { already: has, warnings };
}

/** `up` in duplicate mode: the caller's copy, and its dev pod. */
async function upDuplicate(cmd: UpDownCommand & { image?: string }, found: FoundWorkload, started: number): Promise<{ exitCode: ExitCode; found: FoundWorkload }> {
  const user = await callerName(cmd.kube.kubeConfig);
  const { already, warnings } = await join(cmd, found, user);
  if (!duplicateUsers(await readWorkload(cmd.kube.kubeConfig, found.ref)).includes(user)) {
    // Admission names copies after the request's user, except devx's own: a devx-webhook running with your credentials.
    throw new AgentError(EXIT.FAILURE, `${refString(found.ref)} is in duplicate mode but devx gave you (${user}) no copy: devx gives none to its own user; run devx-webhook with credentials of its own`);
  }
  const target = { ...found.ref, copy: duplicateName(found.ref.name, user) };
  const pod = await waitForDevPod(cmd.kube.kubeConfig, target, { ...cmd, intervalMs: 250, ready: (p) => !p.terminating && (cmd.image === undefined || p.image === cmd.image) });
  const seconds = (Date.now() - started) / 1000;
  const ref = refString(found.ref);
  report(
    cmd,
    { workload: ref, namespace: found.ref.namespace, devMode: true, mode: 'duplicate', copy: target.copy, alreadyOn: already, pod: pod.name, phase: pod.phase, image: pod.image ?? null, warnings, seconds },
    `${ref} keeps serving; your copy ${target.copy} ${already ? 'was already' : 'is'} in dev mode: pod ${pod.name} (${pod.phase}), image ${pod.image ?? '?'} [${seconds.toFixed(1)} s]`,
  );
  return { exitCode: EXIT.OK, found };
}

/** Removes the label when nobody has a copy any more, unless the workload changed since it was read (someone joined). */
async function unlabelIfUnused(cmd: UpDownCommand, ref: WorkloadRef): Promise<boolean> {
  const w = await readWorkload(cmd.kube.kubeConfig, ref);
  if (!isDevEnabled(w.metadata.labels) || duplicateUsers(w).length > 0) return false;
  const body = { metadata: { labels: { [LABEL_ENABLED]: null }, resourceVersion: w.metadata.resourceVersion } };
  try {
    await kubeMergePatch(cmd.kube.kubeConfig, objectPath(ref.kind, ref.namespace, ref.name), body);
    return true;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 409) return false; // someone joined meanwhile: their copy stays
    throw await callFailure(cmd.kube.kubeConfig, err, `removing the dev label of ${refString(ref)}`, workloadPermission(ref, 'patch'));
  }
}

/** `down` in duplicate mode: the caller's copy goes; the label too once no copy is left. */
async function downDuplicate(cmd: UpDownCommand, found: FoundWorkload, started: number): Promise<ExitCode> {
  const user = await callerName(cmd.kube.kubeConfig);
  const { ref } = found;
  const target = { ...ref, copy: duplicateName(ref.name, user) };
  const had = duplicateUsers(found.object).includes(user);
  const warnings = had ? await patch(cmd, found, { metadata: { annotations: { [ANN_DUPLICATE_REQUEST]: 'leave' } } }) : [];
  const unlabelled = await unlabelIfUnused(cmd, ref);
  await waitUntil<null>({
    ...cmd,
    intervalMs: 250,
    probe: async () => {
      const pod = pickDevPod(await listDevPods(cmd.kube.kubeConfig, ref.namespace), target);
      return pod ? err(`dev pod ${pod.name} of your copy ${target.copy} to go away (is devx-webhook running?)`) : ok(null);
    },
  });
  const seconds = (Date.now() - started) / 1000;
  const rest = unlabelled ? '; no copy is left, so dev mode is off' : '';
  const line = had ? `your copy ${target.copy} of ${refString(ref)} is deleted${rest} [${seconds.toFixed(1)} s]` : `you had no copy of ${refString(ref)}: nothing to do${rest}`;
  report(cmd, { workload: refString(ref), namespace: ref.namespace, mode: 'duplicate', copy: target.copy, hadCopy: had, devMode: !unlabelled, warnings, seconds }, line);
  return EXIT.OK;
}

// ---- up, down -----------------------------------------------------------------------------------------------------

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
  if (cmd.duplicate === true || wantsDuplicate(found.object)) return upDuplicate(cmd, found, started);
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
  if (wasOn && found.object.metadata.annotations?.[ANN_DUPLICATES] !== undefined) return downDuplicate(cmd, found, started);
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
