// A real node for the end-to-end tests and the demo: kube-scheduler, containerd (with runc and the CNI bridge) and a
// kubelet, joined to a control plane of control-plane.ts. Pods really run: images come from OCI archives the
// project writes itself (test/tools/node-images), imported into containerd; there is no registry and no route out.
//
// What the host needs: root, cgroup v1 or v2 hierarchies, overlayfs, network namespaces, iproute2, and Debian's runc
// (`npm run real-parts` installs it when missing). What this module changes on the host, and undoes in stop() (or,
// after a SIGKILL'd test process, at the next start):
// - a bridge `devx-node0` holding the node IP (the kubelet refuses a loopback node IP; there is no dummy link type),
//   and the CNI bridge `devx-cni0` with the pods' gateway address;
// - `blackhole` routes around the pod and Service ranges, so that no packet for them can take the default route;
//   pods get a route to the node range only, and nothing arriving from their bridge is forwarded (the host's own
//   forwarding setting is left as it was), so pods reach nothing but each other and this host;
// - its own cgroup directory under every hierarchy (the kubelet's cgroupRoot), never the mounts themselves;
// - three sysctls the kubelet rewrites (kernel.panic, kernel.panic_on_oops, vm.overcommit_memory), and IP forwarding,
//   saved and restored;
// - entries under the few paths that cannot be moved (/run/containerd, /var/lib/cni, /var/log/containers,
//   /var/lib/kubelet/device-plugins): only those it created are removed.
// Everything else lives in one directory under the system temp directory.
//
// One node at a time per machine (its links, routes and ports are fixed): a lock file serialises users.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { isAlive } from '../../../src/agent/pidfile.ts';
import { issueCertificate } from '../../../src/tls/pki.ts';
import type { KeyPairPem } from '../../../src/tls/pki.ts';
import { kubeconfig, startControlPlane } from './control-plane.ts';
import type { ControlPlane, ControlPlaneOptions } from './control-plane.ts';
import { httpsRequest } from './https-client.ts';
import { freePorts, LOOPBACK } from './ports.ts';
import { registerDir, registerExitCleanup, runToEnd, startProcess, unregisterDir, unregisterExitCleanup, waitFor } from './processes.ts';
import type { ManagedProcess, RunResult } from './processes.ts';
import { requireRealParts } from './real-parts.ts';
import type { RealParts } from './real-parts.ts';

export const NODE_NAME = 'devx-node';
/** The node's InternalIP, on the `devx-node0` bridge. */
export const NODE_IP = '10.213.0.2';
/** The pods' addresses (host-local IPAM on the `devx-cni0` bridge, whose address is the first of the range). */
export const POD_SUBNET = '10.213.1.0/24';
const POD_GATEWAY = '10.213.1.1/24';
/** The node's and the pods' addresses. */
export const NODE_RANGE = '10.213.0.0/16';
/** The control plane's Service range (--service-cluster-ip-range): kube-proxy translates it on this host only. */
const SERVICE_RANGE = '10.0.0.0/24';
/** Blackholed while the node runs: the node and pod ranges, and the Service range, so none can take the default route. */
const BLACKHOLES = [NODE_RANGE, SERVICE_RANGE];
const NODE_LINK = 'devx-node0';
const CNI_BRIDGE = 'devx-cni0';
// The kubelet rewrites the first three; IP forwarding is saved too, and checked by the node tests to stay as it was.
const SYSCTLS = ['kernel/panic', 'kernel/panic_on_oops', 'vm/overcommit_memory', 'net/ipv4/ip_forward'];
const FIXED_DIRS = ['/run/containerd', '/var/lib/cni', '/var/log/containers', '/var/lib/kubelet'];
const DIR_PREFIX = 'devx-node-';
const LOCK_FILE = path.join(os.tmpdir(), 'devx-node.lock');
const STOP_GRACE_MS = 5000;

