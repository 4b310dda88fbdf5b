// devx on the real control plane: the CRD applied from deploy/crds, and devx-webhook started as its own process
// outside the cluster, registering its webhook configurations with a https://127.0.0.1:PORT URL and its own CA —
// exactly how a user runs it against any kubeconfig (DESIGN §7).
import fs from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { pollValue } from '../../../src/wait.ts';
import type { ControlPlane } from './control-plane.ts';
import { startProcess, waitFor, type ManagedProcess } from './processes.ts';

export const REPO = path.resolve(import.meta.dirname, '../../..');
export const CRD_FILE = path.join(REPO, 'deploy/crds/devpolicies.dev.x.yaml');
const SERVER_ENTRY = path.join(REPO, 'src/cli/devx-webhook.ts');

export interface DevxServer {
  readonly process: ManagedProcess;
  readonly port: number;
  /** Every JSON log line so far. */
  logs(): Array<Record<string, unknown>>;
  /** The admission decision lines so far. */
  decisions(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function installCrd(cp: ControlPlane): Promise<void> {
  const applied = await cp.kubectl(['apply', '--server-side', '-f', CRD_FILE]);
  if (applied.code !== 0) throw new Error(`applying the CRD failed: ${applied.stderr}`);
  const established = await cp.kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/devpolicies.dev.x']);
  if (established.code !== 0) throw new Error(`CRD not established: ${established.stderr}`);
}

/** The JSON lines of a log file so far (a line not yet complete reads as `{}`). */
export function readLogLines(file: string): Array<Record<string, unknown>> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

export interface StartDevxOptions {
  /** The kubeconfig devx-webhook uses (default the control plane's admin one). */
  kubeconfig?: string;
  /** Extra flags for devx-webhook. */
  args?: string[];
  /** Default: register the webhook configurations (a second replica may skip it). */
  register?: boolean;
  name?: string;
  timeoutMs?: number;
  /** Extra environment for the server (over this process's), e.g. the reconciler's DEVX_* timings. */
  env?: Record<string, string>;
}

/** Starts devx-webhook against the control plane and waits until it has registered its webhooks. */
export async function startDevx(cp: ControlPlane, opts: StartDevxOptions = {}): Promise<DevxServer> {
  const name = opts.name ?? 'devx-webhook';
  const logPath = path.join(cp.dir, `${name}-${Date.now()}.log`);
  // With a loopback --register-url, devx listens on that address alone (no --host needed); without one, on 127.0.0.1.
  const args = [SERVER_ENTRY, '--kubeconfig', opts.kubeconfig ?? cp.kubeconfigPath, '--port', '0', '--log-level', 'debug'];
  if (opts.register ?? true) args.push('--register-url', 'https://127.0.0.1:0');
  else args.push('--host', '127.0.0.1');
  const proc = startProcess({ name, bin: process.execPath, args: [...args, ...(opts.args ?? [])], logPath, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  const logs = (): Array<Record<string, unknown>> => readLogLines(logPath);
  // devx logs "devx-webhook listening", with the port, last: after it has registered its webhooks when it does. The
  // port is read from that line, so that is the line waited for (waiting for the registration alone raced it).
  const wanted = ['devx-webhook listening', ...((opts.register ?? true) ? ['webhook configurations registered'] : [])];
  let port: number;
  try {
    await waitFor({ what: `${name}: ${wanted.join(', ')}`, probe: async () => wanted.every((w) => logs().some((l) => l.msg === w)), timeoutMs: opts.timeoutMs ?? 30_000, watch: [proc] });
    port = Number(logs().find((l) => l.msg === 'devx-webhook listening')?.port);
    if (!Number.isInteger(port) || port <= 0) throw new Error(`${name}: no port in its "devx-webhook listening" line (${logPath})`);
  } catch (err) {
    await proc.stop(2000);
    throw err;
  }
  return {
    process: proc,
    port,
    logs,
    decisions: () => logs().filter((l) => l.msg === 'admission decision'),
    stop: () => proc.stop(10_000),
  };
}

export interface PolicyOptions {
  name?: string;
  spec?: Record<string, unknown>;
}

export const DEMO_POLICY_SPEC = {
  images: [{ match: '*/bookinfo/reviews*', devImage: 'registry.example.com/dev/java:21' }],
  allowedImages: ['registry.example.com/dev/*'],
  sidecar: { image: 'syncthing/syncthing:1.27', resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } } },
  maxDuration: '8h',
};

export async function applyPolicy(cp: ControlPlane, opts: PolicyOptions = {}): Promise<void> {
  const doc = { apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: opts.name ?? 'default' }, spec: opts.spec ?? DEMO_POLICY_SPEC };
  const r = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(doc) });
  if (r.code !== 0) throw new Error(`applying DevPolicy failed: ${r.stderr}`);
}

/** The seed's bookinfo `reviews` Deployment (from test/golden), without the dev label, in `namespace`. */
export function bookinfoReviews(namespace: string, replicas = 3): Record<string, any> {
  const golden = parse(fs.readFileSync(path.join(REPO, 'test/golden/cases/deployment-bookinfo-reviews-create.yaml'), 'utf8'));
  const seed = golden.object as Record<string, any>;
  const { 'dev.x/enabled': _on, ...labels } = seed.metadata.labels as Record<string, string>;
  seed.metadata = { name: 'reviews', namespace, labels };
  seed.spec.replicas = replicas;
  return seed;
}

export async function getJson(cp: ControlPlane, args: string[], namespace?: string): Promise<any> {
  const r = await cp.kubectl(['get', ...args, '-o', 'json'], namespace ? { namespace } : {});
  if (r.code !== 0) throw new Error(`kubectl get ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A Secret's data, base64-decoded. */
export function decodeSecret(secret: any): Record<string, string> {
  return Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  let last: unknown;
  const attempt = async (): Promise<T | undefined> => {
    try {
      return (await check()) || undefined;
    } catch (e) {
      last = e;
      return undefined;
    }
  };
  const value = await pollValue(attempt, { timeoutMs, intervalMs: 100 });
  if (value === undefined) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
  return value;
}

/** A copy of the control plane's admin kubeconfig that impersonates `user` (client-node sends Impersonate-User), in
 * `dir`: how a test runs `kubectl devx` as a developer RBAC limits. */
export function kubeconfigAs(cp: ControlPlane, dir: string, user: string): string {
  const file = path.join(dir, `kubeconfig-${user}`);
  const cfg = parse(fs.readFileSync(cp.kubeconfigPath, 'utf8'));
  cfg.users[0].user.as = user;
  fs.writeFileSync(file, stringify(cfg), { mode: 0o600 });
  return file;
}
