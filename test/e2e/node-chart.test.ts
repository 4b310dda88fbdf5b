// devx installed as a cluster admin installs it: the devx-webhook image (tools/devx-image.ts, the Dockerfile's facts,
// no Docker engine) imported into the node's containerd, and `helm install` of charts/devx with its defaults — two
// replicas, self-managed TLS, leader election — into a namespace that enforces Pod Security `restricted`. The API
// server calls devx through its Service (at an endpoint: --enable-aggregator-routing) and devx reaches the API server
// through the `kubernetes` Service (kube-proxy on the node). Then dev mode as a developer sees it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, getJson, REPO } from './harness/devx.ts';
import { CHART_DIR, helm } from './harness/helm.ts';
import { startNodeCluster, type NodeCluster } from './harness/node.ts';
import { runToEnd } from './harness/processes.ts';
import { kube, type Kube } from './harness/reconciler.ts';
import { startAgent } from './harness/syncthing.ts';

const NS = 'devx-system';
const APP_NS = 'bookinfo';
let c: NodeCluster;
let k: Kube;
let tmp: string;
let image: { repository: string; tag: string };

/** Builds the devx-webhook image archive and imports it into the node. */
async function importDevxImage(): Promise<{ repository: string; tag: string }> {
  const out = await runToEnd(process.execPath, [path.join(REPO, 'tools/devx-image.ts'), '--out', tmp], { env: process.env, timeoutMs: 300_000 });
  assert.equal(out.code, 0, `tools/devx-image.ts: ${out.stderr}`);
  const [archive, ref] = out.stdout.trim().split('\n').slice(-2) as [string, string];
  const imported = await c.node.ctr(['images', 'import', archive]);
  assert.equal(imported.code, 0, imported.stderr);
  const at = ref.lastIndexOf(':');
  return { repository: ref.slice(0, at), tag: ref.slice(at + 1) };
}

async function helmOk(args: string[]): Promise<string> {
  const r = await helm(args, { kubeconfig: c.kubeconfigPath, timeoutMs: 240_000 });
  assert.equal(r.code, 0, `helm ${args.join(' ')}: ${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

const ready = (p: any): boolean => p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).length > 0 && p.status.containerStatuses.every((s: any) => s.ready);

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-e2e-chart-'));
  c = await startNodeCluster();
  k = kube(c);
  image = await importDevxImage();
  await c.createNamespace(NS, { 'pod-security.kubernetes.io/enforce': 'restricted' });
  await helmOk([
    'install', 'devx', CHART_DIR, '--namespace', NS,
    '--set', `image.repository=${image.repository}`, '--set', `image.tag=${image.tag}`, '--set', 'image.pullPolicy=Never',
    '--wait', '--timeout=180s',
  ]);
});

after(async () => {
  await c?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('devx installed by its chart on the node', () => {
  test('both devx pods Running and Ready under Pod Security restricted; one holds the Lease', async () => {
    const pods = (await getJson(c, ['pods', '-l', 'app.kubernetes.io/name=devx'], NS)).items as any[];
    assert.equal(pods.length, 2, 'two replicas (the chart default)');
    for (const p of pods) {
      assert.ok(ready(p), `${p.metadata.name} Running and Ready: ${JSON.stringify(p.status.containerStatuses)}`);
      assert.equal(p.spec.containers[0].image, `${image.repository}:${image.tag}`);
    }
    const lease = await eventually('the reconciler Lease held', async () => {
      const l = await getJson(c, ['lease', 'devx-reconciler'], NS).catch(() => undefined);
      return l?.spec?.holderIdentity ? l : undefined;
    }, 60_000);
    assert.ok(pods.some((p) => p.metadata.name === lease.spec.holderIdentity), `the holder ${lease.spec.holderIdentity} is one of the devx pods`);
    const mwc = await getJson(c, ['mutatingwebhookconfiguration', 'devx']);
    assert.ok(mwc.webhooks.every((w: any) => w.clientConfig.service?.name === 'devx' && w.clientConfig.caBundle), 'called through the Service, with the CA devx published');
  });

  test('a developer labels bookinfo reviews: the dev pod runs, and kubectl devx sync brings a file into it', async () => {
    const images = c.node.images;
    const policy = { apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'default' }, spec: { images: [{ match: 'devx.local/reviews:*', devImage: images.dev }], allowedImages: ['devx.local/*'], sidecar: { image: images.syncthing } } };
    await k.ok(['apply', '-f', '-'], { input: JSON.stringify(policy) });
    await c.createNamespace(APP_NS, { 'dev.x/policy': 'default' });
    const probe = { httpGet: { path: '/health', port: 9080 }, periodSeconds: 1 };
    const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'reviews' }, spec: { replicas: 3, selector: { matchLabels: { app: 'reviews' } }, template: { metadata: { labels: { app: 'reviews' } }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'reviews', image: images.reviews, readinessProbe: probe }] } } } };
    await k.apply(deploy, APP_NS);
    const labelled = await k.ok(['label', 'deploy', 'reviews', 'dev.x/enabled=true'], { namespace: APP_NS });
    assert.match(labelled.stderr, /dev mode on: replicas 3 -> 1/, 'the warnings come from devx in its pods');
    const pod = await eventually('the dev pod Running, alone', async () => {
      const all = (await getJson(c, ['pods', '-l', 'app=reviews'], APP_NS)).items as any[];
      return all.length === 1 && all[0].metadata.annotations?.['dev.x/status'] && ready(all[0]) ? all[0] : undefined;
    }, 90_000);
    const local = path.join(tmp, 'src');
    fs.mkdirSync(local);
    fs.writeFileSync(path.join(local, 'hello.txt'), 'from the laptop\n');
    const agent = startAgent(['sync', 'deploy/reviews', local, '-n', APP_NS, '-o', 'json'], { KUBECONFIG: c.kubeconfigPath, XDG_CONFIG_HOME: path.join(tmp, 'config'), NO_COLOR: '1' });
    try {
      await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 120_000);
      const r = await c.kubectl(['exec', '-n', APP_NS, pod.metadata.name, '-c', 'reviews', '--', 'cat', '/home/devx/hello.txt']);
      assert.equal(r.stdout, 'from the laptop\n', r.stderr);
    } finally {
      await agent.interrupt();
    }
  });
});