/** The images of test/tools/node-images, by role; each is imported under its full name. */
export interface NodeImages {
  pause: string;
  syncthing: string;
  dev: string;
  devNonroot: string;
  reviews: string;
}

/** A DevPolicy spec for the node's stand-in images: `reviews` gets the dev image, devx.local images are allowed, and the
 * sidecar is the syncthing stand-in. */
export function nodePolicySpec(images: NodeImages): Record<string, unknown> {
  return { images: [{ match: 'devx.local/reviews:*', devImage: images.dev }], allowedImages: ['devx.local/*'], sidecar: { image: images.syncthing }, maxDuration: '8h' };
}

/** A pod Running with every container reported and ready. */
export function podReady(p: any): boolean {
  const statuses: Array<{ ready?: boolean }> = p?.status?.containerStatuses ?? [];
  return p?.status?.phase === 'Running' && statuses.length > 0 && statuses.every((st) => st.ready === true);
}

export interface Node {
  readonly name: string;
  readonly ip: string;
  readonly dir: string;
  readonly images: NodeImages;
  /** Milliseconds from the start of startNode() until containerd, the images, the kubelet and a Ready node. */
  readonly timings: { containerd: number; images: number; kubelet: number; ready: number };
  /** Runs ctr against this node's containerd, in the `k8s.io` namespace. */
  ctr(args: string[]): Promise<RunResult>;
  pids(): number[];
  stop(): Promise<void>;
}

export interface NodeCluster extends ControlPlane {
  readonly node: Node;
}

