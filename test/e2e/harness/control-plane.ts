// A real Kubernetes control plane for the end-to-end tests: etcd, kube-apiserver and kube-controller-manager built
// from Go modules (`npm run real-parts`), on loopback ports, with certificates made here. There is no scheduler and no
// kubelet, so pods stay Pending; admission, validation, RBAC, Pod Security and the workload controllers are real.
// The flags follow controller-runtime's envtest, with what envtest leaves out for speed put back in: the
// ServiceAccount admission plugin and a controller-manager (Deployments get ReplicaSets and Pods, namespaces get
// their `default` ServiceAccount and are really deleted, owners are garbage-collected).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { isAlive } from '../../../src/agent/pidfile.ts';
import { generateCA, issueCertificate } from '../../../src/tls/pki.ts';
import { generateRsaKeyPem } from '../../support/rsa-key.ts';
import type { KeyPairPem } from '../../../src/tls/pki.ts';
import { httpsRequest } from './https-client.ts';
import type { HttpsResult, TlsClientIdentity } from './https-client.ts';
import { freePorts, LOOPBACK } from './ports.ts';
import { registerDir, runToEnd, startProcess, unregisterDir, waitFor } from './processes.ts';
import type { ManagedProcess, RunResult } from './processes.ts';
import { requireRealParts } from './real-parts.ts';
import type { RealParts } from './real-parts.ts';

export interface ControlPlaneOptions {
  /** Start kube-controller-manager (default true). Without it nothing creates ServiceAccounts or Pods. */
  controllerManager?: boolean;
  /** Appended to the kube-apiserver flags (a later flag wins), e.g. `--feature-gates=…`. */
  extraApiServerFlags?: string[];
  /** Per component (default 60 s; a cold start on two busy cores can take a while). */
  startTimeoutMs?: number;
  /** More kube-controller-manager controllers than CONTROLLERS (a node's pods need `root-ca-certificate-publisher-controller`). */
  extraControllers?: string[];
  /**
   * Ready for a node (test/e2e/harness/node.ts): kube-apiserver gets a client certificate for kubelets (logs, exec and
   * port-forward), the Node authorizer and the NodeRestriction admission plugin, as kubeadm sets them up.
   */
  forNode?: boolean;
  /** The kubectl binary of kubectl() (default DEVX_KUBECTL, else `kubectl` on PATH). */
  kubectl?: string;
  /**
   * The address kube-apiserver binds and advertises (default 127.0.0.1). A node's pods reach the API server through
   * the `kubernetes` Service, whose endpoint is this address: it must be one they can reach and not loopback (the node
   * IP, on an interface the node harness creates).
   */
  address?: string;
}

export interface KubectlOptions {
  /** `--as`: impersonate this user (the admin may impersonate anyone). */
  as?: string;
  /** `--as-group`, repeated. */
  asGroups?: string[];
  /** Written to kubectl's standard input (for `-f -`). */
  input?: string;
  namespace?: string;
  /** Kill kubectl after this long (default 60 s). */
  timeoutMs?: number;
}

export type KubectlResult = RunResult;

/** Milliseconds from the start of startControlPlane() until each part was done / healthy. */
export interface StartTimings {
  pki: number;
  etcd: number;
  apiServer: number;
  controllerManager: number;
  total: number;
}

export interface ControlPlane {
  /** Temporary directory with certificates, data, logs (`*.log`) and the kubeconfig; removed by stop(). */
  readonly dir: string;
  readonly kubeconfigPath: string;
  /** `https://127.0.0.1:PORT` */
  readonly server: string;
  /** CA that signed the serving certificate and every client certificate. */
  readonly ca: KeyPairPem;
  /** Admin client identity (O=system:masters: bypasses RBAC), with the CA to trust. */
  readonly admin: TlsClientIdentity;
  readonly etcdUrl: string;
  readonly timings: StartTimings;
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** A raw API request as the admin, e.g. `request('GET', '/api/v1/namespaces')`. */
  request(method: string, apiPath: string, body?: unknown): Promise<HttpsResult>;
  /**
   * Creates a namespace and waits for its `default` ServiceAccount (pods are rejected before it exists; without a
   * controller-manager there is nothing to wait for).
   */
  createNamespace(name: string, labels?: Record<string, string>): Promise<void>;
  /** Stops kube-apiserver and starts it again on the same port, with the same certificates and etcd. */
  restartApiServer(): Promise<void>;
  /** Stops only kube-apiserver (e.g. to test clients across an outage); startApiServer() brings it back. */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  /** Process ids of the running components. */
  pids(): number[];
  /** Stops every component (SIGTERM, then SIGKILL) and removes `dir`. Safe to call more than once. */
  stop(): Promise<void>;
}

