// A command run in a pod's container through the API server (`pods/exec`), with @kubernetes/client-node's Exec: a
// WebSocket speaking the v5.channel.k8s.io protocol (stdin, stdout, stderr, the status, and a resize channel fed
// from `stdout`'s `rows`/`columns` and its 'resize' events, as `kubectl exec -it` feeds it from SIGWINCH). This file
// only opens it and tells how it ended; the terminal around it is the agent's (src/agent/terminal.ts).
import type { Readable, Writable } from 'node:stream';
import { Exec, type KubeConfig } from '@kubernetes/client-node';
import { refusalParts, UpgradeRefusedError } from './upgrade-refused.ts';

export interface ExecTarget {
  namespace: string;
  pod: string;
  container: string;
  command: readonly string[];
}

export interface ExecStreams {
  /** null: the command gets no stdin. */
  stdin: Readable | null;
  /** With `rows`, `columns` and 'resize' events it also carries the terminal size (tty). */
  stdout: Writable;
  /** null with a tty: the terminal merges stderr into stdout. */
  stderr: Writable | null;
  tty: boolean;
}

/** How the command ended: its exit code; or it never started (`failed`, the kubelet's message); or the connection
 * ended with no status at all (`lost`: the pod went away, the API server restarted, the session was closed). */
export type ExecEnd = { kind: 'exited'; code: number } | { kind: 'failed'; message: string } | { kind: 'lost'; error?: string };

export interface RunningExec {
  ended: Promise<ExecEnd>;
  close(): void;
}

/** The API server (or the network) refused the exec; `status` is the HTTP status of a refused upgrade. */
export class ExecRefusedError extends UpgradeRefusedError {
  constructor(message: string, status: number | undefined) {
    super(message, status);
    this.name = 'ExecRefusedError';
  }
}

/** The status the kubelet sends when the command is over (a metav1.Status), as far as it is read here. */
interface ExecStatus {
  status?: string;
  reason?: string;
  message?: string;
  details?: { causes?: Array<{ reason?: string; message?: string }> };
}

/** The end a status means: Success is 0; NonZeroExitCode carries the code; anything else did not run. */
export function endOfStatus(s: ExecStatus): ExecEnd {
  if (s.status === 'Success') return { kind: 'exited', code: 0 };
  const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  const code = cause === undefined ? NaN : Number(cause);
  if (s.reason === 'NonZeroExitCode' && Number.isInteger(code)) return { kind: 'exited', code };
  return { kind: 'failed', message: s.message ?? s.reason ?? 'the command could not be run' };
}

/** The part of the `ws` WebSocket used here (the client hands one back, typed through isomorphic-ws). */
interface Socketish {
  close(): void;
  on(event: 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

function refusal(err: unknown, target: ExecTarget): ExecRefusedError {
  const { message, status } = refusalParts(err, `exec in pod ${target.namespace}/${target.pod} container ${target.container}`);
  return new ExecRefusedError(message, status);
}

/** Starts `target.command`; rejects with ExecRefusedError when the WebSocket cannot be opened (RBAC 403, no such
 * pod or container, API server unreachable). */
export async function execInPod(kc: KubeConfig, target: ExecTarget, streams: ExecStreams): Promise<RunningExec> {
  let status: ExecEnd | undefined;
  let ws: Socketish;
  try {
    const opened = await new Exec(kc).exec(target.namespace, target.pod, target.container, [...target.command], streams.stdout, streams.stderr, streams.stdin, streams.tty, (s) => {
      status = endOfStatus(s as ExecStatus);
    });
    ws = opened as unknown as Socketish;
  } catch (err) {
    throw refusal(err, target);
  }
  const ended = new Promise<ExecEnd>((resolve) => {
    let transportError: string | undefined;
    ws.on('error', (err) => (transportError = err.message));
    ws.on('close', () => resolve(status ?? { kind: 'lost', ...(transportError ? { error: transportError } : {}) }));
  });
  return { ended, close: () => ws.close() };
}

/** The program the kubelet could not start because the container does not have it (`exec: "bash": executable file
 * not found in $PATH`, `stat /x: no such file or directory`), or undefined for any other failure. */
export function missingProgram(message: string): string | undefined {
  const m = /exec: "([^"]*)": (?:executable file not found|stat [^:]*: no such file or directory)/.exec(message);
  return m?.[1];
}
