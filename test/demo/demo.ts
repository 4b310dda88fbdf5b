// `npm run demo`: devx on a throwaway local cluster (or your cluster with --kubeconfig/--context).
// Starts etcd + kube-apiserver + kube-controller-manager and a real node (kube-scheduler, containerd, runc, CNI,
// kubelet; all built from Go modules on first use, runc from Debian's packages), installs devx, applies bookinfo
// `reviews`, labels it, shows the dev pod Running, syncs a local directory into it with `kubectl devx sync` and shows
// a saved file inside the dev container, removes the label and shows the original pods Running again.
// `--in-cluster`: devx installed by `helm install` into the node (its image written by tools/devx-image.ts) instead of
// running on this machine. `--api-server-only` (or no root) skips the node: admission and the restored template only.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { startControlPlane, type ControlPlane } from '../e2e/harness/control-plane.ts';
import { applyPolicy, bookinfoReviews, DEMO_POLICY_SPEC, eventually, installCrd, REPO, startDevx, type DevxServer } from '../e2e/harness/devx.ts';
import { CHART_DIR, helm } from '../e2e/harness/helm.ts';
import { nodePolicySpec, podReady, startNodeCluster, type NodeCluster, type NodeImages } from '../e2e/harness/node.ts';
import { startAgent } from '../e2e/harness/syncthing.ts';
import { lineDiff } from './diff.ts';

const tty = process.stdout.isTTY;
const paint = (code: string) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');
const cyan = paint('36');
const step = (s: string): void => console.log(`\n${cyan('==>')} ${bold(s)}`);

type Kubectl = ControlPlane['kubectl'];

interface Target {
  kubectl: Kubectl;
  dir: string;
  stop(): Promise<void>;
}