const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'daemonset-controller',
  'job-controller',
  'cronjob-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'namespace-controller',
  'garbage-collector-controller',
  // The built-in admin/edit/view ClusterRoles are aggregated: without this controller they grant nothing, and tests
  // that bind a developer to `edit` would see a cluster unlike any real one.
  'clusterrole-aggregation-controller',
  // Type-checks ValidatingAdmissionPolicies against the kinds they match and reports it in their status, as in a
  // real cluster (test/e2e/admission-policies.test.ts reads it).
  'validatingadmissionpolicy-status-controller',
  // Lifts the API server's kubernetes.io/pvc-protection finalizer from a deleted claim no scheduled pod uses: without
  // it a deleted PersistentVolumeClaim (devx's workdir claims) would stay Terminating for ever.
  'persistentvolumeclaim-protection-controller',
];
const DAY_MS = 24 * 60 * 60 * 1000;
const STOP_GRACE_MS = 5000;

interface Layout {
  dir: string;
  parts: RealParts;
  /** Where kube-apiserver listens (ControlPlaneOptions.address). */
  address: string;
  ports: { etcdClient: number; etcdPeer: number; apiServer: number; controllerManager: number };
  file: (name: string) => string;
}

interface Pki {
  ca: KeyPairPem;
  admin: KeyPairPem;
  controllerManager: KeyPairPem;
}

function writeFile(file: string, content: string): void {
  fs.writeFileSync(file, content, { mode: 0o600 });
}

/** Every certificate and key the components need, written into the layout's directory. */
function makePki(l: Layout): Pki {
  const notBefore = new Date(Date.now() - 60_000);
  const validityMs = DAY_MS;
  const ca = generateCA({ commonName: 'devx-e2e-ca', notBefore, validityMs });
  const serving = issueCertificate(ca, {
    commonName: 'kube-apiserver',
    usage: 'server',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
    ipAddresses: [...new Set([LOOPBACK, '10.0.0.1', l.address])],
    notBefore,
    validityMs,
  });
  const admin = issueCertificate(ca, { commonName: 'devx-e2e-admin', organizations: ['system:masters'], usage: 'client', notBefore, validityMs });
  // Its own name in audit and logs; system:masters because with --use-service-account-credentials=false the
  // controllers act as the controller-manager itself.
  const controllerManager = issueCertificate(ca, {
    commonName: 'system:kube-controller-manager',
    organizations: ['system:masters'],
    usage: 'client',
    notBefore,
    validityMs,
  });
  const sa = generateRsaKeyPem();
  writeFile(l.file('ca.crt'), ca.certPem);
  writeFile(l.file('apiserver.crt'), serving.certPem);
  writeFile(l.file('apiserver.key'), serving.keyPem);
  writeFile(l.file('sa.key'), sa.privateKeyPem);
  writeFile(l.file('sa.pub'), sa.publicKeyPem);
  // kube-apiserver's identity towards kubelets (exec, logs, port-forward), authorized by the kubelet's webhook.
  const kubeletClient = issueCertificate(ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usage: 'client', notBefore, validityMs });
  writeFile(l.file('apiserver-kubelet-client.crt'), kubeletClient.certPem);
  writeFile(l.file('apiserver-kubelet-client.key'), kubeletClient.keyPem);
  return { ca, admin, controllerManager };
}

