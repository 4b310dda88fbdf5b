// Real syncthing processes for end-to-end tests: a stand-in for the `devx-sync` sidecar, started the way the kubelet
// would start the container devx injected — the container's command, args and env as the API server stored them,
// its volumes as host directories, the sync Secret mounted like the kubelet mounts a Secret (files behind `..data`
// symlinks) — with only what a shared network namespace forces changed: the sync and GUI ports of config.xml move
// to free loopback ports. Plus the small helpers the syncthing tests share (which, start, waitFor, fileContent, rest,
// portRefuses, listeningSockets, complaints, mountSecret, syncthingDeviceId, startSyncthingWithConfig, the
// binaries). Everything started here is stopped by `stop()`, and killed if the test process exits first.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { chmod, copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { err, ok } from '../../../src/core/result.ts';
import { pollUntil, pollValue } from '../../../src/wait.ts';
import { freePorts, LOOPBACK } from './ports.ts';
import { realPartPaths } from './real-parts.ts';
import type { ControlPlane } from './control-plane.ts';
import { SIDECAR_WORKDIR } from '../../../src/sync/constants.ts';
import { buildSyncSecretData, syncSecretName } from '../../../src/sync/secret.ts';
import { syncthingServeArgs } from '../../../src/sync/sidecar-command.ts';

const run = promisify(execFile);

export interface Binary {
  label: string;
  path: string;
}

/**
 * The local syncthing: DEVX_SYNCTHING, else the oldest version the agent supports, built from its Go module by
 * build-real-parts.sh (what a user with an old distribution package runs).
 */
export const LOCAL: Binary = { label: 'local syncthing', path: process.env.DEVX_SYNCTHING ?? realPartPaths().syncthingOldest };

const { versions, syncthingSidecar } = realPartPaths();
export const sidecarVersion = versions.SYNCTHING_SIDECAR_VERSION ?? '';
/** The sidecar image's syncthing version built from Go modules (`npm run real-parts`), when it is built. */
export const SIDECAR_IMAGE_VERSION: Binary | undefined = fs.existsSync(syncthingSidecar) ? { label: `syncthing ${sidecarVersion} (sidecar image version)`, path: syncthingSidecar } : undefined;

/** In the pod the sidecar runs as non-root (Pod Security restricted); when the tests run as root, so does its stand-in. */
export const SIDECAR_USER: { uid?: number; gid?: number } = process.getuid?.() === 0 ? { uid: 65532, gid: 65532 } : {};

/** Absolute path of a command (as given if it already contains a slash). */
export async function which(command: string): Promise<string> {
  if (command.includes('/')) return command;
  const { stdout } = await run('sh', ['-c', 'command -v "$1"', 'which', command]);
  return stdout.trim();
}

/**
 * Log lines in which syncthing complains. Allowed: the warning about running as root, which only shows because the
 * test machine runs tests as root (the sidecar runs as non-root in the pod).
 */
export function complaints(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => /WARNING|ERROR|FATAL|fail|invalid|deprecat|refus|panic|unsupported/i.test(l))
    .filter((l) => !/should not run as a privileged or system user/.test(l));
}

/** Writes `data` the way the kubelet mounts a Secret: files in a timestamped dir, reached through `..data` symlinks. */
export async function mountSecret(secretDir: string, data: Record<string, string>): Promise<void> {
  const payload = path.join(secretDir, '..2026_01_01_00_00_00.000000001');
  await mkdir(payload, { recursive: true });
  for (const [key, value] of Object.entries(data)) {
    await writeFile(path.join(payload, key), value);
    await chmod(path.join(payload, key), 0o444);
    await symlink(path.join('..data', key), path.join(secretDir, key));
  }
  await symlink('..2026_01_01_00_00_00.000000001', path.join(secretDir, '..data'));
  await chmod(payload, 0o555);
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));

export interface Proc {
  child: ChildProcess;
  log(): string;
  /** SIGTERM, SIGKILL after 10 s; the exit code (null after a signal). */
  stop(): Promise<number | null>;
}