interface HostState {
  sysctls: Record<string, string>;
  /** Entries of FIXED_DIRS before the node started, and whether each directory existed. */
  before: Record<string, string[] | null>;
  cgroupDirs: string[];
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function trySh(cmd: string, args: string[]): void {
  try {
    sh(cmd, args);
  } catch {
    // already undone
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function listDir(dir: string): string[] | null {
  try {
    return fs.readdirSync(dir);
  } catch {
    return null;
  }
}

/** The cgroup v1 hierarchies (and the v2 one, if mounted on its own), as directories under /sys/fs/cgroup. */
function cgroupHierarchies(): string[] {
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n');
  return mounts
    .map((l) => l.split(' '))
    .filter((f) => (f[2] === 'cgroup' || f[2] === 'cgroup2') && f[1] !== undefined)
    .map((f) => f[1] as string);
}

function makeCgroupDirs(name: string): string[] {
  const dirs: string[] = [];
  for (const h of cgroupHierarchies()) {
    const d = path.join(h, name);
    fs.mkdirSync(d, { recursive: true });
    dirs.push(d);
    if (path.basename(h) === 'cpuset' || fs.existsSync(path.join(h, 'cpuset.cpus'))) {
      // A new v1 cpuset is empty, and a task cannot join an empty one: inherit the parent's.
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        const parent = path.join(h, f);
        if (fs.existsSync(parent) && fs.existsSync(path.join(d, f))) fs.writeFileSync(path.join(d, f), fs.readFileSync(parent, 'utf8').trim());
      }
    }
  }
  return dirs;
}

/** Every process in the cgroup tree under `dir` (one hierarchy suffices: every task is in every hierarchy). */
function cgroupProcs(dir: string): number[] {
  const pids: number[] = [];
  // Cgroups come and go while this walks (the kubelet and runc remove theirs): a vanished one has no processes.
  const walk = (d: string): void => {
    for (const f of listDir(d) ?? []) {
      const p = path.join(d, f);
      if (f === 'cgroup.procs') pids.push(...readOr(p, '').split('\n').filter(Boolean).map(Number));
      else if (fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return pids;
}

/** rmdir the tree bottom-up (a cgroup directory holds only control files, which rmdir ignores). */
function removeCgroupTree(dir: string): void {
  for (const f of listDir(dir) ?? []) {
    const p = path.join(dir, f);
    if (fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) removeCgroupTree(p);
  }
  try {
    fs.rmdirSync(dir);
  } catch {
    // a task still exiting; the caller retries
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Processes whose command line contains `needle` (containerd's shims outlive containerd; they carry its address). */
function processesWith(needle: string): number[] {
  const out: number[] = [];
  for (const p of listDir('/proc') ?? []) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

/** Unmounts everything mounted under `dir`, deepest first (secret tmpfs, overlay rootfs, network namespaces). */
function unmountUnder(dir: string): void {
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of points) trySh('umount', ['-l', m]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Synchronous sleep: cleanHost also runs in the test process's exit handler, where nothing asynchronous can. */
const sleepSync = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** SIGKILLs the node's pods (every process in its cgroups), until none is left. */
function killPods(cgroupName: string, alsoWith?: string): void {
  const hierarchies = cgroupHierarchies().map((h) => path.join(h, cgroupName));
  for (let i = 0; i < 20; i++) {
    const procs = new Set([...hierarchies.flatMap((h) => cgroupProcs(h)), ...(alsoWith ? processesWith(alsoWith) : [])]);
    if (procs.size === 0) return;
    for (const pid of procs) killQuietly(pid);
    sleepSync(250);
  }
}

/**
 * Undoes what a node made on the host; safe on a half-started node, on one whose test process was killed, and in an
 * exit handler (synchronous throughout).
 */
function cleanHost(dir: string, cgroupName: string, state: HostState | undefined): void {
  // The pods, then containerd's shims (they outlive containerd and carry its socket's path).
  killPods(cgroupName, `${dir}/containerd.sock`);
  unmountUnder(dir);
  for (const h of cgroupHierarchies().map((x) => path.join(x, cgroupName))) {
    for (let i = 0; i < 10 && fs.existsSync(h); i++) {
      removeCgroupTree(h);
      if (fs.existsSync(h)) sleepSync(200);
    }
  }
  for (const family of ['ip', 'ip6']) trySh('nft', ['delete', 'table', family, 'kube-proxy']);
  trySh('ip', ['link', 'del', CNI_BRIDGE]);
  trySh('ip', ['link', 'del', NODE_LINK]);
  for (const r of BLACKHOLES) trySh('ip', ['route', 'del', 'blackhole', r]);
  if (state) {
    for (const [k, v] of Object.entries(state.sysctls)) fs.writeFileSync(`/proc/sys/${k}`, v);
    for (const d of FIXED_DIRS) removeNew(d, state.before[d] ?? null);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Removes what appeared in `dir` since `before` (the whole directory if it did not exist). */
function removeNew(dir: string, before: string[] | null): void {
  if (before === null) {
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  }
  const keep = new Set(before);
  for (const f of listDir(dir) ?? []) if (!keep.has(f)) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
}

interface Layout {
  dir: string;
  parts: RealParts;
  cgroupName: string;
  ports: { kubelet: number; kubeletHealthz: number; scheduler: number; proxyHealthz: number; proxyMetrics: number };
  file: (name: string) => string;
}

function containerdConfig(l: Layout, images: NodeImages): string {
  const q = (s: string): string => JSON.stringify(s);
  return `version = 4
root = ${q(l.file('containerd/root'))}
state = ${q(l.file('containerd/state'))}
disabled_plugins = ['io.containerd.nri.v1.nri', 'io.containerd.snapshotter.v1.erofs', 'io.containerd.differ.v1.erofs', 'io.containerd.snapshotter.v1.blockfile', 'io.containerd.tracing.processor.v1.otlp', 'io.containerd.internal.v1.tracing']
imports = []

[plugins.'io.containerd.server.v1.grpc']
  address = ${q(l.file('containerd.sock'))}
[plugins.'io.containerd.server.v1.ttrpc']
  address = ${q(l.file('containerd.sock.ttrpc'))}
[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = ${q(images.pause)}
[plugins.'io.containerd.cri.v1.runtime']
  # The sandbox lacks CAP_SYS_RESOURCE: without this, runc fails to lower a container's oom_score_adj.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  enable_criu = false
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      BinaryName = ${q(runcPath())}
      Root = ${q(l.file('runc'))}
      SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [${q(l.parts.cniDir)}]
    conf_dir = ${q(l.file('cni/net.d'))}
`;
}

function cniConfig(l: Layout): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'devx',
    plugins: [
      {
        type: 'bridge',
        bridge: CNI_BRIDGE,
        // Not the plugin's gateway mode: that switches the host's IP forwarding on for good. The harness gives the
        // bridge the gateway address itself (a connected route to the pods, so the kubelet's probes reach them here
        // rather than taking the default route), and the pods get routes to 10.213.0.0/16 (the node IP, each other)
        // and the Service range (kube-proxy translates it here) only: no default route, nothing to forward.
        isGateway: false,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: POD_SUBNET, gateway: POD_GATEWAY.split('/')[0] }]],
          routes: [
            { dst: NODE_RANGE, gw: POD_GATEWAY.split('/')[0] },
            { dst: SERVICE_RANGE, gw: POD_GATEWAY.split('/')[0] },
          ],
          dataDir: l.file('cni/ipam'),
        },
      },
    ],
  });
}

function kubeletConfig(l: Layout): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_IP,
    port: l.ports.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: LOOPBACK,
    healthzPort: l.ports.kubeletHealthz,
    tlsCertFile: l.file('kubelet.crt'),
    tlsPrivateKeyFile: l.file('kubelet.key'),
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: l.file('ca.crt') } },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${l.file('containerd.sock')}`,
    imageServiceEndpoint: `unix://${l.file('containerd.sock')}`,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${l.cgroupName}`,
    failCgroupV1: false,
    failSwapOn: false,
    podLogsDir: l.file('pod-logs'),
    volumePluginDir: l.file('volume-plugins'),
    // No cluster DNS, and none of the host's resolvers in pods.
    resolvConf: '',
    // The imported images cannot be pulled again: never collect them.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    // Mounted Secrets follow their object within seconds (the default is a minute).
    syncFrequency: '5s',
    serializeImagePulls: false,
    registerNode: true,
  });
}

