// Save a file locally → the same bytes in the sidecar's directory: the time the developer waits, measured over many
// saves with the real parts of agent-sync.test.ts — a real control plane with devx (the dev pod and its sync Secret
// are real API objects), a sidecar stand-in started from that pod's devx-sync container and that Secret, and
// `kubectl devx sync` with the local syncthing. As in the test, the agent dials the stand-in's loopback address
// (`--address`): no kubelet, so no port-forward hop.
//   node bench/sync-latency.ts [--saves 60] [--back 20] [--json]
// Each save writes new content (edits of existing files and new files, alternating) and polls the other side every
// 5 ms until the bytes match; saves are 250 ms apart, like a developer saving in bursts. `--back` measures the other
// direction too (a file written in the pod → present locally). Prints every save, the median and the p95.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startControlPlane, type ControlPlane } from '../test/e2e/harness/control-plane.ts';
import { applyPolicy, decodeSecret, getJson, installCrd, startDevx } from '../test/e2e/harness/devx.ts';
import { ensureSyncSecret, startAgent, startSidecarStandIn, type StandIn } from '../test/e2e/harness/syncthing.ts';
import { percentile } from './load.ts';

const { values } = parseArgs({ options: { saves: { type: 'string' }, back: { type: 'string' }, json: { type: 'boolean' } } });
const SAVES = Number(values.saves ?? 60);
const BACK = Number(values.back ?? 20);
const NS = 'bench';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Milliseconds from writing `content` to `from` until `to` holds exactly it. */
async function timeSave(from: string, to: string, content: string): Promise<number> {
  const t0 = performance.now();
  fs.writeFileSync(from, content);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if (fs.readFileSync(to, 'utf8') === content) return performance.now() - t0;
    } catch {
      // not there yet
    }
    if (Date.now() > deadline) throw new Error(`${to} did not get the save within 30 s`);
    await sleep(5);
  }
}

function summary(label: string, ms: number[]): Record<string, number | string> {
  const sorted = [...ms].sort((a, b) => a - b);
  return { direction: label, saves: ms.length, medianMs: Math.round(percentile(sorted, 50)), p95Ms: Math.round(percentile(sorted, 95)), minMs: Math.round(sorted[0] ?? NaN), maxMs: Math.round(sorted.at(-1) ?? NaN) };
}

async function measure(label: string, saves: number, from: string, to: string, name: (i: number) => string): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < saves; i++) {
    const rel = name(i);
    const t = await timeSave(path.join(from, rel), path.join(to, rel), `export const v = ${i}; // save ${i} at ${Date.now()}\n`);
    ms.push(t);
    if (!values.json) console.log(`save ${String(i + 1).padStart(3)} ${label}  ${t.toFixed(0).padStart(5)} ms  ${rel}`);
    await sleep(250);
  }
  return ms;
}

/** The workload in dev mode, its injected pod and sync Secret as the API server returns them, and the stand-in. */
async function devPodStandIn(cp: ControlPlane, root: string): Promise<StandIn> {
  const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app' }, spec: { selector: { matchLabels: { app: 'app' } }, template: { metadata: { labels: { app: 'app' } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] } } } };
  await cp.kubectl(['apply', '-f', '-'], { namespace: NS, input: JSON.stringify(deploy) });
  await cp.kubectl(['label', 'deploy', 'app', 'dev.x/enabled=true'], { namespace: NS });
  let pod: any;
  for (let i = 0; i < 300 && !pod; i++, await sleep(100)) pod = (await getJson(cp, ['pods', '-l', 'app=app'], NS)).items.find((p: any) => p.metadata.annotations?.['dev.x/status']);
  if (!pod) throw new Error('no injected pod');
  const secretName = await ensureSyncSecret(cp, { namespace: NS, kind: 'Deployment', name: 'app', uid: (await getJson(cp, ['deploy', 'app'], NS)).metadata.uid });
  const data = decodeSecret(await getJson(cp, ['secret', secretName], NS));
  const container = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c: any) => c.name === 'devx-sync');
  fs.mkdirSync(root);
  return startSidecarStandIn({ root, container, volumes: pod.spec.volumes, secrets: { [secretName]: data } });
}

async function run(cp: ControlPlane, tmp: string): Promise<void> {
  const standIn = await devPodStandIn(cp, path.join(tmp, 'pod'));
  const local = path.join(tmp, 'local');
  fs.mkdirSync(path.join(local, 'src'), { recursive: true });
  for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(local, 'src', `file${i}.ts`), `export const v${i} = ${i};\n`);
  const agent = startAgent(['sync', 'deploy/app', local, '-n', NS, '--address', standIn.address, '-o', 'json'], { KUBECONFIG: cp.kubeconfigPath, XDG_CONFIG_HOME: path.join(tmp, 'config') });
  try {
    await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 120_000);
    await sleep(2000);
    const out = await measure('local → pod', SAVES, local, standIn.workdir, (i) => (i % 2 === 0 ? path.join('src', `file${i % 200}.ts`) : path.join('src', `new${i}.ts`)));
    const back = await measure('pod → local', BACK, standIn.workdir, local, (i) => path.join('src', `from-pod${i}.ts`));
    const results = [summary('local → pod', out), ...(back.length > 0 ? [summary('pod → local', back)] : [])];
    if (values.json) console.log(JSON.stringify({ syncthing: 'local (PATH)', results }, null, 2));
    else for (const r of results) console.log(`${r.direction}: ${r.saves} saves, median ${r.medianMs} ms, p95 ${r.p95Ms} ms (min ${r.minMs}, max ${r.maxMs})`);
  } finally {
    await agent.interrupt();
    await standIn.stop();
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-bench-sync-'));
fs.chmodSync(tmp, 0o755); // the stand-in runs as a non-root user when this runs as root
const cp = await startControlPlane();
try {
  await installCrd(cp);
  await applyPolicy(cp);
  await cp.createNamespace(NS, { 'dev.x/policy': 'default' });
  const devx = await startDevx(cp);
  try {
    await run(cp, tmp);
  } finally {
    await devx.stop();
  }
} finally {
  await cp.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
