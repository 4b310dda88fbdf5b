// devx's peers in `npm run bench`: admission controllers that do the same mutation of the same bookinfo `reviews` pod,
// started here, each as its project runs it, and hit directly over HTTPS with the same load as devx.
//   agnhost  Kubernetes' own e2e test webhook (`agnhost webhook`, route /mutating-pods-sidecar): the Go floor. It
//            decodes the Pod and answers a fixed one-operation patch that appends a sidecar; what else devx does
//            (dev image, probes, volumes, records) it cannot be configured to do.
//   Pepr     a Pepr module (bench/peers/pepr) whose Mutate action does what devx does, run as `pepr dev` runs it.
//   Kyverno  its admission controller out of cluster (Kyverno's DEVELOPMENT.md recipe) with a mutate ClusterPolicy
//            (bench/peers/kyverno/policy.yaml) doing the same injection.
// Each is built by `bash test/tools/build-real-parts.sh bench`, cached outside the repository.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import jsonPatch from 'fast-json-patch';
import { parseAllDocuments, stringify } from 'yaml';
import type { KubeObject } from '../src/core/kube.ts';
import { staticView } from '../src/core/static-view.ts';
import { selfSignedServing } from '../src/tls/bootstrap.ts';
import { hmacSigner, randomRecordKey } from '../src/tls/record-signer.ts';
import { answerReview } from '../src/webhook/review.ts';
import { objectsYaml } from './fixtures.ts';
import type { ControlPlane } from '../test/e2e/harness/control-plane.ts';
import { freePort, freePorts } from '../test/e2e/harness/ports.ts';
import { readVersions, realPartPaths } from '../test/e2e/harness/real-parts.ts';

const ROOT = join(import.meta.dirname, '..');

export interface Server {
  name: string;
  proc: ChildProcess;
  /** Where reviews are POSTed. */
  url: string;
  readyMs: number;
  /** The file its standard error goes to, if not the bench's. */
  log?: string;
}

/** The serving certificate and key every server of the bench uses (`tls.crt`, `tls.key` in this directory). */
export interface Tls {
  dir: string;
}

export async function httpsGet(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
  });
}

