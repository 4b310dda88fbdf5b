// Shared by the reconciler's end-to-end tests: fast reconciler timings for devx-webhook, small kubectl helpers, and
// real syncthing checks of a sync Secret (the device ID syncthing derives from a certificate; syncthing started on
// the generated config.xml). Loopback only; every process and directory is removed again.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { syncthingServeArgs } from '../../../src/sync/sidecar-command.ts';
import type { ControlPlane } from './control-plane.ts';
import { getJson } from './devx.ts';
import { freePorts } from './ports.ts';

/** Short reconciler timings so tests run in seconds (the defaults are a cluster's: 15 s leases, one-minute resync). */
export const FAST_RECONCILER_ENV: Record<string, string> = {
  DEVX_LEASE_DURATION: '2s',
  DEVX_LEASE_RENEW_DEADLINE: '1500ms',
  DEVX_LEASE_RETRY_PERIOD: '250ms',
  DEVX_RESYNC_PERIOD: '3s',
};

export interface Kube {
  ok(args: string[], opts?: Parameters<ControlPlane['kubectl']>[1]): Promise<{ stdout: string; stderr: string }>;
  apply(obj: unknown, namespace: string): Promise<void>;
  /** The object, or undefined when it does not exist. */
  maybe(kind: string, name: string, namespace: string): Promise<any>;
  gone(kind: string, name: string, namespace: string): Promise<boolean>;
  /** Pods matching a selector that are not being deleted. */
  pods(selector: string, namespace: string): Promise<any[]>;
  /** Reasons of the reconciler's Events about an object, oldest first (read through the core/v1 view). */
  eventReasons(kind: string, name: string, namespace: string): Promise<string[]>;
}

export function kube(cp: ControlPlane): Kube {
  const ok: Kube['ok'] = async (args, opts = {}) => {
    const r = await cp.kubectl(args, opts);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
    return r;
  };
  const maybe: Kube['maybe'] = async (kind, name, namespace) => {
    const r = await cp.kubectl(['get', kind, name, '-o', 'json', '--ignore-not-found'], { namespace });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  };
  return {
    ok,
    apply: async (obj, namespace) => {
      await ok(['apply', '-f', '-'], { input: JSON.stringify(obj), namespace });
    },
    maybe,
    gone: async (kind, name, namespace) => (await maybe(kind, name, namespace)) === undefined,
    pods: async (selector, namespace) => ((await getJson(cp, ['pods', '-l', selector], namespace)).items as any[]).filter((p) => !p.metadata.deletionTimestamp),
    eventReasons: async (kind, name, namespace) => {
      const list = await getJson(cp, ['events', '--field-selector', `involvedObject.kind=${kind},involvedObject.name=${name}`], namespace);
      return (list.items as any[])
        .filter((e) => e.reportingComponent === 'dev.x/reconciler')
        .sort((a, b) => String(a.eventTime ?? a.firstTimestamp).localeCompare(String(b.eventTime ?? b.firstTimestamp)))
        .map((e) => e.reason as string);
    },
  };
}

/** A Secret's data, base64-decoded. */
export function decodeSecret(secret: any): Record<string, string> {
  return Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

export const isInjected = (p: any): boolean => p?.metadata?.annotations?.['dev.x/status'] !== undefined;

// ---- real syncthing ---------------------------------------------------------------------------------------------

const run = promisify(execFile);
const SYNCTHING = process.env.DEVX_SYNCTHING ?? 'syncthing';

/** What `syncthing serve --device-id` prints for a certificate and key. */
export async function syncthingDeviceId(certPem: string, keyPem: string): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'devx-rec-id-'));
  try {
    await writeFile(join(home, 'cert.pem'), certPem);
    await writeFile(join(home, 'key.pem'), keyPem, { mode: 0o600 });
    const { stdout } = await run(SYNCTHING, ['serve', '--device-id', `--home=${home}`], { env: { PATH: process.env.PATH, HOME: home } });
    return stdout.trim();
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** Log lines in which syncthing complains (the root warning only shows because tests may run as root). */
export function syncthingComplaints(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => /WARNING|ERROR|FATAL|fail|invalid|deprecat|refus|panic|unsupported/i.test(l))
    .filter((l) => !/should not run as a privileged or system user/.test(l));
}

export interface StartedSyncthing {
  /** myID from the REST API, reached with the Secret's API key. */
  myID: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts syncthing on a sidecar config.xml exactly as generated, except the three things a pod provides and a test
 * machine must not share: the folder path (a temp dir), the sync listen address and the GUI address (free loopback
 * ports instead of 0.0.0.0:22000 and 127.0.0.1:8384).
 */
export async function startSyncthingOnConfig(o: { configXml: string; certPem: string; keyPem: string; apiKey: string; timeoutMs?: number }): Promise<StartedSyncthing> {
  const root = await mkdtemp(join(tmpdir(), 'devx-rec-cfg-'));
  const home = join(root, 'home');
  const folder = join(root, 'workdir');
  await mkdir(home);
  await mkdir(folder);
  const [syncPort, guiPort] = (await freePorts(2)) as [number, number];
  const config = o.configXml
    .replaceAll('tcp://0.0.0.0:22000', `tcp://127.0.0.1:${syncPort}`)
    .replaceAll('127.0.0.1:8384', `127.0.0.1:${guiPort}`)
    .replaceAll('/devx/workdir', folder);
  assert.ok(config.includes(`127.0.0.1:${syncPort}`) && config.includes(`127.0.0.1:${guiPort}`) && config.includes(folder), 'config.xml has the sidecar addresses and folder');
  await writeFile(join(home, 'config.xml'), config, { mode: 0o600 });
  await writeFile(join(home, 'cert.pem'), o.certPem);
  await writeFile(join(home, 'key.pem'), o.keyPem, { mode: 0o600 });
  const child = spawn(SYNCTHING, syncthingServeArgs(home), { env: { PATH: process.env.PATH, HOME: home, STGUIADDRESS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${guiPort}/rest/system/status`, { headers: { 'X-API-Key': o.apiKey } });
      if (res.ok) return { myID: ((await res.json()) as { myID: string }).myID, log: () => output, stop };
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`syncthing did not come up on the generated config:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
