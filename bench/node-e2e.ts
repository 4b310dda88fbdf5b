// Dev mode on the real node, against floors measured in the same run (DESIGN §9):
//   kubectl label -> dev pod Running    vs  a plain rollout of the same Deployment (image change only) -> first new pod Running
//   kubectl devx up --sync -> first file in the dev container
//   save -> visible in the dev container, p50/p95, through the real pods/portforward
//                                       vs  the same agent and syncthings on loopback, no port-forward (bench/sync-latency.ts)
//   unlabel -> the original pods Running  vs  a plain rollout back to the original image -> every pod Running
//   node bench/node-e2e.ts [--runs 5] [--saves 20] [--json]
// Each run uses its own namespace and a fresh bookinfo-like `reviews` (3 replicas, probes every second, the node's
// stand-in images). "Visible in the dev container" is read from the pod's devx-workdir emptyDir on the node (the
// directory the kubelet bind-mounts into the dev container), polled every 5 ms: the same bytes `kubectl exec cat`
// would show, without an exec's own second in the measurement. Needs root (the node).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { nodePolicySpec, podReady, startNodeCluster, type NodeCluster } from '../test/e2e/harness/node.ts';
import { startReconcilingDevx } from '../test/e2e/harness/reconciler.ts';
import { startAgent } from '../test/e2e/harness/syncthing.ts';
import { percentile } from './load.ts';

const { values } = parseArgs({ options: { runs: { type: 'string' }, saves: { type: 'string' }, json: { type: 'boolean' } } });
const RUNS = Number(values.runs ?? 5);
const SAVES = Number(values.saves ?? 20);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface PodLite {
  metadata: { name: string; uid: string; annotations?: Record<string, string>; deletionTimestamp?: string };
  spec: { containers: Array<{ name: string; image: string }> };
  status?: { phase?: string; containerStatuses?: Array<{ ready: boolean }> };
}

const ready = (p: PodLite): boolean => !p.metadata.deletionTimestamp && podReady(p);

async function pods(c: NodeCluster, ns: string): Promise<PodLite[]> {
  const r = await c.request('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dreviews`);
  return (JSON.parse(r.body) as { items: PodLite[] }).items;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Every pod of the Deployment runs `image`, ready, and nothing else is left. */
const allOn = (c: NodeCluster, ns: string, image: string, n: number) => async (): Promise<true | undefined> => {
  const ps = await pods(c, ns);
  return ps.length === n && ps.every((p) => ready(p) && p.spec.containers[0]?.image === image && !p.metadata.annotations?.['dev.x/status']) ? true : undefined;
};

function deployment(ns: string, image: string): Record<string, unknown> {
  const probe = { httpGet: { path: '/health', port: 9080 }, periodSeconds: 1 };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'reviews', namespace: ns, labels: { app: 'reviews' } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'reviews' } },
      template: {
        metadata: { labels: { app: 'reviews' } },
        spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'reviews', image, ports: [{ containerPort: 9080 }], readinessProbe: probe, livenessProbe: probe }] },
      },
    },
  };
}

async function ok(c: NodeCluster, args: string[], ns: string, input?: string): Promise<void> {
  const r = await c.kubectl(args, { namespace: ns, ...(input ? { input } : {}) });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
}

/** Milliseconds from writing `content` locally until the pod's workdir on the node holds it. */
async function timeSave(local: string, inPod: string, content: string): Promise<number> {
  const t0 = performance.now();
  fs.writeFileSync(local, content);
  await until('a save in the dev container', async () => {
    try {
      return fs.readFileSync(inPod, 'utf8') === content ? true : undefined;
    } catch {
      return undefined;
    }
  }, 30_000, 5);
  return performance.now() - t0;
}

interface Run {
  rolloutMs: number;
  labelRunningMs: number;
  labelFirstFileMs: number;
  saves: number[];
  unlabelRunningMs: number;
  rollbackMs: number;
}

