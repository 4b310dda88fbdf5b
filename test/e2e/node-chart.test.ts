// devx installed as a cluster admin installs it: the devx-webhook image (tools/devx-image.ts, the Dockerfile's facts,
// no Docker engine) imported into the node's containerd, and `helm install` of charts/devx with its defaults — two
// replicas, self-managed TLS, leader election — into a namespace that enforces Pod Security `restricted`. The API
// server calls devx through its Service (at an endpoint: --enable-aggregator-routing) and devx reaches the API server
// through the `kubernetes` Service (kube-proxy on the node). Then dev mode as a developer sees it.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, getJson, REPO } from './harness/devx.ts';
import { CHART_DIR, helm } from './harness/helm.ts';
import { nodePolicySpec, podReady, startNodeCluster, type NodeCluster } from './harness/node.ts';
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A steady trickle of reviews devx must answer: server-side dry-run creations (admission runs in full, nothing is
 * stored), one every `everyMs`, alternating a labelled Deployment (answered: devx's dev.x/enabled-at record on it) and
 * a labelled bare pod (answered: injected, devx's dev.x/status on it).
 */
function trickle(everyMs = 100): { stop(): Promise<{ answered: number; failed: string[] }> } {
  let stopped = false;
  let answered = 0;
  const failed: string[] = [];
  const review = (i: number): { path: string; body: unknown; record: string } => {
    const name = `trickle-${i}`;
    const labels = { app: name, 'dev.x/enabled': 'true' };
    const spec = { containers: [{ name: 'c', image: c.node.images.reviews }] };
    return i % 2 === 0
      ? { path: `/apis/apps/v1/namespaces/${APP_NS}/deployments?dryRun=All`, record: 'dev.x/enabled-at', body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels }, spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec } } } }
      : { path: `/api/v1/namespaces/${APP_NS}/pods?dryRun=All`, record: 'dev.x/status', body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec } };
  };
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const { path: apiPath, body, record } = review(i);
      try {
        const r = await c.request('POST', apiPath, body);
        if (r.status === 201 && JSON.parse(r.body).metadata?.annotations?.[record]) answered++;
        else failed.push(`${new Date().toISOString()} HTTP ${r.status}: ${r.body.slice(0, 300)}`);
      } catch (err) {
        failed.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { answered, failed };
    },
  };
}

async function devxPods(): Promise<any[]> {
  return ((await getJson(c, ['pods', '-l', 'app.kubernetes.io/name=devx'], NS)).items as any[]).filter((p) => !p.metadata.deletionTimestamp);
}

async function leaseHolder(): Promise<string | undefined> {
  return (await getJson(c, ['lease', 'devx-reconciler'], NS).catch(() => undefined))?.spec?.holderIdentity;
}

/** reviews is in dev mode with its one dev pod Running; returns that pod. */
async function devPodOfReviews(): Promise<any> {
  return eventually('the dev pod of reviews Running, alone', async () => {
    const all = (await getJson(c, ['pods', '-l', 'app=reviews'], APP_NS)).items as any[];
    return all.length === 1 && all[0].metadata.annotations?.['dev.x/status'] && ready(all[0]) ? all[0] : undefined;
  }, 90_000);
}