function kubeProxyConfig(l: Layout): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'nftables',
    clientConnection: { kubeconfig: l.file('kube-proxy.kubeconfig') },
    hostnameOverride: NODE_NAME,
    clusterCIDR: POD_SUBNET,
    healthzBindAddress: `${LOOPBACK}:${l.ports.proxyHealthz}`,
    metricsBindAddress: `${LOOPBACK}:${l.ports.proxyMetrics}`,
    // NodePorts on the node IP only, never on the host's own interfaces.
    nodePortAddresses: [`${NODE_IP}/32`],
    // Leave the host's conntrack sysctls alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
  });
}

function runcPath(): string {
  const found = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'].find((p) => fs.existsSync(p));
  if (!found) throw new Error('runc is not installed: run `npm run real-parts` (installs Debian\'s runc) or `apt-get install -y runc`');
  return found;
}

function readImages(dir: string): { images: NodeImages; archives: Array<{ ref: string; file: string }> } {
  let archives: Array<{ ref: string; file: string }>;
  try {
    archives = JSON.parse(fs.readFileSync(path.join(dir, 'images.json'), 'utf8')) as Array<{ ref: string; file: string }>;
  } catch {
    throw new Error(`the node images are missing in ${dir}: run \`npm run real-parts\``);
  }
  const byFile = (f: string): string => {
    const a = archives.find((x) => x.file === f);
    if (!a) throw new Error(`${dir}/images.json has no ${f}: run \`npm run real-parts\``);
    return a.ref;
  };
  return {
    images: { pause: byFile('pause.tar'), syncthing: byFile('syncthing.tar'), dev: byFile('dev.tar'), devNonroot: byFile('dev-nonroot.tar'), reviews: byFile('reviews.tar') },
    archives,
  };
}