async function oneRun(c: NodeCluster, i: number, tmp: string): Promise<Run> {
  const ns = `bench-${i}`;
  const images = c.node.images;
  const other = `${images.reviews.replace(/:[^:/]+$/, '')}:rollout`;
  await c.createNamespace(ns, { 'dev.x/policy': 'default' });
  await ok(c, ['apply', '-f', '-'], ns, JSON.stringify(deployment(ns, images.reviews)));
  await until('3 pods Running', allOn(c, ns, images.reviews, 3));

  // Floor: a plain rollout (image change only) -> the first pod of the new template Running and ready.
  let t = performance.now();
  await ok(c, ['set', 'image', 'deploy/reviews', `reviews=${other}`], ns);
  await until('a rolled-out pod Running', async () => ((await pods(c, ns)).some((p) => ready(p) && p.spec.containers[0]?.image === other) ? true : undefined));
  const rolloutMs = performance.now() - t;
  await until('the rollout done', allOn(c, ns, other, 3));
  // Floor for leaving: a plain rollout back -> every pod Running on the original image.
  t = performance.now();
  await ok(c, ['set', 'image', 'deploy/reviews', `reviews=${images.reviews}`], ns);
  await until('the rollback done', allOn(c, ns, images.reviews, 3));
  const rollbackMs = performance.now() - t;

  // Dev mode as a user types it: `kubectl label` -> the dev pod Running; `kubectl label …-` -> the original pods Running.
  t = performance.now();
  await ok(c, ['label', 'deploy', 'reviews', 'dev.x/enabled=true'], ns);
  await until('the dev pod Running', async () => ((await pods(c, ns)).some((p) => ready(p) && p.metadata.annotations?.['dev.x/status']) ? true : undefined));
  const labelRunningMs = performance.now() - t;
  t = performance.now();
  await ok(c, ['label', 'deploy', 'reviews', 'dev.x/enabled-'], ns);
  await until('the original pods Running', allOn(c, ns, images.reviews, 3));
  const unlabelRunningMs = performance.now() - t;

  // `kubectl devx up --sync` labels and syncs: -> the first file in the dev container; then saves.
  const local = path.join(tmp, `local-${i}`);
  fs.mkdirSync(path.join(local, 'src'), { recursive: true });
  for (let f = 0; f < 50; f++) fs.writeFileSync(path.join(local, 'src', `file${f}.ts`), `export const v${f} = ${f};\n`);
  t = performance.now();
  const agent = startAgent(['up', 'deploy/reviews', '--sync', local, '-n', ns, '-o', 'json'], { KUBECONFIG: c.kubeconfigPath, XDG_CONFIG_HOME: path.join(tmp, `config-${i}`), NO_COLOR: '1' });
  try {
    const dev = await until('the dev pod Running', async () => (await pods(c, ns)).find((p) => ready(p) && p.metadata.annotations?.['dev.x/status']));
    const workdir = path.join(c.node.dir, 'kubelet', 'pods', dev.metadata.uid, 'volumes', 'kubernetes.io~empty-dir', 'devx-workdir');
    await until('the first file in the dev container', async () => (fs.existsSync(path.join(workdir, 'src', 'file0.ts')) ? true : undefined), 120_000, 5);
    const labelFirstFileMs = performance.now() - t;
    await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 120_000);
    await sleep(1000);
    const saves: number[] = [];
    for (let s = 0; s < SAVES; s++) {
      const rel = s % 2 === 0 ? path.join('src', `file${s % 50}.ts`) : path.join('src', `new${s}.ts`);
      saves.push(await timeSave(path.join(local, rel), path.join(workdir, rel), `// save ${s} at ${Date.now()}\n`));
      await sleep(250);
    }
    return { rolloutMs, labelRunningMs, labelFirstFileMs, saves, unlabelRunningMs, rollbackMs };
  } finally {
    await agent.interrupt();
    await c.kubectl(['delete', 'namespace', ns, '--wait=false']);
  }
}