export async function postReview(url: string, body: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON: kept as text for the error message
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A serving certificate (self-signed CA) and the objects devx runs with (`--objects`), written into `dir`. */
export function writeBenchTls(dir: string): Tls {
  const { ca, serving } = selfSignedServing({ serviceName: 'devx', namespace: 'devx-system' }, new Date());
  writeFileSync(join(dir, 'tls.crt'), serving.certPem + ca.certPem);
  writeFileSync(join(dir, 'tls.key'), serving.keyPem);
  writeFileSync(join(dir, 'objects.yaml'), objectsYaml());
  return { dir };
}

/** The Node.js flags devx-webhook ships with: those of the image's ENTRYPOINT, between node and the script. */
export function shippedNodeFlags(): string[] {
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  if (!m) throw new Error('Dockerfile has no ENTRYPOINT in exec form');
  const argv = JSON.parse(m[1] as string) as string[];
  return argv.slice(1, -1);
}

/**
 * devx (`--objects` or, with a kubeconfig, cluster mode; `flags` added to its own) or the bare route, started as the
 * image runs it; ready at /readyz (cluster mode: informers synced). Its `url` is the pod review route.
 */
export async function startNodeServer(
  kind: 'devx' | 'baseline' | 'devx-cluster',
  tls: Tls,
  o: {
    kubeconfig?: string;
    flags?: string[];
    /** A cgroup's cgroup.procs to start it in (Node sizes its heap by it). */
    cgroupProcs?: string;
    /** Another build's devx-webhook.js, and Node flags added to the image's (bench/ab.ts). */
    entry?: string;
    nodeFlags?: string[];
  } = {},
): Promise<Server> {
  const port = await freePort();
  const dir = tls.dir;
  const certs = ['--tls-cert-file', join(dir, 'tls.crt'), '--tls-key-file', join(dir, 'tls.key')];
  const listen = ['--host', '127.0.0.1', '--port', String(port)];
  const entry = [...shippedNodeFlags(), ...(o.nodeFlags ?? []), o.entry ?? join(ROOT, 'dist/cli/devx-webhook.js')];
  const argv =
    kind === 'devx'
      ? [...entry, '--objects', join(dir, 'objects.yaml'), ...listen, ...certs, ...(o.flags ?? [])]
      : kind === 'devx-cluster'
        ? [...entry, '--kubeconfig', o.kubeconfig as string, ...listen, ...certs, ...(o.flags ?? [])]
        : [join(ROOT, 'bench/baseline-server.ts'), join(dir, 'tls.crt'), join(dir, 'tls.key'), String(port)];
  const base = `https://127.0.0.1:${port}`;
  // devx logs one JSON line per decision at info, as in production; the lines go to /dev/null (stderr is kept).
  // In a cgroup: a shell moves itself in, then becomes Node (same pid), so Node starts under the cgroup's limits.
  const [command, args] = o.cgroupProcs ? ['sh', ['-c', 'echo $$ > "$0" && exec "$@"', o.cgroupProcs, process.execPath, ...argv]] : [process.execPath, argv];
  return spawnServer({ name: kind, command, args, readyUrl: `${base}/readyz`, url: `${base}/mutate/pods`, stderr: 'inherit' });
}

/** Spawns a server and waits until GET `readyUrl` answers 200. */
export async function spawnServer(opts: {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  readyUrl: string;
  url: string;
  timeoutMs?: number;
  /**
   * Where its standard error goes: the bench's (devx, the bare route) or a file whose end a failure quotes (the
   * peers). Standard output, where devx and Pepr log a line per review, goes to /dev/null for all.
   */
  stderr: 'inherit' | string;
}): Promise<Server> {
  const started = performance.now();
  const errFd = opts.stderr === 'inherit' ? 'inherit' : openSync(opts.stderr, 'a');
  const proc = spawn(opts.command, opts.args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'ignore', errFd] });
  if (typeof errFd === 'number') closeSync(errFd);
  const timeout = opts.timeoutMs ?? 20_000;
  const failure = (what: string): Error => new Error(opts.stderr === 'inherit' ? what : `${what}; the end of its log (${opts.stderr}):\n${tail(opts.stderr)}`);
  try {
    while ((await httpsGet(opts.readyUrl)) !== 200) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw failure(`${opts.name} exited with ${proc.exitCode ?? proc.signalCode}`);
      if (performance.now() - started > timeout) throw failure(`${opts.name} not ready after ${timeout / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return { name: opts.name, proc, url: opts.url, readyMs: performance.now() - started, ...(opts.stderr === 'inherit' ? {} : { log: opts.stderr }) };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function stopServer(s: Server): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  const timer = setTimeout(() => s.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// ---- agnhost ----

/** The sidecar image every peer adds: the one devx's `default` DevPolicy names (test/golden/cluster.yaml). */
export const SIDECAR_IMAGE = 'syncthing/syncthing:1.27';

export async function startAgnhost(tls: Tls): Promise<Server> {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  return spawnServer({
    name: 'agnhost',
    command: realPartPaths().agnhost,
    args: ['webhook', '--tls-cert-file', join(tls.dir, 'tls.crt'), '--tls-private-key-file', join(tls.dir, 'tls.key'), '--port', String(port), '--sidecar-image', SIDECAR_IMAGE],
    readyUrl: `${base}/readyz`,
    url: `${base}/mutating-pods-sidecar`,
    stderr: join(tls.dir, 'agnhost.log'),
  });
}

// ---- Pepr ----

/**
 * The syncthing container devx adds to the pod of `body` (read from devx's own answer, computed by its core): the Pepr
 * module adds this very container, so that the comparison is about how each gets there, not about what a sidecar is.
 */
export function devxSidecar(body: string): unknown {
  const view = staticView(parseAllDocuments(objectsYaml()).map((d) => d.toJS()));
  const out = answerReview('pods', JSON.parse(body), { view, now: new Date(), version: 'bench', signer: hmacSigner(randomRecordKey()) });
  const patch = (out.body as { response?: { patch?: string } }).response?.patch ?? '';
  const ops = JSON.parse(Buffer.from(patch, 'base64').toString('utf8') || '[]') as Array<{ op: string; path: string; value?: { name?: string } }>;
  const add = ops.find((o) => o.op === 'add' && /^\/spec\/containers\/\d+$/.test(o.path) && o.value?.name === 'devx-sync');
  if (!add) throw new Error("devx's answer for the bench's pod adds no devx-sync container");
  return add.value;
}

/** The bench's Pepr module as `build-real-parts.sh pepr` built it (the cache directory is keyed by its files). */
export function peprModuleDir(): string {
  const cache = process.env.DEVX_CACHE || join(homedir(), '.cache', 'devx');
  const prefix = `pepr-v${readVersions().PEPR_VERSION}-`;
  const dirs = readdirSync(cache).filter((d) => d.startsWith(prefix) && !d.endsWith('.tmp') && existsSync(join(cache, d, 'dist/pepr-devx-bench.js')));
  if (dirs.length !== 1) throw new Error(`expected one built Pepr module ${cache}/${prefix}*, found ${dirs.length}: run bash test/tools/build-real-parts.sh pepr`);
  return join(cache, dirs[0] as string);
}

/** What `pepr dev` applies before it starts a module (bench/peers/pepr/dev-setup.yaml). Once per control plane. */
export async function preparePepr(cp: ControlPlane): Promise<void> {
  const applied = await cp.kubectl(['apply', '-f', '-'], { input: readFileSync(join(ROOT, 'bench/peers/pepr/dev-setup.yaml'), 'utf8') });
  if (applied.code !== 0) throw new Error(`applying Pepr's dev setup failed: ${applied.stderr}`);
  const established = await cp.kubectl(['wait', '--for=condition=Established', 'crd/peprstores.pepr.dev', '--timeout=30s']);
  if (established.code !== 0) throw new Error(`the PeprStore CRD was not established: ${established.stderr}`);
}

/**
 * The module's bundle, run by the same Node.js as devx with the environment `pepr dev` gives it (pepr 1.1.4,
 * src/cli/dev.ts): PEPR_MODE=dev, PEPR_API_PATH (the secret path segment of /mutate/<path>), SSL_KEY_PATH and
 * SSL_CERT_PATH; plus the module's own two (its port, and devx's sidecar container). Two differences, both as a
 * deployed Pepr controller runs: LOG_LEVEL=info (pepr dev's default is debug, which logs every request body) and JSON
 * logs (pepr dev forces PEPR_PRETTY_LOGS=true, a pino-pretty transport). Its standard output, where it logs, goes to
 * /dev/null like devx's. The API server it talks to (its PeprStore) is the bench's control plane.
 */
export async function startPepr(tls: Tls, cp: ControlPlane, sidecar: unknown): Promise<Server> {
  const dir = peprModuleDir();
  const port = await freePort();
  const apiPath = randomBytes(16).toString('hex');
  const base = `https://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    KUBECONFIG: cp.kubeconfigPath,
    LOG_LEVEL: 'info',
    PEPR_MODE: 'dev',
    PEPR_API_PATH: apiPath,
    SSL_KEY_PATH: join(tls.dir, 'tls.key'),
    SSL_CERT_PATH: join(tls.dir, 'tls.crt'),
    DEVX_BENCH_PEPR_PORT: String(port),
    DEVX_BENCH_SIDECAR: JSON.stringify(sidecar),
  };
  return spawnServer({
    name: 'pepr',
    command: process.execPath,
    args: [join(dir, 'dist/pepr-devx-bench.js')],
    env,
    cwd: dir,
    // The controller binds /mutate only once its store is loaded from the API server (up to 3 s of jitter).
    readyUrl: `${base}/healthz`,
    url: `${base}/mutate/${apiPath}`,
    timeoutMs: 60_000,
    stderr: join(tls.dir, 'pepr.log'),
  });
}

// ---- Kyverno ----

export function kyvernoBinary(): string | undefined {
  const bin = join(realPartPaths().kyvernoDir, 'kyverno');
  return existsSync(bin) ? bin : undefined;
}

interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
}

function installDocs(): KubeObject[] {
  const text = readFileSync(join(realPartPaths().kyvernoDir, 'install.yaml'), 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((d): d is KubeObject => d !== null);
}

/**
 * Kyverno's own install manifest (config/install-latest-testing.yaml of its module: CRDs, Namespace, ConfigMaps, RBAC,
 * Services) without its Deployments, as DEVELOPMENT.md's "Debugging local code" sets a cluster up for a controller run
 * out of cluster; then the bench's ClusterPolicy. Once per control plane.
 */
export async function prepareKyverno(cp: ControlPlane): Promise<void> {
  const docs = installDocs().filter((d) => d.kind !== 'Deployment');
  const crds = docs.filter((d) => d.kind === 'CustomResourceDefinition');
  const rest = docs.filter((d) => d.kind !== 'CustomResourceDefinition');
  // Server-side: some of Kyverno's CRDs are larger than client-side apply's last-applied annotation allows.
  for (const group of [crds, rest]) {
    const applied = await cp.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: group.map((d) => stringify(d)).join('---\n'), timeoutMs: 120_000 });
    if (applied.code !== 0) throw new Error(`applying Kyverno's install manifest failed: ${applied.stderr}`);
    if (group === crds) {
      const est = await cp.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
      if (est.code !== 0) throw new Error(`Kyverno's CRDs were not established: ${est.stderr}`);
    }
  }
  const policy = await cp.kubectl(['apply', '-f', join(ROOT, 'bench/peers/kyverno/policy.yaml')]);
  if (policy.code !== 0) throw new Error(`applying the Kyverno policy failed: ${policy.stderr}`);
}