/** Waits for the lock (another node on this machine), taking over one whose owner died. */
async function takeLock(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(LOCK_FILE, String(process.pid), { flag: 'wx' });
      return;
    } catch {
      const owner = Number(fs.readFileSync(LOCK_FILE, 'utf8') || '0');
      if (!(owner > 0 && isAlive(owner))) {
        fs.rmSync(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another devx test node (process ${owner}) still runs on this machine after ${timeoutMs} ms`);
      await sleep(500);
    }
  }
}

function releaseLock(): void {
  try {
    if (Number(fs.readFileSync(LOCK_FILE, 'utf8')) === process.pid) fs.rmSync(LOCK_FILE);
  } catch {
    // not ours
  }
}

/** Cleans up after nodes whose test process was SIGKILLed (their dirs, cgroups, links and routes). */
async function removeAbandonedNodes(): Promise<void> {
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), name);
    // Only a node's own directory (it has host-state.json and owner.pid), whose owner is gone.
    const owner = Number(readOr(path.join(dir, 'owner.pid'), '0'));
    if (!fs.existsSync(path.join(dir, 'host-state.json')) || owner <= 0 || isAlive(owner)) continue;
    cleanHost(dir, name, readState(dir));
  }
  // Links and routes have fixed names: a leftover without a directory goes too.
  cleanHost(path.join(os.tmpdir(), `${DIR_PREFIX}none`), `${DIR_PREFIX}none`, undefined);
}

function readState(dir: string): HostState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'host-state.json'), 'utf8')) as HostState;
  } catch {
    return undefined;
  }
}

class RunningNode implements Node {
  readonly name = NODE_NAME;
  readonly ip = NODE_IP;
  readonly dir: string;
  readonly images: NodeImages;
  readonly timings = { containerd: 0, images: 0, kubelet: 0, ready: 0 };
  #l: Layout;
  #cp: ControlPlane | undefined;
  #archives: Array<{ ref: string; file: string }>;
  #state: HostState | undefined;
  #procs: ManagedProcess[] = [];
  #stopped: Promise<void> | undefined;
  /** When the test process exits or is interrupted first: its children are already SIGKILLed by then. */
  readonly #exitCleanup = (): void => {
    cleanHost(this.#l.dir, this.#l.cgroupName, this.#state);
    releaseLock();
  };

  constructor(l: Layout) {
    this.#l = l;
    this.dir = l.dir;
    const { images, archives } = readImages(l.parts.nodeImagesDir);
    this.images = images;
    this.#archives = archives;
  }

  ctr(args: string[]): Promise<RunResult> {
    return runToEnd(path.join(this.#l.parts.containerdDir, 'ctr'), ['--address', this.#l.file('containerd.sock'), '--namespace', 'k8s.io', ...args], {
      env: process.env,
      timeoutMs: 60_000,
    });
  }

  /** What the node changes on the host (before the control plane starts: it listens on the node IP). */
  prepareHost(): void {
    const l = this.#l;
    registerExitCleanup(this.#exitCleanup);
    const sysctls: Record<string, string> = {};
    for (const k of SYSCTLS) sysctls[k] = fs.readFileSync(`/proc/sys/${k}`, 'utf8').trim();
    const before: Record<string, string[] | null> = {};
    for (const d of FIXED_DIRS) before[d] = listDir(d);
    this.#state = { sysctls, before, cgroupDirs: [] };
    fs.writeFileSync(l.file('host-state.json'), JSON.stringify(this.#state));
    this.#state.cgroupDirs = makeCgroupDirs(l.cgroupName);
    sh('ip', ['link', 'add', NODE_LINK, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${NODE_IP}/32`, 'dev', NODE_LINK]);
    sh('ip', ['link', 'set', NODE_LINK, 'up']);
    for (const r of BLACKHOLES) sh('ip', ['route', 'add', 'blackhole', r]);
    // The CNI bridge, made here so that it has the pods' gateway address before the first pod (the plugin reuses it).
    sh('ip', ['link', 'add', CNI_BRIDGE, 'type', 'bridge']);
    sh('ip', ['addr', 'add', POD_GATEWAY, 'dev', CNI_BRIDGE]);
    sh('ip', ['link', 'set', CNI_BRIDGE, 'up']);
    // Packets arriving from the pods are never forwarded, whatever the host's own setting.
    fs.writeFileSync(`/proc/sys/net/ipv4/conf/${CNI_BRIDGE}/forwarding`, '0');
  }

  /** The node's configuration and credentials, issued by the control plane's CA. */
  #configure(cp: ControlPlane): void {
    const l = this.#l;
    for (const d of ['containerd', 'runc', 'cni/net.d', 'cni/ipam', 'pod-logs', 'volume-plugins', 'kubelet']) fs.mkdirSync(l.file(d), { recursive: true });
    fs.writeFileSync(l.file('cni/net.d/10-devx.conflist'), cniConfig(l));
    fs.writeFileSync(l.file('containerd.toml'), containerdConfig(l, this.images));
    fs.writeFileSync(l.file('kubelet.yaml'), kubeletConfig(l));
    fs.writeFileSync(l.file('kube-proxy.yaml'), kubeProxyConfig(l));
    fs.writeFileSync(l.file('ca.crt'), cp.ca.certPem);
    const notBefore = new Date(Date.now() - 60_000);
    const validityMs = 24 * 3600_000;
    const client = (commonName: string, organizations: string[] = []): KeyPairPem => issueCertificate(cp.ca, { commonName, organizations, usage: 'client', notBefore, validityMs });
    const serving = issueCertificate(cp.ca, { commonName: NODE_NAME, usage: 'server', dnsNames: [NODE_NAME], ipAddresses: [NODE_IP], notBefore, validityMs });
    fs.writeFileSync(l.file('kubelet.crt'), serving.certPem);
    fs.writeFileSync(l.file('kubelet.key'), serving.keyPem, { mode: 0o600 });
    fs.writeFileSync(l.file('kubelet.kubeconfig'), kubeconfig(cp.server, cp.ca, client(`system:node:${NODE_NAME}`, ['system:nodes'])), { mode: 0o600 });
    fs.writeFileSync(l.file('scheduler.kubeconfig'), kubeconfig(cp.server, cp.ca, client('system:kube-scheduler')), { mode: 0o600 });
    // The user the built-in ClusterRoleBinding system:node-proxier names.
    fs.writeFileSync(l.file('kube-proxy.kubeconfig'), kubeconfig(cp.server, cp.ca, client('system:kube-proxy')), { mode: 0o600 });
  }

  async start(cp: ControlPlane): Promise<void> {
    const t0 = performance.now();
    const l = this.#l;
    this.#cp = cp;
    this.#configure(cp);
    const scheduler = this.#start('kube-scheduler', l.parts.kubeScheduler, [
      `--kubeconfig=${l.file('scheduler.kubeconfig')}`,
      `--authentication-kubeconfig=${l.file('scheduler.kubeconfig')}`,
      `--authorization-kubeconfig=${l.file('scheduler.kubeconfig')}`,
      '--leader-elect=false',
      // The control plane has no front proxy: nothing to look up for request-header authentication.
      '--authentication-skip-lookup',
      `--bind-address=${LOOPBACK}`,
      `--secure-port=${l.ports.scheduler}`,
    ]);
    const containerd = this.#start('containerd', path.join(l.parts.containerdDir, 'containerd'), [`--config=${l.file('containerd.toml')}`], {
      ...process.env,
      PATH: `${l.parts.containerdDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    });
    await waitFor({ what: 'containerd', probe: async () => (await this.ctr(['version'])).code === 0, timeoutMs: 30_000, watch: [containerd] });
    this.timings.containerd = performance.now() - t0;
    // Imported before the kubelet asks for the sandbox image: there is nothing to pull it from.
    for (const a of this.#archives) {
      const r = await this.ctr(['images', 'import', '--platform', `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`, path.join(l.parts.nodeImagesDir, a.file)]);
      if (r.code !== 0) throw new Error(`ctr images import ${a.file}: ${r.stderr}`);
    }
    this.timings.images = performance.now() - t0;
    const started = new Date();
    const kubelet = this.#start('kubelet', l.parts.kubelet, [
      `--config=${l.file('kubelet.yaml')}`,
      `--kubeconfig=${l.file('kubelet.kubeconfig')}`,
      `--root-dir=${l.file('kubelet')}`,
      `--node-ip=${NODE_IP}`,
      `--hostname-override=${NODE_NAME}`,
      '--v=1',
    ]);
    await waitFor({
      what: 'kubelet /healthz',
      probe: async () => (await fetch(`http://${LOOPBACK}:${l.ports.kubeletHealthz}/healthz`, { signal: AbortSignal.timeout(2000) })).ok,
      timeoutMs: 60_000,
      watch: [kubelet, containerd],
    });
    this.timings.kubelet = performance.now() - t0;
    await waitFor({ what: `node ${NODE_NAME} Ready`, probe: () => this.#ready(started), timeoutMs: 60_000, watch: [kubelet, containerd, scheduler], intervalMs: 200 });
    await waitFor({
      what: 'kube-scheduler /healthz',
      probe: async () => (await httpsRequest({ url: `https://${LOOPBACK}:${l.ports.scheduler}/healthz`, timeoutMs: 2000 })).status === 200,
      timeoutMs: 30_000,
      watch: [scheduler],
    });
    // Services: kube-proxy in nftables mode (its own nftables table, removed on stop), so that pods reach the API
    // server and each other through cluster IPs.
    const proxy = this.#start('kube-proxy', l.parts.kubeProxy, [`--config=${l.file('kube-proxy.yaml')}`, '--v=1']);
    await waitFor({
      what: 'kube-proxy /healthz',
      probe: async () => (await fetch(`http://${LOOPBACK}:${l.ports.proxyHealthz}/healthz`, { signal: AbortSignal.timeout(2000) })).ok,
      timeoutMs: 30_000,
      watch: [proxy],
    });
    this.timings.ready = performance.now() - t0;
  }

  /**
   * Ready, with a heartbeat from this kubelet (a Node object left in an old etcd could read Ready too), and without
   * the not-ready taint the kubelet registers it with (the node lifecycle controller removes it).
   */
  async #ready(since: Date): Promise<boolean> {
    const res = await (this.#cp as ControlPlane).request('GET', `/api/v1/nodes/${NODE_NAME}`);
    if (res.status !== 200) return false;
    const node = JSON.parse(res.body) as {
      spec?: { taints?: Array<{ key: string }> };
      status?: { conditions?: Array<{ type: string; status: string; lastHeartbeatTime?: string }> };
    };
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    const tainted = (node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
    return !tainted && ready?.status === 'True' && new Date(ready.lastHeartbeatTime ?? 0).getTime() >= Math.floor(since.getTime() / 1000) * 1000;
  }

  #start(name: string, bin: string, args: string[], env?: NodeJS.ProcessEnv): ManagedProcess {
    const p = startProcess({ name, bin, args, logPath: this.#l.file(`${name}.log`), env });
    this.#procs.push(p);
    return p;
  }

  pids(): number[] {
    return this.#procs.filter((p) => p.running()).map((p) => p.pid);
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    const [scheduler, containerd, kubelet, proxy] = ['kube-scheduler', 'containerd', 'kubelet', 'kube-proxy'].map((n) => this.#procs.find((p) => p.name === n));
    try {
      await Promise.all([kubelet?.stop(STOP_GRACE_MS), scheduler?.stop(STOP_GRACE_MS), proxy?.stop(STOP_GRACE_MS)]);
      // The pods' processes go first (containerd's shims would otherwise keep them), then containerd and its shims.
      killPods(this.#l.cgroupName);
    } finally {
      await containerd?.stop(STOP_GRACE_MS);
      cleanHost(this.#l.dir, this.#l.cgroupName, this.#state);
      unregisterExitCleanup(this.#exitCleanup);
      unregisterDir(this.#l.dir);
      releaseLock();
    }
  }
}

export interface NodeOptions {
  /** Wait this long for another node on this machine to stop (default 15 minutes: node tests run one at a time). */
  lockTimeoutMs?: number;
}

/** What a control plane needs for a node: kubelet client credentials, the Node authorizer, and the root CA in namespaces. */
export function nodeControlPlaneOptions(opts: ControlPlaneOptions = {}): ControlPlaneOptions {
  return {
    ...opts,
    forNode: true,
    extraControllers: [
      ...(opts.extraControllers ?? []),
      'root-ca-certificate-publisher-controller',
      'pod-garbage-collector-controller',
      'node-lifecycle-controller',
      // A Service's endpoints: what the API server calls a webhook at, and kube-proxy translates a cluster IP to.
      'endpointslice-controller',
      // PodDisruptionBudgets get their status (a chart installs one).
      'disruption-controller',
    ],
  };
}

/**
 * A node and its control plane; stop() stops both. The host is prepared first (the API server listens on the node
 * IP, where the node's pods reach it through the `kubernetes` Service). kubectl is the node's release (the machine's
 * may be older).
 */
export async function startNodeCluster(opts: ControlPlaneOptions & NodeOptions = {}): Promise<NodeCluster> {
  if (process.getuid?.() !== 0) throw new Error('the test node needs root (containerd, runc, network namespaces and cgroups)');
  const parts = requireRealParts(['kubelet', 'kubeScheduler', 'kubectl', 'kubeProxy']);
  await takeLock(opts.lockTimeoutMs ?? 15 * 60_000);
  let node: RunningNode | undefined;
  let cp: ControlPlane | undefined;
  try {
    await removeAbandonedNodes();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), DIR_PREFIX));
    registerDir(dir);
    fs.writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
    const [kubelet, kubeletHealthz, scheduler, proxyHealthz, proxyMetrics] = (await freePorts(5)) as [number, number, number, number, number];
    const ports = { kubelet, kubeletHealthz, scheduler, proxyHealthz, proxyMetrics };
    node = new RunningNode({ dir, parts, cgroupName: path.basename(dir), ports, file: (n) => path.join(dir, n) });
    node.prepareHost();
    cp = await startControlPlane(nodeControlPlaneOptions({ kubectl: parts.kubectl, ...opts, address: NODE_IP }));
    await node.start(cp);
  } catch (err) {
    await node?.stop();
    await cp?.stop();
    releaseLock();
    throw err;
  }
  return {
    dir: cp.dir,
    kubeconfigPath: cp.kubeconfigPath,
    server: cp.server,
    ca: cp.ca,
    admin: cp.admin,
    etcdUrl: cp.etcdUrl,
    timings: cp.timings,
    node,
    kubectl: (args, o) => cp.kubectl(args, o),
    request: (m, p, b) => cp.request(m, p, b),
    createNamespace: (n, labels) => cp.createNamespace(n, labels),
    restartApiServer: () => cp.restartApiServer(),
    stopApiServer: () => cp.stopApiServer(),
    startApiServer: () => cp.startApiServer(),
    pids: () => [...cp.pids(), ...node.pids()],
    stop: async () => {
      try {
        await node.stop();
      } finally {
        await cp.stop();
      }
    },
  };
}
