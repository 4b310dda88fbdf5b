// Exit codes of `kubectl devx` and the error value that carries one. A script can tell "label it first" from "ask for
// RBAC" from "install syncthing" without parsing messages; the message still says what to do, for people.

/** Every exit code the agent uses. 0 and 2 mean what they mean for every CLI; the rest are devx's own. */
export const EXIT = {
  OK: 0,
  /** Something failed that has no code of its own (API server unreachable, syncthing died, an object was denied). */
  FAILURE: 1,
  /** Bad usage: unknown command or flag, malformed argument, unreadable input. */
  USAGE: 2,
  /** The workload (or kind) does not exist. */
  NOT_FOUND: 3,
  /** The workload exists but is not in dev mode (or left it while syncing). */
  NOT_IN_DEV_MODE: 4,
  /** RBAC: a verb the command needs is not granted (the message names it). */
  FORBIDDEN: 5,
  /** Gave up waiting: no dev pod, no sync Secret, or `up`/`down` not finished within --timeout. */
  TIMEOUT: 6,
  /** No usable local `syncthing` binary. */
  SYNCTHING_MISSING: 7,
  /** Another `kubectl devx sync` already runs for this workload on this machine. */
  ALREADY_RUNNING: 8,
  /** `exec`: the command is not in the dev container (as a shell says it). Once a command ran, `exec` exits with its
   * exit code instead, whatever that is. */
  COMMAND_NOT_FOUND: 127,
  /** Ctrl-C before the command was done (a running sync stopped with Ctrl-C exits OK: that is how it ends). */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An expected failure: a message for the user (what happened, then what to do) and the exit code. */
export class AgentError extends Error {
  readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.name = 'AgentError';
    this.exitCode = exitCode;
  }
}

/** Exit code and message of anything thrown: an AgentError keeps its own, everything else is FAILURE. */
export function describeFailure(err: unknown): { exitCode: ExitCode; message: string } {
  if (err instanceof AgentError) return { exitCode: err.exitCode, message: err.message };
  if ((err as { name?: unknown })?.name === 'AbortError') return { exitCode: EXIT.INTERRUPTED, message: 'interrupted' };
  return { exitCode: EXIT.FAILURE, message: err instanceof Error ? err.message : String(err) };
}