/**
 * The admission controller with the arguments and environment of its Deployment in the install manifest, plus what
 * running out of cluster needs (--kubeconfig, --serverIP and loopback ports for its webhook and metrics servers) and
 * one change: --admissionReports=false, so that Kyverno does not write a report to the shared API server for every
 * review (work that would go on into the next contender's phase). Ready when /health/readiness answers; the mutate
 * URL is the one Kyverno registers for Pods in its MutatingWebhookConfiguration.
 */
export async function startKyverno(tls: Tls, cp: ControlPlane, bin: string): Promise<Server> {
  const deployment = installDocs().find((d) => d.kind === 'Deployment' && d.metadata?.name === 'kyverno-admission-controller') as
    | (KubeObject & { spec: { template: { spec: { containers: Container[] } } } })
    | undefined;
  const container = deployment?.spec.template.spec.containers.find((c) => c.name === 'kyverno');
  if (!container) throw new Error("Kyverno's install manifest has no kyverno-admission-controller Deployment");
  const [port, metrics, runtimeMetrics] = await freePorts(3);
  const overrides: Record<string, string> = {
    webhookServerPort: String(port),
    metricsPort: String(metrics),
    controllerRuntimeMetricsAddress: `127.0.0.1:${runtimeMetrics}`,
    admissionReports: 'false',
  };
  const args = (container.args ?? []).filter((a) => !Object.keys(overrides).some((k) => a.startsWith(`--${k}=`)));
  args.push(...Object.entries(overrides).map(([k, v]) => `--${k}=${v}`));
  args.push(`--kubeconfig=${cp.kubeconfigPath}`, `--serverIP=127.0.0.1:${port}`, '--webhookServerHost=127.0.0.1', '--metricsHost=127.0.0.1');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  Object.assign(env, { KYVERNO_NAMESPACE: 'kyverno', KYVERNO_POD_NAME: 'kyverno-admission-controller-bench', TUF_ROOT: join(cp.dir, 'sigstore') });
  const base = `https://127.0.0.1:${port}`;
  const server = await spawnServer({ name: 'kyverno', command: bin, args, env, readyUrl: `${base}/health/readiness`, url: '', timeoutMs: 180_000, stderr: join(tls.dir, 'kyverno.log') });
  try {
    server.url = base + (await kyvernoPodPath(cp));
    return server;
  } catch (err) {
    await stopServer(server);
    throw err;
  }
}