/** A kubeconfig for `server` that trusts `ca` and authenticates with `user`'s client certificate. */
export function kubeconfig(server: string, ca: KeyPairPem, user: KeyPairPem): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'devx-e2e', cluster: { server, 'certificate-authority-data': b64(ca.certPem) } }],
    users: [{ name: 'admin', user: { 'client-certificate-data': b64(user.certPem), 'client-key-data': b64(user.keyPem) } }],
    contexts: [{ name: 'devx-e2e', context: { cluster: 'devx-e2e', user: 'admin' } }],
    'current-context': 'devx-e2e',
  });
}

function etcdArgs(l: Layout): string[] {
  const client = `http://${LOOPBACK}:${l.ports.etcdClient}`;
  const peer = `http://${LOOPBACK}:${l.ports.etcdPeer}`;
  return [
    `--data-dir=${l.file('etcd-data')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    // Throwaway data: no fsync makes every write (and so every API request) much faster.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}

function apiServerArgs(l: Layout, opts: ControlPlaneOptions): string[] {
  const forNode = opts.forNode
    ? [
        `--kubelet-client-certificate=${l.file('apiserver-kubelet-client.crt')}`,
        `--kubelet-client-key=${l.file('apiserver-kubelet-client.key')}`,
        '--enable-admission-plugins=NodeRestriction',
        // The node's name resolves nowhere; its InternalIP is on this host.
        '--kubelet-preferred-address-types=InternalIP',
        // Webhooks behind a Service are called at an endpoint of it (a pod IP, reachable from this host), as for
        // aggregated APIs: the same resolver serves both. The Service's cluster IP would need kube-proxy on this host.
        '--enable-aggregator-routing=true',
      ]
    : [];
  const server = `https://${l.address}:${l.ports.apiServer}`;
  return [
    `--etcd-servers=http://${LOOPBACK}:${l.ports.etcdClient}`,
    `--bind-address=${l.address}`,
    `--advertise-address=${l.address}`,
    // 1.37 refuses a loopback advertise address for the `kubernetes` Service endpoints ("may not be in the loopback
    // range"); on loopback nothing reaches the API server through that Service, so no endpoint reconciler at all.
    ...(l.address === LOOPBACK ? ['--endpoint-reconciler-type=none'] : []),
    `--secure-port=${l.ports.apiServer}`,
    `--cert-dir=${l.file('apiserver-certs')}`,
    `--tls-cert-file=${l.file('apiserver.crt')}`,
    `--tls-private-key-file=${l.file('apiserver.key')}`,
    `--client-ca-file=${l.file('ca.crt')}`,
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${l.file('sa.pub')}`,
    `--service-account-signing-key-file=${l.file('sa.key')}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    // RBAC only: `kubectl --as=someone` is really allowed or denied; the admin (system:masters) bypasses it.
    opts.forNode ? '--authorization-mode=Node,RBAC' : '--authorization-mode=RBAC',
    '--allow-privileged=true',
    // Without a watch grace period a SIGTERM'd API server waits for open watches (e.g. an informer under test) until
    // it is killed; with one it ends them and exits in about a second.
    '--shutdown-watch-termination-grace-period=1s',
    // The default admission plugins stay as they are (ServiceAccount, PodSecurity, Mutating/ValidatingAdmissionWebhook,
    // …); envtest disables ServiceAccount because it runs no controller-manager, this harness does run one.
    ...forNode,
    ...(opts.extraApiServerFlags ?? []),
  ];
}

function controllerManagerArgs(l: Layout, extraControllers: string[]): string[] {
  return [
    `--kubeconfig=${l.file('controller-manager.kubeconfig')}`,
    `--controllers=${[...CONTROLLERS, ...extraControllers].join(',')}`,
    '--use-service-account-credentials=false',
    '--leader-elect=false',
    `--service-account-private-key-file=${l.file('sa.key')}`,
    `--root-ca-file=${l.file('ca.crt')}`,
    `--bind-address=${LOOPBACK}`,
    `--secure-port=${l.ports.controllerManager}`,
    `--cert-dir=${l.file('controller-manager-certs')}`,
  ];
}

/** Runs kubectl (`bin`, else DEVX_KUBECTL, else `kubectl` on PATH) against the given kubeconfig only. */
function runKubectl(kubeconfigPath: string, args: string[], opts: KubectlOptions, bin?: string): Promise<KubectlResult> {
  const full = [`--kubeconfig=${kubeconfigPath}`];
  if (opts.as !== undefined) full.push(`--as=${opts.as}`);
  for (const g of opts.asGroups ?? []) full.push(`--as-group=${g}`);
  if (opts.namespace !== undefined) full.push(`--namespace=${opts.namespace}`);
  full.push(...args);
  return runToEnd(bin ?? process.env.DEVX_KUBECTL ?? 'kubectl', full, { env: { ...process.env, KUBECONFIG: kubeconfigPath }, input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
}

async function etcdHealthy(url: string): Promise<boolean> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) return false;
  const body = (await res.json()) as { health?: string };
  return body.health === 'true';
}

class Cluster implements ControlPlane {
  readonly dir: string;
  readonly kubeconfigPath: string;
  readonly server: string;
  readonly ca: KeyPairPem;
  readonly admin: TlsClientIdentity;
  readonly etcdUrl: string;
  readonly timings: StartTimings = { pki: 0, etcd: 0, apiServer: 0, controllerManager: 0, total: 0 };
  #layout: Layout;
  #opts: ControlPlaneOptions;
  #etcd: ManagedProcess | undefined;
  #apiServer: ManagedProcess | undefined;
  #controllerManager: ManagedProcess | undefined;
  #stopped: Promise<void> | undefined;

  constructor(layout: Layout, opts: ControlPlaneOptions) {
    this.#layout = layout;
    this.#opts = opts;
    this.dir = layout.dir;
    this.kubeconfigPath = layout.file('admin.kubeconfig');
    this.server = `https://${layout.address}:${layout.ports.apiServer}`;
    this.etcdUrl = `http://${LOOPBACK}:${layout.ports.etcdClient}`;
    // Filled in by start(); the fields are readonly for users of the handle.
    this.ca = { certPem: '', keyPem: '' };
    this.admin = { caPem: '', certPem: '', keyPem: '' };
  }

  get #timeoutMs(): number {
    return this.#opts.startTimeoutMs ?? 60_000;
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    const l = this.#layout;
    // etcd needs no certificates: start it first and make the PKI while it boots.
    this.#etcd = startProcess({ name: 'etcd', bin: l.parts.etcd, args: etcdArgs(l), logPath: l.file('etcd.log') });
    const pki = makePki(l);
    Object.assign(this.ca, pki.ca);
    Object.assign(this.admin, { caPem: pki.ca.certPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem });
    writeFile(this.kubeconfigPath, kubeconfig(this.server, pki.ca, pki.admin));
    writeFile(l.file('controller-manager.kubeconfig'), kubeconfig(this.server, pki.ca, pki.controllerManager));
    this.timings.pki = performance.now() - t0;
    // The API server retries etcd while it boots, so both start at once; the waits keep failures attributable.
    const apiServerReady = this.startApiServer();
    apiServerReady.catch(() => {}); // awaited below; do not let an early rejection go unhandled meanwhile
    await waitFor({ what: 'etcd /health', probe: () => etcdHealthy(this.etcdUrl), timeoutMs: this.#timeoutMs, watch: [this.#etcd] });
    this.timings.etcd = performance.now() - t0;
    await apiServerReady;
    this.timings.apiServer = performance.now() - t0;
    if (this.#opts.controllerManager !== false) await this.#startControllerManager();
    this.timings.controllerManager = performance.now() - t0;
    this.timings.total = performance.now() - t0;
  }

  async startApiServer(): Promise<void> {
    if (this.#apiServer?.running()) return;
    const l = this.#layout;
    const args = apiServerArgs(l, this.#opts);
    this.#apiServer = startProcess({ name: 'kube-apiserver', bin: l.parts.kubeApiserver, args, logPath: l.file('kube-apiserver.log') });
    const watch = [this.#apiServer, this.#etcd].filter((p): p is ManagedProcess => p !== undefined);
    await waitFor({
      what: 'kube-apiserver /readyz',
      probe: async () => (await this.request('GET', '/readyz')).status === 200,
      timeoutMs: this.#timeoutMs,
      watch,
    });
  }

  async stopApiServer(): Promise<void> {
    await this.#apiServer?.stop(STOP_GRACE_MS);
  }

  async restartApiServer(): Promise<void> {
    await this.stopApiServer();
    await this.startApiServer();
  }

  async #startControllerManager(): Promise<void> {
    const l = this.#layout;
    const args = controllerManagerArgs(l, this.#opts.extraControllers ?? []);
    const kcm = startProcess({ name: 'kube-controller-manager', bin: l.parts.kubeControllerManager, args, logPath: l.file('kube-controller-manager.log') });
    this.#controllerManager = kcm;
    // /healthz is served without authentication (always-allow path); the serving certificate is self-signed.
    const url = `https://${LOOPBACK}:${l.ports.controllerManager}/healthz`;
    await waitFor({
      what: 'kube-controller-manager /healthz',
      probe: async () => (await httpsRequest({ url, timeoutMs: 2000 })).status === 200,
      timeoutMs: this.#timeoutMs,
      watch: [kcm],
    });
  }

  kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
    return runKubectl(this.kubeconfigPath, args, opts, this.#opts.kubectl);
  }

  request(method: string, apiPath: string, body?: unknown): Promise<HttpsResult> {
    return httpsRequest({ url: `${this.server}${apiPath}`, method, body, tls: this.admin });
  }

  async createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
    const res = await this.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    if (res.status !== 201) throw new Error(`creating namespace ${name}: HTTP ${res.status}: ${res.body}`);
    if (!this.#controllerManager) return; // nothing would ever create the ServiceAccount
    const watch = [this.#apiServer, this.#controllerManager].filter((p): p is ManagedProcess => p !== undefined);
    await waitFor({
      what: `ServiceAccount ${name}/default`,
      probe: async () => (await this.request('GET', `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200,
      timeoutMs: 30_000,
      watch,
    });
  }

  pids(): number[] {
    return [this.#etcd, this.#apiServer, this.#controllerManager].filter((p) => p?.running()).map((p) => (p as ManagedProcess).pid);
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    // The API server goes before etcd, or it spends its shutdown retrying etcd.
    await Promise.all([this.#controllerManager?.stop(STOP_GRACE_MS), this.#apiServer?.stop(STOP_GRACE_MS)]);
    await this.#etcd?.stop(STOP_GRACE_MS);
    fs.rmSync(this.dir, { recursive: true, force: true });
    unregisterDir(this.dir);
  }
}

const DIR_PREFIX = 'devx-cp-';
const OWNER_FILE = 'owner.pid';

/**
 * Removes directories of control planes whose test process was SIGKILLed (the one way no handler runs; the
 * components themselves died with it through the parent-death signal).
 */
function removeAbandonedDirs(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), name);
    let owner: number;
    try {
      owner = Number(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // still being created, or not ours
    }
    if (owner > 0 && !isAlive(owner)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts etcd, kube-apiserver and (unless disabled) kube-controller-manager on free loopback ports and waits until
 * each one is healthy. On failure everything already started is stopped again and the error carries the tail of the
 * failing component's log.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const names = ['etcd', 'kubeApiserver', ...(opts.controllerManager === false ? [] : ['kubeControllerManager'])] as const;
  const parts = requireRealParts(names as ReadonlyArray<'etcd' | 'kubeApiserver' | 'kubeControllerManager'>);
  removeAbandonedDirs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), DIR_PREFIX));
  registerDir(dir);
  fs.writeFileSync(path.join(dir, OWNER_FILE), String(process.pid));
  const [etcdClient, etcdPeer, apiServer, controllerManager] = (await freePorts(4)) as [number, number, number, number];
  const layout: Layout = { dir, parts, address: opts.address ?? LOOPBACK, ports: { etcdClient, etcdPeer, apiServer, controllerManager }, file: (n) => path.join(dir, n) };
  const cluster = new Cluster(layout, opts);
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