/** A user's cluster: kubectl with their kubeconfig/context, devx run locally against it. */
function userCluster(kubeconfig: string | undefined, context: string | undefined): Target & { kubeconfigPath: string } {
  const kubeconfigPath = kubeconfig ?? process.env.KUBECONFIG ?? path.join(os.homedir(), '.kube/config');
  const base = ['--kubeconfig', kubeconfigPath, ...(context ? ['--context', context] : [])];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-demo-'));
  const kubectl: Kubectl = async (args, opts = {}) => {
    const full = [...base, ...(opts.namespace ? ['-n', opts.namespace] : []), ...(opts.as ? ['--as', opts.as] : []), ...args];
    try {
      const stdout = execFileSync('kubectl', full, { input: opts.input ?? '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
      return { code: 0, stdout, stderr: '' };
    } catch (err) {
      const e = err as { status?: number; stdout?: string; stderr?: string };
      return { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  return { kubectl, dir, kubeconfigPath, stop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function buildRealParts(node: boolean): void {
  step(`Real parts (etcd, kube-apiserver, kube-controller-manager${node ? ', the node and its images' : ''}): built from Go modules on first use, then cached`);
  for (const part of ['k8s', 'etcd', ...(node ? ['syncthing', 'node'] : [])]) {
    execFileSync('bash', [path.join(REPO, 'test/tools/build-real-parts.sh'), part], { stdio: 'inherit' });
  }
}

interface PodView {
  name: string;
  spec: Record<string, unknown>;
  annotations: Record<string, string>;
}

function summarize(pod: PodView): string {
  const spec = pod.spec as { containers: any[]; volumes?: any[] };
  const lines = [`  pod ${bold(pod.name)}`];
  for (const c of spec.containers) {
    const probes = ['livenessProbe', 'readinessProbe', 'startupProbe'].filter((p) => c[p]).map((p) => p.replace('Probe', ''));
    lines.push(`    container ${bold(c.name)}  image ${c.image}`);
    if (c.command) lines.push(dim(`      command ${JSON.stringify(c.command)}`));
    if (c.workingDir) lines.push(dim(`      workingDir ${c.workingDir}`));
    lines.push(dim(`      probes ${probes.length ? probes.join(', ') : 'none'}`));
    for (const m of c.volumeMounts ?? []) lines.push(dim(`      mount ${m.name} -> ${m.mountPath}${m.readOnly ? ' (ro)' : ''}`));
  }
  for (const v of spec.volumes ?? []) {
    const what = v.secret ? `Secret ${v.secret.secretName}` : v.emptyDir ? 'emptyDir' : Object.keys(v).find((k) => k !== 'name');
    lines.push(`    volume ${v.name} (${what})`);
  }
  return lines.join('\n');
}

/** The pod spec without the fields the API server adds to every pod, so the diff shows what devx did. */
function comparable(pod: PodView): string {
  const spec = structuredClone(pod.spec) as any;
  delete spec.nodeName;
  for (const c of spec.containers) for (const k of ['terminationMessagePath', 'terminationMessagePolicy', 'imagePullPolicy']) delete c[k];
  spec.volumes = (spec.volumes ?? []).filter((v: any) => !v.name.startsWith('kube-api-access-'));
  for (const c of spec.containers) c.volumeMounts = (c.volumeMounts ?? []).filter((m: any) => !m.name.startsWith('kube-api-access-'));
  for (const k of ['tolerations', 'enableServiceLinks', 'preemptionPolicy', 'priority', 'schedulerName', 'serviceAccount', 'serviceAccountName', 'dnsPolicy', 'terminationGracePeriodSeconds', 'securityContext', 'restartPolicy']) delete spec[k];
  return stringify(spec, { lineWidth: 0 });
}

async function podOf(kubectl: Kubectl, selector: string, ns: string, pick: (p: any) => boolean): Promise<PodView> {
  const pod = await eventually(`a pod (${selector})`, async () => {
    const r = await kubectl(['get', 'pods', '-l', selector, '-o', 'json'], { namespace: ns });
    return r.code === 0 ? (JSON.parse(r.stdout).items as any[]).find((p) => !p.metadata.deletionTimestamp && pick(p)) : undefined;
  }, 60_000);
  return { name: pod.metadata.name, spec: pod.spec, annotations: pod.metadata.annotations ?? {} };
}

/** On the node: the project's stand-in images, so that pods run (there is no registry to pull the real ones from). */
interface OnNode {
  images: NodeImages;
  kubeconfigPath: string;
}

function nodePolicy(images: NodeImages): Record<string, unknown> {
  const spec = nodePolicySpec(images);
  return { ...DEMO_POLICY_SPEC, ...spec, sidecar: { ...DEMO_POLICY_SPEC.sidecar, ...(spec.sidecar as Record<string, unknown>) } };
}

/** The seed's reviews, with the node's stand-in for its image (pulled never: it is imported). */
function reviewsFor(ns: string, node: OnNode | undefined): Record<string, any> {
  const d = bookinfoReviews(ns, 3);
  if (!node) return d;
  const c = d.spec.template.spec.containers[0];
  c.image = node.images.reviews;
  c.imagePullPolicy = 'IfNotPresent';
  d.spec.template.spec.terminationGracePeriodSeconds = 5;
  return d;
}

const runningReady = podReady;

/** `kubectl devx sync` into the dev pod; a file saved locally, then read inside the dev container. */
async function syncDemo(kubectl: Kubectl, node: OnNode, ns: string, dir: string, pod: string): Promise<void> {
  step('The developer syncs a local directory into the dev pod:  kubectl devx sync deploy/reviews ./src');
  const local = path.join(dir, 'src');
  fs.mkdirSync(local, { recursive: true });
  fs.writeFileSync(path.join(local, 'Main.java'), 'class Main { public static void main(String[] a) { System.out.println("v1"); } }\n');
  const agent = startAgent(['sync', 'deploy/reviews', local, '-n', ns, '-o', 'json'], { KUBECONFIG: node.kubeconfigPath, XDG_CONFIG_HOME: path.join(dir, 'config'), NO_COLOR: '1' });
  try {
    const t0 = performance.now();
    const synced = await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 120_000);
    console.log(`  first full sync: ${synced.files} file(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s, through pods/portforward to ${pod}`);
    step('A file saved on the laptop shows up inside the dev container');
    const saved = `saved at ${new Date().toISOString()}\n`;
    const t1 = performance.now();
    fs.writeFileSync(path.join(local, 'hello.txt'), saved);
    const seen = await eventually('hello.txt in the dev container', async () => {
      const r = await kubectl(['exec', pod, '-c', 'reviews', '--', 'cat', '/home/devx/hello.txt'], { namespace: ns });
      return r.code === 0 && r.stdout === saved ? r.stdout : undefined;
    }, 60_000);
    console.log(`  ${dim('$')} echo '${saved.trim()}' > src/hello.txt`);
    console.log(`  ${dim('$')} kubectl exec ${pod} -c reviews -- cat /home/devx/hello.txt`);
    console.log(`  ${green(seen.trim())}   ${dim(`(${((performance.now() - t1) / 1000).toFixed(1)} s after the save)`)}`);
    const ls = await kubectl(['exec', pod, '-c', 'reviews', '--', 'ls', '-l', '/home/devx'], { namespace: ns });
    console.log(ls.stdout.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
  } finally {
    await agent.interrupt();
  }
}

async function podsTable(kubectl: Kubectl, ns: string): Promise<void> {
  const r = await kubectl(['get', 'pods', '-l', 'app=reviews', '-o', 'wide'], { namespace: ns });
  console.log(r.stdout.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
}

/** devx, installed and running: what to say about it, and how to stop it at the end. */
interface Installed {
  where: string;
  stop(): Promise<void>;
}

/** devx-webhook as a process on this machine, registering its webhooks with a https://127.0.0.1 URL. */
function onThisMachine(start: () => Promise<DevxServer>): () => Promise<Installed> {
  return async () => {
    const devx = await start();
    return { where: `devx-webhook listening on https://127.0.0.1:${devx.port}`, stop: () => devx.stop() };
  };
}

/** devx as a cluster admin installs it: its image (written from the Dockerfile's facts) and `helm install`. */
function byHelm(c: NodeCluster): () => Promise<Installed> {
  return async () => {
    step('devx-webhook image: tools/devx-image.ts (no Docker engine), imported into the node; then helm install charts/devx');
    const out = execFileSync(process.execPath, [path.join(REPO, 'tools/devx-image.ts'), '--out', path.join(c.dir, 'image')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const [archive, ref] = out.trim().split('\n').slice(-2) as [string, string];
    const imported = await c.node.ctr(['images', 'import', archive]);
    if (imported.code !== 0) throw new Error(`ctr images import: ${imported.stderr}`);
    await c.kubectl(['label', 'namespace', 'devx-system', 'pod-security.kubernetes.io/enforce=restricted', '--overwrite']);
    const at = ref.lastIndexOf(':');
    const args = ['install', 'devx', CHART_DIR, '-n', 'devx-system', '--set', `image.repository=${ref.slice(0, at)}`, '--set', `image.tag=${ref.slice(at + 1)}`];
    console.log(`  ${dim('$')} helm ${args.join(' ')} --set image.pullPolicy=Never --wait`);
    const r = await helm([...args, '--set', 'image.pullPolicy=Never', '--wait', '--timeout=180s'], { kubeconfig: c.kubeconfigPath, timeoutMs: 240_000 });
    if (r.code !== 0) throw new Error(`helm install: ${r.stderr}`);
    const pods = await c.kubectl(['get', 'pods', '-n', 'devx-system', '-o', 'wide']);
    console.log(pods.stdout.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
    return { where: 'devx runs in its own pods (2 replicas, Pod Security restricted), called through its Service', stop: async () => {} };
  };
}

async function run(target: Target, install: () => Promise<Installed>, ns: string, node?: OnNode): Promise<void> {
  const kubectl: Kubectl = (args, opts) => target.kubectl(args, opts);
  const ok = async (args: string[], opts: Parameters<Kubectl>[1] = {}): Promise<{ stdout: string; stderr: string }> => {
    const r = await kubectl(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  step('Installing devx: the DevPolicy CRD, a policy, then devx itself');
  await ok(['apply', '--server-side', '-f', path.join(REPO, 'deploy/crds/devpolicies.dev.x.yaml')]);
  await ok(['wait', '--for=condition=Established', '--timeout=30s', 'crd/devpolicies.dev.x']);
  await applyPolicy({ kubectl } as ControlPlane, node ? { spec: nodePolicy(node.images) } : {});
  // devx's own namespace: its leader Lease and the key it signs its records with.
  await kubectl(['create', 'namespace', 'devx-system']);
  const devx = await install();
  console.log(`  ${devx.where}`);

  step(`A cluster admin enables dev mode in namespace ${ns}:  kubectl label ns ${ns} dev.x/policy=default`);
  await kubectl(['create', 'namespace', ns]);
  await ok(['label', 'ns', ns, 'dev.x/policy=default', '--overwrite']);
  await eventually('the default ServiceAccount', async () => (await kubectl(['get', 'sa', 'default'], { namespace: ns })).code === 0, 30_000);

  step(`bookinfo reviews (3 replicas), from the seed's manifest${node ? ` (image: the node's stand-in ${node.images.reviews})` : ''}`);
  await ok(['apply', '-f', '-'], { input: JSON.stringify(reviewsFor(ns, node)), namespace: ns });
  const before = await podOf(kubectl, 'app=reviews', ns, () => true);
  if (node) {
    await eventually('3 reviews pods Running', async () => {
      const r = await kubectl(['get', 'pods', '-l', 'app=reviews', '-o', 'json'], { namespace: ns });
      const pods = JSON.parse(r.stdout).items as any[];
      return pods.length === 3 && pods.every(runningReady);
    }, 90_000);
    await podsTable(kubectl, ns);
  }
  const deployBefore = JSON.parse((await ok(['get', 'deploy', 'reviews', '-o', 'json'], { namespace: ns })).stdout);
  console.log(summarize(before));

  step('A developer enters dev mode:  kubectl label deploy reviews dev.x/enabled=true');
  const t0 = performance.now();
  const labelled = await ok(['label', 'deploy', 'reviews', 'dev.x/enabled=true'], { namespace: ns });
  console.log(labelled.stdout.trim());
  console.log(labelled.stderr.trim().split('\n').map((l) => `  ${l}`).join('\n'));
  const after = await podOf(kubectl, 'app=reviews,dev.x/enabled=true', ns, (p) => p.metadata.annotations?.['dev.x/status'] && (!node || runningReady(p)));
  const labelMs = performance.now() - t0;
  console.log(summarize(after));
  if (node) {
    console.log('');
    await eventually('the original pods gone', async () => {
      const r = await kubectl(['get', 'pods', '-l', 'app=reviews', '-o', 'json'], { namespace: ns });
      return (JSON.parse(r.stdout).items as any[]).length === 1;
    }, 90_000);
    await podsTable(kubectl, ns);
  }
  step(`What devx changed in the pod spec (${green('+')} added, ${red('-')} removed)`);
  for (const line of lineDiff(comparable(before), comparable(after))) {
    if (line.startsWith('+')) console.log(green(line));
    else if (line.startsWith('-')) console.log(red(line));
  }
  const during = JSON.parse((await ok(['get', 'deploy', 'reviews', '-o', 'json'], { namespace: ns })).stdout);
  console.log(`\n  Deployment replicas ${during.spec.replicas} (original ${during.metadata.annotations['dev.x/original-replicas']} kept in dev.x/original-replicas)`);

  if (node) await syncDemo(kubectl, node, ns, target.dir, after.name);

  step('Leaving dev mode:  kubectl label deploy reviews dev.x/enabled-');
  const t1 = performance.now();
  const unlabelled = await ok(['label', 'deploy', 'reviews', 'dev.x/enabled-'], { namespace: ns });
  const unlabelMs = performance.now() - t1;
  console.log(unlabelled.stderr.trim().split('\n').map((l) => `  ${l}`).join('\n'));
  const restored = JSON.parse((await ok(['get', 'deploy', 'reviews', '-o', 'json'], { namespace: ns })).stdout);
  const same = JSON.stringify(restored.spec) === JSON.stringify(deployBefore.spec);
  console.log(`  Deployment spec identical to the original: ${same ? green('yes') : red('NO')}`);
  console.log(`  replicas ${restored.spec.replicas}; template labels ${JSON.stringify(restored.spec.template.metadata.labels)}`);
  let runningMs = 0;
  if (node) {
    await eventually('3 original reviews pods Running', async () => {
      const r = await kubectl(['get', 'pods', '-l', 'app=reviews', '-o', 'json'], { namespace: ns });
      const pods = JSON.parse(r.stdout).items as any[];
      return pods.length === 3 && pods.every((p) => runningReady(p) && !p.metadata.annotations?.['dev.x/status']);
    }, 120_000);
    runningMs = performance.now() - t1;
    await podsTable(kubectl, ns);
  }

  step('Timings');
  console.log(`  label -> ${node ? 'dev pod Running' : 'injected pod exists'}: ${labelMs.toFixed(0)} ms;  unlabel -> original template back: ${unlabelMs.toFixed(0)} ms`);
  if (node) console.log(`  unlabel -> 3 original pods Running: ${runningMs.toFixed(0)} ms`);
  await devx.stop();
  if (!same) throw new Error('the restored Deployment differs from the original');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string' },
      'api-server-only': { type: 'boolean' },
      'in-cluster': { type: 'boolean' },
    },
    strict: true,
  });
  const ns = values.namespace ?? 'bookinfo';
  if (values.kubeconfig || values.context) {
    const target = userCluster(values.kubeconfig, values.context);
    step(`Using your cluster (${target.kubeconfigPath}${values.context ? `, context ${values.context}` : ''})`);
    const fake = { kubectl: target.kubectl, dir: target.dir, kubeconfigPath: target.kubeconfigPath } as unknown as ControlPlane;
    try {
      await run(target, onThisMachine(() => startDevx(fake, { args: values.context ? ['--context', values.context] : [] })), ns);
    } finally {
      await target.stop();
    }
    return;
  }
  const root = process.getuid?.() === 0;
  if (!values['api-server-only'] && root) {
    buildRealParts(true);
    step('Starting a throwaway cluster on this machine: etcd, kube-apiserver, kube-controller-manager, and a node (kube-scheduler, containerd, runc, CNI, kubelet, kube-proxy)');
    let c: Awaited<ReturnType<typeof startNodeCluster>> | undefined;
    try {
      c = await startNodeCluster({ lockTimeoutMs: 5_000 });
    } catch (err) {
      console.log(red(`  the node could not start (${(err as Error).message.split('\n')[0]}): falling back to the API server alone`));
    }
    if (c) {
      const cluster = c;
      console.log(`  ready in ${((cluster.timings.total + cluster.node.timings.ready) / 1000).toFixed(1)} s: ${cluster.server}, node ${cluster.node.name} (${cluster.node.ip})`);
      try {
        await installCrd(cluster);
        const node = { images: cluster.node.images, kubeconfigPath: cluster.kubeconfigPath };
        const install = values['in-cluster'] ? byHelm(cluster) : onThisMachine(() => startDevx(cluster));
        await run({ kubectl: (a, o) => cluster.kubectl(a, o), dir: cluster.dir, stop: () => cluster.stop() }, install, ns, node);
      } finally {
        step('Shutting down the cluster');
        await cluster.stop();
      }
      return;
    }
  } else if (!values['api-server-only']) {
    console.log(red('  not root: the node needs root (containerd, runc, cgroups, network namespaces); running on the API server alone'));
  }
  buildRealParts(false);
  step('Starting a throwaway control plane on 127.0.0.1 (etcd, kube-apiserver, kube-controller-manager)');
  const cp = await startControlPlane();
  console.log(`  ready in ${(cp.timings.total / 1000).toFixed(1)} s: ${cp.server}`);
  try {
    await installCrd(cp);
    await run({ kubectl: (a, o) => cp.kubectl(a, o), dir: cp.dir, stop: () => cp.stop() }, onThisMachine(() => startDevx(cp)), ns);
  } finally {
    step('Shutting down the control plane');
    await cp.stop();
  }
}

main().catch((err: unknown) => {
  console.error(red(`demo failed: ${(err as Error).message}`));
  process.exitCode = 1;
});