/** The loopback floor: bench/sync-latency.ts (same agent and syncthings, no port-forward), in this run. */
function loopbackFloor(): { medianMs: number; p95Ms: number } {
  const out = execFileSync(process.execPath, [path.join(import.meta.dirname, 'sync-latency.ts'), '--saves', String(SAVES), '--back', '0', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const json = JSON.parse(out.slice(out.indexOf('{'))) as { results: Array<{ medianMs: number; p95Ms: number }> };
  const r = json.results[0];
  if (!r) throw new Error('sync-latency printed no result');
  return r;
}

const stat = (xs: number[]): { p50: number; p95: number } => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95) };
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-bench-node-'));
const c = await startNodeCluster();
const runs: Run[] = [];
try {
  const images = c.node.images;
  const tagged = await c.node.ctr(['images', 'tag', images.reviews, `${images.reviews.replace(/:[^:/]+$/, '')}:rollout`]);
  if (tagged.code !== 0) throw new Error(tagged.stderr);
  const devx = await startReconcilingDevx(c, 'bench-warmup', [
    { name: 'default', spec: nodePolicySpec(images) },
  ]);
  try {
    for (let i = 0; i < RUNS; i++) {
      const r = await oneRun(c, i, tmp);
      runs.push(r);
      const s = stat(r.saves);
      console.log(
        `run ${i + 1}: rollout ${r.rolloutMs.toFixed(0)} ms | label -> Running ${r.labelRunningMs.toFixed(0)} ms, first file ${r.labelFirstFileMs.toFixed(0)} ms | ` +
          `save p50 ${s.p50.toFixed(0)} p95 ${s.p95.toFixed(0)} ms | unlabel -> Running ${r.unlabelRunningMs.toFixed(0)} ms (rollback ${r.rollbackMs.toFixed(0)} ms)`,
      );
    }
  } finally {
    await devx.stop();
  }
} finally {
  await c.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
const floor = loopbackFloor();
const med = (f: (r: Run) => number): number => stat(runs.map(f)).p50;
const saves = stat(runs.flatMap((r) => r.saves));
const summary = {
  runs: RUNS,
  labelToRunningMs: med((r) => r.labelRunningMs),
  plainRolloutMs: med((r) => r.rolloutMs),
  labelToFirstFileMs: med((r) => r.labelFirstFileMs),
  saveP50Ms: saves.p50,
  saveP95Ms: saves.p95,
  loopbackSaveP50Ms: floor.medianMs,
  loopbackSaveP95Ms: floor.p95Ms,
  unlabelToRunningMs: med((r) => r.unlabelRunningMs),
  plainRollbackMs: med((r) => r.rollbackMs),
};
if (values.json) console.log(JSON.stringify(summary, null, 2));
console.log(`\nmedians of ${RUNS} runs on the node:`);
console.log(`  label -> dev pod Running        ${summary.labelToRunningMs.toFixed(0)} ms   floor: plain rollout -> first new pod Running ${summary.plainRolloutMs.toFixed(0)} ms (target: within 1000 ms of it)`);
console.log(`  label -> first file in the pod  ${summary.labelToFirstFileMs.toFixed(0)} ms   (kubectl devx up --sync)`);
console.log(`  save -> in the dev container    p50 ${saves.p50.toFixed(0)} ms, p95 ${saves.p95.toFixed(0)} ms (${runs.length * SAVES} saves; target p95 <= 1500 ms)   floor, loopback without port-forward: p50 ${floor.medianMs} ms, p95 ${floor.p95Ms} ms`);
console.log(`  unlabel -> original pods Running ${summary.unlabelToRunningMs.toFixed(0)} ms   floor: plain rollout back ${summary.plainRollbackMs.toFixed(0)} ms (target: within 1000 ms of it)`);
