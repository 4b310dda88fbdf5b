// `npm run demo`: devx on a throwaway local control plane (or your cluster with --kubeconfig/--context).
// Starts etcd + kube-apiserver + kube-controller-manager (built from Go modules on first use), installs devx, applies
// bookinfo `reviews`, labels it, shows the pod before and after, removes the label and shows the restored template.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { startControlPlane, type ControlPlane } from '../e2e/harness/control-plane.ts';
import { applyPolicy, bookinfoReviews, eventually, installCrd, REPO, startDevx, type DevxServer } from '../e2e/harness/devx.ts';
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

function buildRealParts(): void {
  step('Real parts (etcd, kube-apiserver, kube-controller-manager): built from Go modules on first use, then cached');
  execFileSync('bash', [path.join(REPO, 'test/tools/build-real-parts.sh'), 'k8s'], { stdio: 'inherit' });
  execFileSync('bash', [path.join(REPO, 'test/tools/build-real-parts.sh'), 'etcd'], { stdio: 'inherit' });
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

async function run(target: Target, startDevxHere: () => Promise<DevxServer>, ns: string): Promise<void> {
  const kubectl: Kubectl = (args, opts) => target.kubectl(args, opts);
  const ok = async (args: string[], opts: Parameters<Kubectl>[1] = {}): Promise<{ stdout: string; stderr: string }> => {
    const r = await kubectl(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  step('Installing devx: the DevPolicy CRD, a policy, and devx-webhook (registers its webhooks with its own CA)');
  await ok(['apply', '--server-side', '-f', path.join(REPO, 'deploy/crds/devpolicies.dev.x.yaml')]);
  await ok(['wait', '--for=condition=Established', '--timeout=30s', 'crd/devpolicies.dev.x']);
  await applyPolicy({ kubectl } as ControlPlane);
  const devx = await startDevxHere();
  console.log(`  devx-webhook listening on https://127.0.0.1:${devx.port}`);

  step(`A cluster admin enables dev mode in namespace ${ns}:  kubectl label ns ${ns} dev.x/policy=default`);
  await kubectl(['create', 'namespace', ns]);
  await ok(['label', 'ns', ns, 'dev.x/policy=default', '--overwrite']);
  await eventually('the default ServiceAccount', async () => (await kubectl(['get', 'sa', 'default'], { namespace: ns })).code === 0, 30_000);

  step("bookinfo reviews (3 replicas), from the seed's manifest");
  await ok(['apply', '-f', '-'], { input: JSON.stringify(bookinfoReviews(ns, 3)), namespace: ns });
  const before = await podOf(kubectl, 'app=reviews', ns, () => true);
  const deployBefore = JSON.parse((await ok(['get', 'deploy', 'reviews', '-o', 'json'], { namespace: ns })).stdout);
  console.log(summarize(before));

  step('A developer enters dev mode:  kubectl label deploy reviews dev.x/enabled=true');
  const t0 = performance.now();
  const labelled = await ok(['label', 'deploy', 'reviews', 'dev.x/enabled=true'], { namespace: ns });
  console.log(labelled.stdout.trim());
  console.log(labelled.stderr.trim().split('\n').map((l) => `  ${l}`).join('\n'));
  const after = await podOf(kubectl, 'app=reviews,dev.x/enabled=true', ns, (p) => p.metadata.annotations?.['dev.x/status']);
  const labelMs = performance.now() - t0;
  console.log(summarize(after));
  step(`What devx changed in the pod spec (${green('+')} added, ${red('-')} removed)`);
  for (const line of lineDiff(comparable(before), comparable(after))) {
    if (line.startsWith('+')) console.log(green(line));
    else if (line.startsWith('-')) console.log(red(line));
  }
  const during = JSON.parse((await ok(['get', 'deploy', 'reviews', '-o', 'json'], { namespace: ns })).stdout);
  console.log(`\n  Deployment replicas ${during.spec.replicas} (original ${during.metadata.annotations['dev.x/original-replicas']} kept in dev.x/original-replicas)`);

  step('Leaving dev mode:  kubectl label deploy reviews dev.x/enabled-');
  const t1 = performance.now();
  const unlabelled = await ok(['label', 'deploy', 'reviews', 'dev.x/enabled-'], { namespace: ns });
  const unlabelMs = performance.now() - t1;
  console.log(unlabelled.stderr.trim().split('\n').map((l) => `  ${l}`).join('\n'));
  const restored = JSON.parse((await ok(['get', 'deploy', 'reviews', '-o', 'json'], { namespace: ns })).stdout);
  const same = JSON.stringify(restored.spec) === JSON.stringify(deployBefore.spec);
  console.log(`  Deployment spec identical to the original: ${same ? green('yes') : red('NO')}`);
  console.log(`  replicas ${restored.spec.replicas}; template labels ${JSON.stringify(restored.spec.template.metadata.labels)}`);

  step('Timings');
  console.log(`  label -> injected pod exists: ${labelMs.toFixed(0)} ms;  unlabel -> original template back: ${unlabelMs.toFixed(0)} ms`);
  await devx.stop();
  if (!same) throw new Error('the restored Deployment differs from the original');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, context: { type: 'string' }, namespace: { type: 'string' } }, strict: true });
  const ns = values.namespace ?? 'bookinfo';
  if (values.kubeconfig || values.context) {
    const target = userCluster(values.kubeconfig, values.context);
    step(`Using your cluster (${target.kubeconfigPath}${values.context ? `, context ${values.context}` : ''})`);
    const fake = { kubectl: target.kubectl, dir: target.dir, kubeconfigPath: target.kubeconfigPath } as unknown as ControlPlane;
    try {
      await run(target, () => startDevx(fake, { args: values.context ? ['--context', values.context] : [] }), ns);
    } finally {
      await target.stop();
    }
    return;
  }
  buildRealParts();
  step('Starting a throwaway control plane on 127.0.0.1 (etcd, kube-apiserver, kube-controller-manager)');
  const cp = await startControlPlane();
  console.log(`  ready in ${(cp.timings.total / 1000).toFixed(1)} s: ${cp.server}`);
  try {
    await installCrd(cp);
    await run({ kubectl: (a, o) => cp.kubectl(a, o), dir: cp.dir, stop: () => cp.stop() }, () => startDevx(cp), ns);
  } finally {
    step('Shutting down the control plane');
    await cp.stop();
  }
}

main().catch((err: unknown) => {
  console.error(red(`demo failed: ${(err as Error).message}`));
  process.exitCode = 1;
});
