// Pid files of a sync session: one for the agent (a second agent for the same workload must not start) and one for
// its syncthing (a syncthing left running by a crashed agent is stopped before a new one starts on the same home).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { pollCondition } from '../wait.ts';

export function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function writePid(file: string, pid: number): void {
  fs.writeFileSync(file, `${pid}\n`, { mode: 0o600 });
}

export function removeFile(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Whether `pid` is a live process (a zombie, killed but not yet reaped, counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): kill(0) answered, so it lives
  }
}

/** The command line of `pid` (arguments joined by spaces), or undefined if it cannot be read. */
export function commandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    try {
      return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * Stops the process in `pidFile` if it still runs and its command line contains `marker` (so a pid the system has
 * since given to an unrelated process is left alone): SIGTERM, then SIGKILL after `graceMs`. Returns the pid stopped.
 */
export async function stopStale(pidFile: string, marker: string, graceMs = 5000): Promise<number | undefined> {
  const pid = readPid(pidFile);
  const ours = pid !== undefined && isAlive(pid) && (commandLine(pid) ?? '').includes(marker);
  if (!ours) {
    removeFile(pidFile);
    return undefined;
  }
  process.kill(pid, 'SIGTERM');
  await waitGone(pid, graceMs);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await waitGone(pid, 5000);
  removeFile(pidFile);
  return pid;
}

async function waitGone(pid: number, ms: number): Promise<void> {
  await pollCondition(() => !isAlive(pid), { timeoutMs: ms, intervalMs: 20 });
}
