// `kubectl devx exec WORKLOAD [-- CMD…]`: a shell (or CMD) in the dev container of WORKLOAD, in a terminal when this
// one is (terminal.ts). Only in a pod the agent has verified as the workload's dev pod (verify-dev-pod.ts), the same
// check the sync makes before it hands over files: a decoy that claims to be the dev pod gets no keystrokes. Also the
// shell of `up --sync` (session-terminal.ts) runs through runShell here.
import { DEFAULT_SHELL, type ShellChoice } from '../core/shell.ts';
import { ExecRefusedError, missingProgram, type ExecEnd } from '../k8s/exec.ts';
import type { AgentKube, KubeConfig } from '../k8s/agent-api.ts';
import { deniedOf, forbiddenFor, requireDevMode, resolveWorkload, waitForVerifiedDevPod } from './cluster.ts';
import { syncTarget } from './duplicate-target.ts';
import { shellOf } from './dev-settings.ts';
import { readyToExec, type DevPod } from './dev-pod.ts';
import { AgentError, EXIT } from './exit-codes.ts';
import { execPermissions, forbiddenMessage } from './rbac.ts';
import type { Reporter } from './reporter.ts';
import { runInTerminal, type TerminalIo } from './terminal.ts';
import { ownerChainPermissions } from './verify-dev-pod.ts';
import { refString, type WorkloadArg, type WorkloadRef } from './workload-ref.ts';

export interface ExecCommand {
  kube: AgentKube;
  workload: WorkloadArg;
  namespace: string;
  /** The command after `--`; undefined: the workload's shell. */
  command?: string[];
  timeoutMs: number;
  reporter: Reporter;
  signal: AbortSignal;
  io: TerminalIo;
}

/** A terminal in one verified dev pod. */
export interface TerminalPlace {
  kc: KubeConfig;
  ref: WorkloadRef;
  pod: DevPod;
  io: TerminalIo;
  signal: AbortSignal;
  note: (message: string) => void;
}

/** Fails with the missing RBAC verbs named unless the user may exec into the dev pod of `ref` and verify it first. */
export async function requireExecRights(kc: KubeConfig, ref: WorkloadRef): Promise<void> {
  const exec = await deniedOf(kc, execPermissions(ref.namespace));
  if (exec.length > 0) throw new AgentError(EXIT.FORBIDDEN, forbiddenMessage(`you may not open a terminal in pods of namespace ${ref.namespace}`, exec));
  const chain = await deniedOf(kc, ownerChainPermissions(ref));
  if (chain.length > 0) {
    const what = `you may not read the objects between the dev pod and ${refString(ref)}, which kubectl devx checks before it opens a terminal there`;
    throw new AgentError(EXIT.FORBIDDEN, forbiddenMessage(what, chain));
  }
}

/** Runs `command` in the dev container; an exec the API server refuses becomes an AgentError that says why. */
async function run(at: TerminalPlace, command: readonly string[]): Promise<ExecEnd> {
  try {
    return await runInTerminal({ kc: at.kc, target: { namespace: at.ref.namespace, pod: at.pod.name, container: at.pod.target, command }, io: at.io, signal: at.signal });
  } catch (err) {
    if (err instanceof ExecRefusedError && err.status === 403) {
      throw new AgentError(EXIT.FORBIDDEN, await forbiddenFor(at.kc, 'the API server refused the exec (403)', execPermissions(at.ref.namespace)));
    }
    throw new AgentError(EXIT.FAILURE, (err as Error).message);
  }
}

const FROM: Record<ShellChoice['from'], string> = { annotation: 'dev.x/shell', policy: "the DevPolicy's shell", default: 'the default' };

/** Opens the chosen shell; when the container does not have it, says so and opens sh instead. */
export async function runShell(at: TerminalPlace, choice: ShellChoice): Promise<ExecEnd> {
  const end = await run(at, [choice.shell]);
  if (end.kind !== 'failed' || choice.shell === DEFAULT_SHELL || missingProgram(end.message) === undefined) return end;
  at.note(`${choice.shell} (${FROM[choice.from]}) is not in container ${at.pod.target} of pod ${at.pod.name}: opening ${DEFAULT_SHELL} instead`);
  return run(at, [DEFAULT_SHELL]);
}

/** The exit code `exec` ends with: the command's; or why it did not run or was cut off, as an AgentError. */
export function exitCodeOf(end: ExecEnd, at: TerminalPlace): number {
  if (end.kind === 'exited') return end.code;
  if (at.signal.aborted) return EXIT.INTERRUPTED;
  const where = `container ${at.pod.target} of pod ${at.pod.name}`;
  if (end.kind === 'lost') throw new AgentError(EXIT.FAILURE, `the connection to ${where} closed before the command ended${end.error ? ` (${end.error})` : ''}: was the pod replaced?`);
  const missing = missingProgram(end.message);
  if (missing === DEFAULT_SHELL) {
    throw new AgentError(EXIT.COMMAND_NOT_FOUND, `${where} has no ${DEFAULT_SHELL}: set dev.x/shell to a shell its image has, or run a program it has: kubectl devx exec ${refString(at.ref)} -- PROGRAM`);
  }
  if (missing !== undefined) throw new AgentError(EXIT.COMMAND_NOT_FOUND, `${missing}: no such program in ${where}`);
  throw new AgentError(EXIT.FAILURE, `${where}: ${end.message}`);
}

/** Runs the exec command; its exit code is the remote command's once that ran. */
export async function runExec(cmd: ExecCommand): Promise<number> {
  const kc = cmd.kube.kubeConfig;
  const found = await resolveWorkload(kc, cmd.workload, cmd.namespace);
  requireDevMode(found);
  const shell = cmd.command === undefined ? await shellOf(kc, found) : undefined;
  // In duplicate mode: the dev pod of the caller's own copy.
  const ref = await syncTarget(kc, found);
  await requireExecRights(kc, ref);
  const pod = await waitForVerifiedDevPod(kc, ref, { ...cmd, ready: readyToExec, forExec: true });
  cmd.reporter.close();
  const at: TerminalPlace = { kc, ref, pod, io: cmd.io, signal: cmd.signal, note: (m) => cmd.reporter.note(m) };
  return exitCodeOf(shell === undefined ? await run(at, cmd.command ?? []) : await runShell(at, shell), at);
}