/** A child process with its output collected, killed by the kernel if the test process dies (setpriv). */
export function start(opts: { command: string; args: string[]; env: NodeJS.ProcessEnv; uid?: number; gid?: number; cwd?: string }): Proc {
  const ids = opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid ?? opts.uid };
  const [cmd, args] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', opts.command, ...opts.args]] : [opts.command, opts.args];
  const child = spawn(cmd, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], ...ids, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  killOnExit(child);
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    log: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The parts of a pod's container the stand-in runs (as the API server returns them). */
export interface ContainerSpec {
  name: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

/** The parts of a pod's volume list the stand-in understands: emptyDir and secret volumes. */
export interface VolumeSpec {
  name: string;
  emptyDir?: unknown;
  secret?: { secretName: string };
}

export interface StandInOptions {
  /**
   * A directory of its own (removed by the caller); volumes and the binary copy go below it. When the tests run as
   * root the stand-in runs as SIDECAR_USER, so every directory above `root` must be searchable by others.
   */
  root: string;
  container: ContainerSpec;
  volumes: VolumeSpec[];
  /** Data of the Secrets the pod mounts, by Secret name, base64-decoded. */
  secrets: Record<string, Record<string, string>>;
  /** The syncthing binary the "image" carries; default LOCAL.path. */
  binary?: string;
  /** Sync port of config.xml, moved to this loopback port (the pod's own network namespace is not there). */
  syncPort?: number;
  guiPort?: number;
}

export interface StandIn {
  /** Host directory of the pod's `devx-workdir` volume: the synced files, as the sidecar sees them. */
  workdir: string;
  syncPort: number;
  guiPort: number;
  /** `tcp://127.0.0.1:<syncPort>`: where the agent dials it. */
  address: string;
  apiKey: string;
  proc: Proc;
  /** Stops the sidecar and starts it again with the same command over the same volumes (a container restart). */
  restart(): Promise<void>;
  stop(): Promise<number | null>;
}

/** config.xml with the two addresses a shared network namespace forces to change; each must occur exactly once. */
function relocateConfig(configXml: string, moves: Array<[string, string]>): string {
  let out = configXml;
  for (const [from, to] of moves) {
    const count = out.split(from).length - 1;
    if (count !== 1) throw new Error(`config.xml holds ${JSON.stringify(from)} ${count} times, expected once`);
    out = out.replace(from, to);
  }
  return out;
}

/** Replaces a leading container path by its host directory (the longest matching mount wins). */
function mapper(mounts: Array<[string, string]>): (value: string) => string {
  const sorted = [...mounts].sort((a, b) => b[0].length - a[0].length);
  return (value) => {
    for (const [mountPath, host] of sorted) {
      if (value === mountPath || value.startsWith(`${mountPath}/`)) return host + value.slice(mountPath.length);
    }
    return value;
  };
}

/** Starts the stand-in and waits until its REST API answers. */
export async function startSidecarStandIn(opts: StandInOptions): Promise<StandIn> {
  const { root, container } = opts;
  await chmod(root, 0o755);
  const binDir = path.join(root, 'image-bin');
  await mkdir(binDir, { recursive: true });
  // A copy, not a symlink: the sidecar's non-root user may not be able to reach the original (e.g. under /root).
  await copyFile(await which(opts.binary ?? LOCAL.path), path.join(binDir, 'syncthing'));
  await chmod(path.join(binDir, 'syncthing'), 0o755);
  const [freeSync, freeGui, decoyGuiPort] = await freePorts(3);
  const syncPort = opts.syncPort ?? freeSync!;
  const guiPort = opts.guiPort ?? freeGui!;
  let apiKey = '';
  let workdir = '';
  const mounts: Array<[string, string]> = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = opts.volumes.find((v) => v.name === mount.name);
    if (!volume) throw new Error(`container ${container.name} mounts ${mount.name}, which the pod does not define`);
    const host = path.join(root, 'volumes', volume.name);
    await mkdir(host, { recursive: true });
    mounts.push([mount.mountPath, host]);
    if (volume.emptyDir !== undefined) await chmod(host, 0o777); // an emptyDir is root-owned and world-writable
    if (mount.name === 'devx-workdir') workdir = host;
    if (volume.secret) {
      const data = opts.secrets[volume.secret.secretName];
      if (!data) throw new Error(`no data for Secret ${volume.secret.secretName}`);
      apiKey = data['api-key'] ?? '';
      const workdirMount = (container.volumeMounts ?? []).find((m) => m.name === 'devx-workdir')?.mountPath ?? '';
      const config = relocateConfig(data['config.xml'] ?? '', [
        [`path="${workdirMount}"`, `path="${path.join(root, 'volumes', 'devx-workdir')}"`],
        ['<listenAddress>tcp://127.0.0.1:22000</listenAddress>', `<listenAddress>tcp://${LOOPBACK}:${syncPort}</listenAddress>`],
        ['<address>127.0.0.1:8384</address>', `<address>${LOOPBACK}:${guiPort}</address>`],
      ]);
      await mountSecret(host, { ...data, 'config.xml': config });
    }
  }
  const toHost = mapper(mounts);
  // The image's own environment (STGUIADDRESS on all interfaces, a root-owned HOME), then the container's on top,
  // as the container runtime does; container paths in values point at the volumes' host directories.
  const imageEnv = { PATH: `${binDir}:${process.env.PATH ?? ''}`, HOME: '/var/syncthing', STGUIADDRESS: `0.0.0.0:${decoyGuiPort}`, STHOMEDIR: '/var/syncthing/config' };
  const env = { ...imageEnv, ...Object.fromEntries((container.env ?? []).map((e) => [e.name, toHost(e.value ?? '')])) };
  const [command, ...commandArgs] = [...(container.command ?? []), ...(container.args ?? [])].map(toHost);
  if (!command) throw new Error(`container ${container.name} has no command`);
  const launch = (): Proc => start({ command, args: commandArgs, env, ...SIDECAR_USER, cwd: root });
  const standIn: StandIn = {
    workdir,
    syncPort,
    guiPort,
    address: `tcp://${LOOPBACK}:${syncPort}`,
    apiKey,
    proc: launch(),
    restart: async () => {
      await standIn.proc.stop();
      standIn.proc = launch();
      await waitForRest(standIn);
    },
    stop: () => standIn.proc.stop(),
  };
  await waitForRest(standIn);
  return standIn;
}

