// The local syncthing: DEVX_SYNCTHING, else on PATH, else in devx's own cache; started on the session's home with the same serve flags as
// the sidecar, tied to the agent's life, stopped with SIGTERM (syncthing then closes its database cleanly).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { syncthingServeArgs } from '../sync/sidecar-command.ts';
import { AgentError, EXIT } from './exit-codes.ts';
import { installHint, isSupported, MIN_SYNCTHING, parseSyncthingVersion } from './syncthing-version.ts';

const run = promisify(execFile);

export interface SyncthingBinary {
  path: string;
  version: string;
}

/** devx's own cache (`$DEVX_CACHE`, else `$XDG_CACHE_HOME/devx`, else `~/.cache/devx`): syncthings built there, newest first. */
export function cachedSyncthings(env: NodeJS.ProcessEnv): string[] {
  const cache = env.DEVX_CACHE || path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache'), 'devx');
  let entries: string[];
  try {
    entries = fs.readdirSync(cache);
  } catch {
    return [];
  }
  const versionOf = (dir: string): number[] => dir.slice('syncthing-v'.length).split('.').map(Number);
  const newer = (a: string, b: string): number => {
    const [va, vb] = [versionOf(a), versionOf(b)];
    for (let i = 0; i < 3; i++) if ((va[i] ?? 0) !== (vb[i] ?? 0)) return (vb[i] ?? 0) - (va[i] ?? 0);
    return 0;
  };
  return entries
    .filter((d) => /^syncthing-v\d+\.\d+\.\d+$/.test(d))
    .sort(newer)
    .map((d) => path.join(cache, d, 'syncthing'))
    .filter((f) => fs.existsSync(f));
}

/** `--version` of a candidate, or why it cannot run. */
async function versionOutput(bin: string, env: NodeJS.ProcessEnv): Promise<{ output: string } | { problem: string }> {
  try {
    return { output: (await run(bin, ['--version'], { env, timeout: 15_000 })).stdout };
  } catch (err) {
    return { problem: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `--version failed: ${(err as Error).message}` };
  }
}

/**
 * The syncthing to run: DEVX_SYNCTHING alone when set; else `syncthing` on PATH, else the newest one in devx's own
 * cache. Each is checked by running `--version`.
 */
export async function findSyncthing(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): Promise<SyncthingBinary> {
  const candidates = env.DEVX_SYNCTHING ? [env.DEVX_SYNCTHING] : ['syncthing', ...cachedSyncthings(env)];
  const tried: string[] = [];
  for (const bin of candidates) {
    const got = await versionOutput(bin, env);
    if ('problem' in got) {
      tried.push(`${bin === 'syncthing' ? 'syncthing on PATH' : bin}: ${got.problem}`);
      continue;
    }
    return checkedVersion(bin, got.output, platform);
  }
  const where = env.DEVX_SYNCTHING ? `DEVX_SYNCTHING=${env.DEVX_SYNCTHING}` : 'PATH and devx\'s cache';
  throw new AgentError(EXIT.SYNCTHING_MISSING, `no syncthing found (${where}; ${tried.join('; ')}). kubectl devx sync runs the local end of the sync with syncthing; ${installHint(platform)}`);
}

function checkedVersion(bin: string, output: string, platform: NodeJS.Platform): SyncthingBinary {
  const version = parseSyncthingVersion(output);
  if (version === undefined || !isSupported(version)) {
    const found = version ? version.join('.') : `unrecognised (${output.trim().slice(0, 80)})`;
    throw new AgentError(EXIT.SYNCTHING_MISSING, `${bin} is syncthing ${found}; devx needs ${MIN_SYNCTHING.join('.')} or newer. ${installHint(platform)}`);
  }
  return { path: bin, version: version.join('.') };
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));

export interface RunningSyncthing {
  readonly pid: number;
  /** Resolves with the exit code (or signal name) when syncthing exits, for whatever reason. */
  readonly exited: Promise<string>;
  logTail(lines?: number): string;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `syncthing serve` on `home`, output to `logFile`. Environment variables that would override config.xml
 * (a user's STGUIADDRESS, STHOMEDIR…) are dropped. On Linux the kernel stops syncthing if the agent dies without
 * cleaning up (parent-death signal via setpriv); elsewhere the pid file catches it at the next run.
 */
export function startSyncthing(opts: { binary: string; home: string; logFile: string; env: NodeJS.ProcessEnv }): RunningSyncthing {
  const env = Object.fromEntries(Object.entries(opts.env).filter(([k]) => !k.startsWith('ST')));
  const args = syncthingServeArgs(opts.home);
  const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'TERM', '--', opts.binary, ...args]] : [opts.binary, args];
  const log = fs.openSync(opts.logFile, 'w', 0o600);
  const child: ChildProcess = spawn(cmd, argv, { env: { ...env, STNOUPGRADE: '1' }, stdio: ['ignore', log, log], cwd: path.dirname(opts.home) });
  fs.closeSync(log);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? String(code)));
    child.once('error', (err) => resolve(err.message));
  });
  return {
    pid: child.pid ?? -1,
    exited,
    logTail: (lines = 20) => {
      const text = fs.existsSync(opts.logFile) ? fs.readFileSync(opts.logFile, 'utf8') : '';
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    },
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A free TCP port on 127.0.0.1 for syncthing's GUI/REST (bound and released; syncthing binds it right after). */
export async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