const ready = podReady;

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
    const policy = { apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'default' }, spec: nodePolicySpec(images) };
    await k.ok(['apply', '-f', '-'], { input: JSON.stringify(policy) });
    await c.createNamespace(APP_NS, { 'dev.x/policy': 'default' });
    const probe = { httpGet: { path: '/health', port: 9080 }, periodSeconds: 1 };
    const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'reviews' }, spec: { replicas: 3, selector: { matchLabels: { app: 'reviews' } }, template: { metadata: { labels: { app: 'reviews' } }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'reviews', image: images.reviews, readinessProbe: probe }] } } } };
    await k.apply(deploy, APP_NS);
    const labelled = await k.ok(['label', 'deploy', 'reviews', 'dev.x/enabled=true'], { namespace: APP_NS });
    assert.match(labelled.stderr, /dev mode on: replicas 3 -> 1/, 'the warnings come from devx in its pods');
    const pod = await devPodOfReviews();
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

  test('the leader pod deleted: the other replica takes the Lease, every review of a steady trickle is answered, the replacement joins with the same CA', async (t) => {
    const caBefore = (await getJson(c, ['secret', 'devx-webhook-ca'], NS)).data;
    const bundleBefore = (await getJson(c, ['mutatingwebhookconfiguration', 'devx'])).webhooks[0].clientConfig.caBundle;
    const leader = await leaseHolder();
    assert.ok(leader);
    const flow = trickle();
    let stopped: { answered: number; failed: string[] } | undefined;
    const stopFlow = async (): Promise<{ answered: number; failed: string[] }> => (stopped ??= await flow.stop());
    t.after(stopFlow);
    await sleep(2000);
    const t0 = performance.now();
    await k.ok(['delete', 'pod', leader, '-n', NS, '--wait=false']);
    const next = await eventually('the Lease taken over by the other replica', async () => {
      const h = await leaseHolder();
      return h && h !== leader ? h : undefined;
    }, 60_000, );
    const takeover = performance.now() - t0;
    const pods = await eventually('two devx pods Ready again', async () => {
      const ps = await devxPods();
      return ps.length === 2 && ps.every(ready) ? ps : undefined;
    }, 120_000);
    await sleep(2000);
    const { answered, failed } = await stopFlow();
    console.log(`# leader ${leader} deleted -> Lease held by ${next} after ${(takeover / 1000).toFixed(1)} s; ${answered} reviews answered during the failover, ${failed.length} failed`);
    assert.deepEqual(failed, [], 'no review fails while the leader goes');
    assert.ok(answered > 20, `the trickle ran (${answered} reviews)`);
    assert.ok(pods.some((p) => p.metadata.name !== leader && p.metadata.name !== next), 'a replacement pod joined');
    assert.deepEqual((await getJson(c, ['secret', 'devx-webhook-ca'], NS)).data, caBefore, 'the same CA');
    assert.equal((await getJson(c, ['mutatingwebhookconfiguration', 'devx'])).webhooks[0].clientConfig.caBundle, bundleBefore);
    await devPodOfReviews();
  });

  test('helm upgrade with a changed value while reviews is in dev mode: no review fails, dev mode intact', async (t) => {
    const devPod = await devPodOfReviews();
    const flow = trickle();
    let stopped: { answered: number; failed: string[] } | undefined;
    const stopFlow = async (): Promise<{ answered: number; failed: string[] }> => (stopped ??= await flow.stop());
    t.after(stopFlow);
    await helmOk(['upgrade', 'devx', CHART_DIR, '--namespace', NS, '--reuse-values', '--set', 'logLevel=debug', '--wait', '--timeout=180s']);
    await eventually('two devx pods of the new revision Ready', async () => {
      const ps = await devxPods();
      return ps.length === 2 && ps.every((p) => ready(p) && p.spec.containers[0].args.includes('--log-level=debug')) ? ps : undefined;
    }, 120_000);
    await sleep(2000);
    const { answered, failed } = await stopFlow();
    console.log(`# helm upgrade: ${answered} reviews answered during the rollout, ${failed.length} failed`);
    assert.deepEqual(failed, []);
    const afterUpgrade = await devPodOfReviews();
    assert.equal(afterUpgrade.metadata.uid, devPod.metadata.uid, 'the same dev pod, untouched');
    assert.equal((await getJson(c, ['deploy', 'reviews'], APP_NS)).metadata.labels['dev.x/enabled'], 'true');
  });

  test('the CA Secret deleted: a new CA, the caBundle holds old and new, no review fails', async () => {
    const fingerprints = (pem: string): string[] => (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((c1) => new X509Certificate(c1).fingerprint256);
    const caOf = async (): Promise<string | undefined> => {
      const data = (await getJson(c, ['secret', 'devx-webhook-ca'], NS).catch(() => undefined))?.data;
      return data ? fingerprints(Buffer.from(data['ca.crt'], 'base64').toString())[0] : undefined;
    };
    const bundles = async (): Promise<string[][]> => {
      const configs = await Promise.all(['mutatingwebhookconfiguration', 'validatingwebhookconfiguration'].map((kind) => getJson(c, [kind, 'devx'])));
      return configs.flatMap((cfg) => (cfg.webhooks as any[]).map((w) => fingerprints(Buffer.from(w.clientConfig.caBundle, 'base64').toString())));
    };
    const oldCa = await caOf();
    assert.ok(oldCa);
    const flow = trickle();
    try {
      await k.ok(['delete', 'secret', 'devx-webhook-ca', '-n', NS]);
      // The chart's CA lives a year: replicas read the Secret once a minute, then trust a new CA 10 s before using it.
      const newCa = await eventually('a new CA Secret', async () => {
        const ca = await caOf();
        return ca && ca !== oldCa ? ca : undefined;
      }, 120_000);
      await eventually('every caBundle holds the old and the new CA', async () => (await bundles()).every((b) => b.includes(oldCa) && b.includes(newCa)), 60_000);
      await sleep(15_000);
    } finally {
      const { answered, failed } = await flow.stop();
      console.log(`# CA Secret deleted: ${answered} reviews answered during the CA change, ${failed.length} failed`);
      assert.deepEqual(failed, []);
    }
  });

  test('helm uninstall while reviews is in dev mode: what the README says remains; after a reinstall, removing the label restores reviews', async () => {
    await helmOk(['uninstall', 'devx', '--namespace', NS, '--wait', '--timeout=120s']);
    // Left: the workload as dev mode made it (label, one replica, its dev pod and sync Secret), the CRD and the
    // DevPolicies, devx's CA and record-key Secrets. Gone: devx's pods and every webhook configuration.
    assert.equal((await devxPods()).length, 0);
    assert.equal((await c.kubectl(['get', 'mutatingwebhookconfiguration', 'devx'])).code, 1);
    assert.equal((await c.kubectl(['get', 'validatingwebhookconfiguration', 'devx'])).code, 1);
    const deploy = await getJson(c, ['deploy', 'reviews'], APP_NS);
    assert.equal(deploy.metadata.labels['dev.x/enabled'], 'true');
    assert.equal(deploy.spec.replicas, 1);
    await devPodOfReviews();
    await getJson(c, ['secret', 'devx-sync-deployment-reviews'], APP_NS);
    await getJson(c, ['secret', 'devx-webhook-ca'], NS);
    await getJson(c, ['secret', 'devx-records-key'], NS);
    await getJson(c, ['devpolicy', 'default']);
    // The README's way back: the label removed (nothing restores yet), devx installed again: its reconciler restores.
    await k.ok(['label', 'deploy', 'reviews', 'dev.x/enabled-'], { namespace: APP_NS });
    assert.equal((await getJson(c, ['deploy', 'reviews'], APP_NS)).spec.replicas, 1, 'without devx nothing is restored');
    await helmOk(['install', 'devx', CHART_DIR, '--namespace', NS, '--set', `image.repository=${image.repository}`, '--set', `image.tag=${image.tag}`, '--set', 'image.pullPolicy=Never', '--wait', '--timeout=180s']);
    await eventually('reviews restored: 3 original pods Running', async () => {
      const all = (await getJson(c, ['pods', '-l', 'app=reviews'], APP_NS)).items as any[];
      return all.length === 3 && all.every((p) => ready(p) && !p.metadata.annotations?.['dev.x/status']);
    }, 120_000);
    const restored = await getJson(c, ['deploy', 'reviews'], APP_NS);
    assert.equal(restored.spec.replicas, 3);
    assert.equal(restored.spec.template.spec.containers[0].image, c.node.images.reviews);
  });
});