async function waitForRest(s: StandIn): Promise<void> {
  const up = await pollUntil({
    timeoutMs: 30_000,
    intervalMs: 100,
    look: async () => {
      const answered = await fetch(`http://${LOOPBACK}:${s.guiPort}/rest/system/ping`, { headers: { 'X-API-Key': s.apiKey } }).then(
        (r) => r.ok,
        () => false,
      );
      if (answered) return ok();
      // An exited stand-in will never answer: give up at once.
      if (s.proc.child.exitCode !== null) throw new Error(`the sidecar stand-in did not come up:\n${s.proc.log()}`);
      return err('the sidecar stand-in');
    },
  });
  if (!up.ok) throw new Error(`the sidecar stand-in did not come up:\n${s.proc.log()}`);
}

/** Polls until `probe` returns a value (not undefined); errors count as "not yet". */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const value = await pollValue(() => probe().catch(() => undefined), { timeoutMs, intervalMs });
  if (value === undefined) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return value;
}

/** The file's content, or undefined when it does not exist (yet). */
export async function fileContent(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch(() => undefined);
}

/** A GET on a syncthing REST API on loopback, with the API key if given. */
export async function rest(port: number, apiPath: string, apiKey?: string): Promise<Response> {
  return fetch(`http://${LOOPBACK}:${port}${apiPath}`, { headers: apiKey === undefined ? {} : { 'X-API-Key': apiKey } });
}

/** Whether nothing accepts connections on the loopback port. */
export async function portRefuses(port: number): Promise<boolean> {
  return fetch(`http://${LOOPBACK}:${port}/`).then(
    () => false,
    () => true,
  );
}

/** A socket a process listens on: TCP in state LISTEN, or any bound UDP socket. */
export interface ListeningSocket {
  proto: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  address: string;
  port: number;
}

/** An address of /proc/net/{tcp,udp}[6]: hex, each 32-bit word in host (little-endian) byte order. */
function procNetAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  return groups.join(':');
}

/** `pid` and all its descendants (syncthing's monitor process runs the real syncthing as its child). */
function processTree(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat, after the command name in parentheses (which may itself hold spaces).
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  return tree;
}

/** The inodes of the sockets process `pid` holds open. */
function socketInodes(pid: number): string[] {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // exited meanwhile
  }
  return fds
    .map((fd) => {
      try {
        return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      } catch {
        return undefined; // closed meanwhile
      }
    })
    .filter((i): i is string => i !== undefined);
}

/**
 * Every socket process `pid` or one of its descendants listens on (Linux: their socket fds matched against
 * /proc/<pid>/net), whatever interface: what another host or pod could connect to. Needs permission to read the
 * processes' fds (root or their user).
 */