interface WebhookConfig {
  webhooks?: Array<{ clientConfig?: { url?: string }; rules?: Array<{ resources?: string[]; operations?: string[] }> }>;
}

/** The path of the webhook Kyverno registered for Pod CREATE (it registers once its policy cache holds the policy). */
async function kyvernoPodPath(cp: ControlPlane): Promise<string> {
  const deadline = performance.now() + 120_000;
  while (performance.now() < deadline) {
    const got = await cp.kubectl(['get', 'mutatingwebhookconfiguration', 'kyverno-resource-mutating-webhook-cfg', '-o', 'json']);
    if (got.code === 0) {
      const cfg = JSON.parse(got.stdout) as WebhookConfig;
      const hook = cfg.webhooks?.find((w) => w.rules?.some((r) => r.resources?.includes('pods') && r.operations?.includes('CREATE')));
      const url = hook?.clientConfig?.url;
      if (url) return new URL(url).pathname;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('Kyverno registered no mutating webhook for pods within 120 s');
}

// ---- Does it really mutate? ----

interface PodLike {
  metadata?: { annotations?: Record<string, string> };
  spec: {
    containers: Array<{ name: string; image?: string; readinessProbe?: unknown; livenessProbe?: unknown; volumeMounts?: Array<{ name: string }> }>;
    volumes?: Array<{ name: string }>;
  };
}

export interface MutationCheck {
  ops: number;
  patchBytes: number;
  /** What the patch does to the pod, in words. */
  does: string;
  /** The patch itself. */
  patch: unknown[];
}

/**
 * POSTs the review once and reads the patch: allowed, a JSONPatch that applies to the pod, and the mutation expected
 * of that peer (`full`: devx's; `sidecar`: agnhost's, a container with the sidecar image). Throws otherwise: a peer
 * that answers allow without a patch is not a peer.
 */
export async function checkMutation(server: Server, body: string, expect: 'full' | 'sidecar'): Promise<MutationCheck> {
  const { status, json } = await postReview(server.url, body);
  const response = (json as { response?: { allowed?: boolean; patch?: string; patchType?: string } }).response;
  if (status !== 200 || !response?.allowed) throw new Error(`${server.name} did not allow the review (HTTP ${status}): ${JSON.stringify(json).slice(0, 300)}`);
  if (response.patchType !== 'JSONPatch' || !response.patch) throw new Error(`${server.name} allowed the pod without a patch: it is not doing the mutation`);
  const patchText = Buffer.from(response.patch, 'base64').toString('utf8');
  const ops = JSON.parse(patchText) as jsonPatch.Operation[];
  const pod = (JSON.parse(body) as { request: { object: PodLike } }).request.object;
  const after = jsonPatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;
  const added = after.spec.containers.filter((c) => !pod.spec.containers.some((o) => o.name === c.name));
  const sidecar = added.find((c) => c.image === SIDECAR_IMAGE);
  if (!sidecar) throw new Error(`${server.name}'s patch adds no ${SIDECAR_IMAGE} container`);
  const target = after.spec.containers[0];
  const newVolumes = (after.spec.volumes ?? []).filter((v) => !(pod.spec.volumes ?? []).some((o) => o.name === v.name)).map((v) => v.name);
  const probesGone = !target?.readinessProbe && !target?.livenessProbe;
  const devImage = target?.image !== pod.spec.containers[0]?.image;
  const mounts = (target?.volumeMounts ?? []).some((m) => newVolumes.includes(m.name));
  const names = (xs: Array<{ name: string }> | undefined): string[] => (xs ?? []).map((x) => x.name);
  const lost = [
    ...names(pod.spec.volumes).filter((n) => !names(after.spec.volumes).includes(n)),
    ...names(pod.spec.containers[0]?.volumeMounts).filter((n) => !names(target?.volumeMounts).includes(n)),
    ...names(pod.spec.containers).filter((n) => !names(after.spec.containers).includes(n)),
  ];
  if (lost.length > 0) throw new Error(`${server.name}'s patch loses what the pod had: ${lost.join(', ')}`);
  const records = Object.keys(after.metadata?.annotations ?? {}).filter((k) => k.startsWith('dev.x/') && after.metadata?.annotations?.[k] !== pod.metadata?.annotations?.[k]);
  const words = [
    `sidecar ${sidecar.name}`,
    devImage ? `dev image ${target?.image}` : 'image kept',
    probesGone ? 'probes stripped' : 'probes kept',
    `${newVolumes.length} volume(s) added${mounts ? ' and mounted' : ''}`,
    records.length > 0 ? `records ${records.join(', ')}` : 'no dev.x records',
  ];
  if (expect === 'full' && !(devImage && probesGone && newVolumes.length === 3 && mounts)) {
    throw new Error(`${server.name}'s patch does not do devx's mutation: ${words.join('; ')}`);
  }
  return { ops: ops.length, patchBytes: patchText.length, does: words.join('; '), patch: ops };
}

/** checkMutation, retried while the server is still loading its policy (Kyverno answers before its cache is warm). */
export async function awaitMutation(server: Server, body: string, expect: 'full' | 'sidecar', timeoutMs = 60_000): Promise<MutationCheck> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await checkMutation(server, body, expect);
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
