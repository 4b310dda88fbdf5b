// Child processes of the test harness: started with their output in a log file, tied to the life of the test
// process (Linux parent-death signal via setpriv where available, plus exit/signal handlers), stopped with SIGTERM
// and then SIGKILL, and waited for with a probe that fails fast, showing the log tail, when the process dies.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { err, ok } from '../../../src/core/result.ts';
import { pollUntil } from '../../../src/wait.ts';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves when the process has exited (and been reaped). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartProcessOptions {
  name: string;
  bin: string;
  args: string[];
  logPath: string;
  env?: NodeJS.ProcessEnv;
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));
const live = new Set<ManagedProcess>();
const cleanupDirs = new Set<string>();
const exitCleanups = new Set<() => void>();
let handlersInstalled = false;

function killAllNow(): void {
  for (const p of live) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const fn of exitCleanups) {
    try {
      fn();
    } catch {
      // best effort: the next start cleans up what is left
    }
  }
  for (const dir of cleanupDirs) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Run `fn` (synchronous) when the test process exits or is interrupted before unregisterExitCleanup(fn), after its
 * child processes were killed and before registered directories are removed.
 */
export function registerExitCleanup(fn: () => void): void {
  installHandlersOnce();
  exitCleanups.add(fn);
}

export function unregisterExitCleanup(fn: () => void): void {
  exitCleanups.delete(fn);
}

function installHandlersOnce(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // 'exit' also fires after an uncaught exception; only synchronous work is possible there, hence SIGKILL.
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllNow();
      process.exit(128 + os.constants.signals[signal]);
    });
  }
}

/** Remove `dir` when the test process exits, unless unregisterDir() was called first. */
export function registerDir(dir: string): void {
  installHandlersOnce();
  cleanupDirs.add(dir);
}

export function unregisterDir(dir: string): void {
  cleanupDirs.delete(dir);
}

/** Starts `bin`; stdout and stderr go to `logPath` (appended, so a restarted process keeps one log). */
export function startProcess(opts: StartProcessOptions): ManagedProcess {
  installHandlersOnce();
  const fd = fs.openSync(opts.logPath, 'a');
  // setpriv --pdeathsig makes the kernel kill the child if this process dies without running any handler (SIGKILL).
  const [cmd, args] = SETPRIV
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', opts.bin, ...opts.args]]
    : [opts.bin, opts.args];
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: opts.env ?? process.env });
  fs.closeSync(fd);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      live.delete(proc);
      resolve({ code, signal });
    });
    child.once('error', () => {
      done = true;
      live.delete(proc);
      resolve({ code: null, signal: null });
    });
  });
  const proc: ManagedProcess = {
    name: opts.name,
    pid: child.pid ?? -1,
    logPath: opts.logPath,
    exited,
    running: () => !done,
    stop: async (graceMs = 10_000) => {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(proc);
  return proc;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `bin` to completion with `input` (default none) on its standard input and returns what it printed; killed after
 * `timeoutMs`, and a process ended by a signal reports code 128.
 */
export function runToEnd(bin: string, args: string[], opts: { env: NodeJS.ProcessEnv; input?: string; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    // A child that exits without reading its input (kubectl often does) must not fail the caller with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** The last `lines` lines of a log file (empty string if it does not exist). */
export function logTail(logPath: string, lines = 40): string {
  let text: string;
  try {
    text = fs.readFileSync(logPath, 'utf8');
  } catch {
    return '';
  }
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export interface WaitOptions {
  /** What is awaited, for the error message. */
  what: string;
  /** True when ready; thrown errors count as "not yet". */
  probe: () => Promise<boolean>;
  timeoutMs: number;
  /** Processes that must stay alive meanwhile; if one dies, fail at once with its log tail. */
  watch?: ManagedProcess[];
  intervalMs?: number;
}

function failure(message: string, proc?: ManagedProcess): Error {
  if (!proc) return new Error(message);
  return new Error(`${message}\n--- last lines of ${proc.name} log (${proc.logPath}) ---\n${logTail(proc.logPath)}\n---`);
}

/** Polls `probe` until it returns true. */
export async function waitFor(opts: WaitOptions): Promise<void> {
  let lastError = '';
  const r = await pollUntil({
    timeoutMs: opts.timeoutMs,
    intervalMs: opts.intervalMs ?? 50,
    look: async () => {
      const dead = (opts.watch ?? []).find((p) => !p.running());
      if (dead) throw failure(`${dead.name} exited while waiting for ${opts.what}`, dead);
      try {
        return (await opts.probe()) ? ok() : err(opts.what);
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
        return err(opts.what);
      }
    },
  });
  if (r.ok) return;
  const suffix = lastError ? ` (last error: ${lastError})` : '';
  throw failure(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${suffix}`, opts.watch?.[0]);
}