export function listeningSockets(pid: number): ListeningSocket[] {
  const inodes = new Set(processTree(pid).flatMap(socketInodes));
  const found: ListeningSocket[] = [];
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6'] as const) {
    const table = fs.readFileSync(`/proc/${pid}/net/${proto}`, 'utf8').trim().split('\n').slice(1);
    for (const line of table) {
      const cols = line.trim().split(/\s+/);
      const [local, state, inode] = [cols[1] ?? '', cols[3] ?? '', cols[9] ?? ''];
      const listening = proto.startsWith('tcp') ? state === '0A' : true;
      if (!listening || !inodes.has(inode)) continue;
      const [addr = '', port = '0'] = local.split(':');
      found.push({ proto, address: procNetAddress(addr), port: parseInt(port, 16) });
    }
  }
  return found;
}

/** Whether an address of listeningSockets is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x). */
export function isLoopbackAddress(address: string): boolean {
  if (/^127\./.test(address)) return true;
  if (address === '0:0:0:0:0:0:0:1') return true;
  return /^0:0:0:0:0:ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(address);
}

// ---------------------------------------------------------------------------------------------------------------
// One syncthing on a generated config (the reconciler's tests): device IDs as syncthing prints them, and a start on
// the sidecar's config.xml with only the pod's paths and ports swapped for loopback ones.

