// The shell at the end of `kubectl devx up --sync` (like `okteto up`): opened once the first full sync is complete,
// in the dev pod the session has verified, while the sync keeps running in the same process. Exiting the shell ends
// the session with the shell's exit code. When the shell was cut off instead (the dev pod deleted or replaced, the dev
// container restarted, the API server restarted), a new shell opens in the dev pod there is then.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ShellChoice } from '../core/shell.ts';
import type { KubeConfig } from '../k8s/agent-api.ts';
import { readPod } from './cluster.ts';
import { readyToExec, type DevPod } from './dev-pod.ts';
import type { Pod } from './schemas.ts';
import { AgentError, EXIT } from './exit-codes.ts';
import { exitCodeOf, runShell, type TerminalPlace } from './exec-command.ts';
import type { HeldReporter } from './held-reporter.ts';
import type { TerminalIo } from './terminal.ts';
import type { WorkloadRef } from './workload-ref.ts';

export interface SessionShell {
  kc: KubeConfig;
  ref: WorkloadRef;
  shell: ShellChoice;
  io: TerminalIo;
  reporter: HeldReporter;
  /** The session's: aborted when the sync stops for any reason, which closes the shell. */
  signal: AbortSignal;
  /** The dev pod the session has verified now. */
  currentPod: () => DevPod | undefined;
}

/** Pause before opening a shell again after a lost connection, so a pod that is going away is not asked in a loop. */
const REOPEN_AFTER_MS = 2000;

const pause = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal }).catch(() => undefined);

async function readyPod(s: SessionShell): Promise<DevPod | undefined> {
  for (;;) {
    const pod = s.currentPod();
    if (s.signal.aborted) return undefined;
    if (pod !== undefined && readyToExec(pod)) return pod;
    await pause(250, s.signal);
  }
}

function targetRestarts(pod: Pod, target: string): number {
  return pod.status?.containerStatuses?.find((c) => c.name === target)?.restartCount ?? 0;
}

/**
 * Why the shell that just ended in `at.pod` was cut off rather than exited: the pod is being deleted or gone, or its
 * dev container restarted (the kubelet then reports the killed shell's 137 or 143 as if the shell had exited with it).
 * Undefined when the pod is as it was: the shell really exited.
 */
async function cutOff(at: TerminalPlace): Promise<string | undefined> {
  const now = await readPod(at.kc, at.ref.namespace, at.pod.name).catch(() => at.pod.pod);
  if (now === undefined || now.metadata.uid !== at.pod.uid) return `pod ${at.pod.name} is gone`;
  if (now.metadata.deletionTimestamp !== undefined) return `pod ${at.pod.name} is being deleted`;
  if (targetRestarts(now, at.pod.target) !== targetRestarts(at.pod.pod, at.pod.target)) return `container ${at.pod.target} restarted`;
  return undefined;
}

/** One shell in `pod`, with the reporter held while it has the screen: its exit code, or why it was cut off. A
 * refused exec that is not about RBAC counts as cut off (the pod may be going away). */
async function oneShell(s: SessionShell, at: TerminalPlace): Promise<number | string> {
  s.reporter.step(`opening ${s.shell.shell} in container ${at.pod.target} of pod ${at.pod.name}; the sync keeps running (exit the shell to stop it)`);
  s.reporter.hold();
  try {
    const end = await runShell(at, s.shell);
    if (end.kind === 'lost') return end.error ?? 'connection closed';
    const code = exitCodeOf(end, at);
    return (await cutOff(at)) ?? code;
  } catch (err) {
    if (err instanceof AgentError && err.exitCode !== EXIT.FAILURE) throw err;
    return (err as Error).message;
  } finally {
    s.reporter.release();
  }
}

/** Runs the shell (again after a lost connection) until it exits or the session stops; the session's result. */
export async function shellInSession(s: SessionShell): Promise<{ code: number; message?: string }> {
  for (;;) {
    const pod = await readyPod(s);
    if (pod === undefined) return { code: EXIT.OK };
    const at: TerminalPlace = { kc: s.kc, ref: s.ref, pod, io: s.io, signal: s.signal, note: (m) => s.reporter.noteNow(m) };
    const result = await oneShell(s, at);
    if (s.signal.aborted) return { code: EXIT.OK };
    if (typeof result === 'number') return { code: result, message: `the shell exited${result === 0 ? '' : ` with code ${result}`}: sync stopped` };
    s.reporter.note(`the shell in pod ${pod.name} was cut off (${result}); a new shell opens when the dev pod is ready`);
    await pause(REOPEN_AFTER_MS, s.signal);
  }
}