/** The device ID real syncthing prints for a certificate and key (`syncthing serve --device-id`). */
export async function syncthingDeviceId(certPem: string, keyPem: string, binary: string = LOCAL.path): Promise<string> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-st-id-'));
  try {
    await writeFile(path.join(home, 'cert.pem'), certPem);
    await writeFile(path.join(home, 'key.pem'), keyPem, { mode: 0o600 });
    const { stdout } = await run(binary, ['serve', '--device-id', `--home=${home}`], { env: { PATH: process.env.PATH, HOME: home } });
    return stdout.trim();
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

export interface ConfiguredSyncthing {
  /** The device ID syncthing reports for itself (/rest/system/status). */
  myID: string;
  guiPort: number;
  syncPort: number;
  /** The synced folder's host directory. */
  workdir: string;
  log(): string;
  /** Stops syncthing and removes its directories. */
  stop(): Promise<number | null>;
}

/**
 * Starts syncthing on `configXml` (a sidecar config from the sync Secret) exactly as generated, except the three
 * things a pod provides and a test machine must not share: the folder path (a temporary directory), the sync listen
 * address and the GUI address (free loopback ports instead of 127.0.0.1:22000 and 127.0.0.1:8384). Each must occur in
 * the config exactly once. Waits for its REST API.
 */
export async function startSyncthingWithConfig(opts: { configXml: string; certPem: string; keyPem: string; apiKey: string; binary?: string }): Promise<ConfiguredSyncthing> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-st-cfg-'));
  const home = path.join(root, 'home');
  const workdir = path.join(root, 'workdir');
  let proc: Proc | undefined;
  const stop = async (): Promise<number | null> => {
    const code = (await proc?.stop()) ?? null;
    fs.rmSync(root, { recursive: true, force: true });
    return code;
  };
  try {
    await mkdir(home, { mode: 0o700 });
    await mkdir(workdir);
    const [syncPort, guiPort] = (await freePorts(2)) as [number, number];
    const config = relocateConfig(opts.configXml, [
      [`path="${SIDECAR_WORKDIR}"`, `path="${workdir}"`],
      ['<listenAddress>tcp://127.0.0.1:22000</listenAddress>', `<listenAddress>tcp://${LOOPBACK}:${syncPort}</listenAddress>`],
      ['<address>127.0.0.1:8384</address>', `<address>${LOOPBACK}:${guiPort}</address>`],
    ]);
    await writeFile(path.join(home, 'config.xml'), config, { mode: 0o600 });
    await writeFile(path.join(home, 'cert.pem'), opts.certPem);
    await writeFile(path.join(home, 'key.pem'), opts.keyPem, { mode: 0o600 });
    const started = start({ command: opts.binary ?? LOCAL.path, args: syncthingServeArgs(home), env: { PATH: process.env.PATH, HOME: home, STGUIADDRESS: '' } });
    proc = started;
    const status = await waitFor(
      'syncthing REST /rest/system/status',
      async () => {
        if (started.child.exitCode !== null) return null; // exited: stop waiting
        const res = await rest(guiPort, '/rest/system/status', opts.apiKey);
        return res.ok ? ((await res.json()) as { myID: string }) : undefined;
      },
      30_000,
    );
    if (status === null) throw new Error(`syncthing exited with ${started.child.exitCode}`);
    return { myID: status.myID, guiPort, syncPort, workdir, log: started.log, stop };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- syncthing log ---\n${proc?.log() ?? ''}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The agent (`kubectl devx`, src/cli/kubectl-devx.ts) as a child process, the way kubectl runs a plugin.

export const AGENT_ENTRY = path.resolve(import.meta.dirname, '../../../src/cli/kubectl-devx.ts');

export interface AgentResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface AgentProcess {
  readonly pid: number;
  /** Parsed JSON lines of stdout so far (`-o json`). */
  events(): Array<Record<string, any>>;
  stdout(): string;
  stderr(): string;
  /** The first event (in order) that `match` accepts, waiting for it; fails early if the agent exits. */
  waitForEvent(what: string, match: (e: Record<string, any>) => boolean, timeoutMs: number): Promise<Record<string, any>>;
  readonly exited: Promise<number | null>;
  /** Ctrl-C (SIGINT), then the exit code; SIGKILL after 20 s. */
  interrupt(): Promise<number | null>;
}

/** Starts `kubectl devx ARGS…` with `env` (over a minimal PATH/HOME base). */
export function startAgent(args: string[], env: NodeJS.ProcessEnv): AgentProcess {
  const base = { PATH: process.env.PATH, HOME: process.env.HOME, DEVX_SYNCTHING: LOCAL.path };
  const child = spawn(process.execPath, [AGENT_ENTRY, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let out = '';
  let errText = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (errText += b.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let done = false;
  void exited.then(() => (done = true));
  const events = (): Array<Record<string, any>> =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>);
  return {
    pid: child.pid ?? -1,
    events,
    stdout: () => out,
    stderr: () => errText,
    exited,
    waitForEvent: async (what, match, timeoutMs) => {
      const failure = (why: string): Error => new Error(`${why} waiting for ${what}\n--- stdout ---\n${out}\n--- stderr ---\n${errText}`);
      const r = await pollUntil({
        timeoutMs,
        intervalMs: 100,
        look: () => {
          const found = events().find(match);
          if (found) return ok(found);
          if (done) throw failure('the agent exited');
          return err(what);
        },
      });
      if (!r.ok) throw failure(`timed out after ${timeoutMs} ms`);
      return r.value;
    },
    interrupt: async () => {
      if (!done) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs `kubectl devx ARGS…` to completion. */
export async function runAgent(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<AgentResult> {
  const agent = startAgent(args, env);
  const timer = setTimeout(() => void agent.interrupt(), timeoutMs);
  const code = await agent.exited;
  clearTimeout(timer);
  return { code, stdout: agent.stdout(), stderr: agent.stderr() };
}

// ---------------------------------------------------------------------------------------------------------------
// The sync Secret, until devx's reconciler makes it everywhere.

/**
 * The name of a workload's sync Secret, once it exists. devx's reconciler creates it when the workload enters dev
 * mode; where it has not (a devx without the reconciler), this creates it the same way after `waitMs`: data from
 * buildSyncSecretData (the function the reconciler calls), owned by the workload. Drop the fallback once the
 * reconciler is in everywhere.
 */
export async function ensureSyncSecret(cp: ControlPlane, w: { namespace: string; kind: string; name: string; uid: string }, waitMs = 5000): Promise<string> {
  const secretName = syncSecretName(w.kind, w.name);
  const exists = async (): Promise<true | undefined> => ((await cp.kubectl(['get', 'secret', secretName], { namespace: w.namespace })).code === 0 ? true : undefined);
  const made = await waitFor('the sync Secret from devx', exists, waitMs).catch(() => false);
  if (made) return secretName;
  const data = buildSyncSecretData({ workloadKind: w.kind, workloadName: w.name, namespace: w.namespace, now: new Date() });
  const apiVersion = ['Deployment', 'StatefulSet', 'DaemonSet'].includes(w.kind) ? 'apps/v1' : w.kind === 'Pod' ? 'v1' : 'batch/v1';
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName, ownerReferences: [{ apiVersion, kind: w.kind, name: w.name, uid: w.uid }] }, stringData: data };
  const r = await cp.kubectl(['create', '-f', '-'], { namespace: w.namespace, input: JSON.stringify(secret) });
  if (r.code !== 0 && !/AlreadyExists/.test(r.stderr)) throw new Error(`creating Secret ${secretName}: ${r.stderr}`);
  return secretName;
}
