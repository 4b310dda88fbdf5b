// Duplicate mode on a real node (issue 14 §4): a Deployment behind a Service is labelled with dev.x/mode=duplicate.
// Its own pods keep running, untouched, with the original image, and the Service's EndpointSlice lists only them; the
// developer's copy runs its dev pod beside them, and `kubectl devx sync` syncs a file into that pod through the real
// port-forward. Removing the label deletes the copy; the original pods never restarted.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { duplicateName } from '../../src/core/duplicate.ts';
import { eventually, getJson, kubeconfigAs } from './harness/devx.ts';
import { podReady, type NodeCluster } from './harness/node.ts';
import { startNodeDevx, type NodeDevx } from './harness/node-devx.ts';
import type { Kube } from './harness/reconciler.ts';
import { runAgent, startAgent } from './harness/syncthing.ts';

const NS = 'shop';
const WORKDIR = '/home/devx';
let n: NodeDevx;
let c: NodeCluster;
let k: Kube;

before(async () => {
  n = await startNodeDevx(NS);
  ({ cluster: c, kube: k } = n);
  // The developer is alice (impersonated): devx's own requests, made with the admin's kubeconfig here, name nobody.
  await k.ok(['create', 'rolebinding', 'alice-edit', '--clusterrole=edit', '--user=alice'], { namespace: NS });
});

after(async () => {
  await n?.stop();
});

const probe = { httpGet: { path: '/health', port: 9080 }, periodSeconds: 1 };

function reviews(): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'reviews', labels: { app: 'reviews' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'reviews' } },
      template: {
        metadata: { labels: { app: 'reviews' } },
        spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'reviews', image: c.node.images.reviews, ports: [{ containerPort: 9080 }], readinessProbe: probe, livenessProbe: probe }] },
      },
    },
  };
}

/** The addresses the Service's EndpointSlices list as ready, sorted. */
async function readyEndpoints(service: string): Promise<string[]> {
  const slices = (await getJson(c, ['endpointslices', '-l', `kubernetes.io/service-name=${service}`], NS)).items as any[];
  return slices
    .flatMap((s) => (s.endpoints ?? []) as any[])
    .filter((e) => e.conditions?.ready === true)
    .flatMap((e) => e.addresses as string[])
    .sort();
}

/** The original's pods: `count` of them, Running and ready, none injected. */
async function originals(count: number): Promise<any[]> {
  return eventually(`${count} original reviews pods Running and ready`, async () => {
    const pods = (await getJson(c, ['pods', '-l', 'app=reviews'], NS)).items as any[];
    return pods.length === count && pods.every((p) => podReady(p) && !p.metadata.annotations?.['dev.x/status']) ? pods : undefined;
  }, 90_000);
}

test('duplicate mode: the original keeps serving with its image and alone behind its Service; the copy’s dev pod runs and syncs', async () => {
  await k.apply(reviews(), NS);
  await k.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews' }, spec: { selector: { app: 'reviews' }, ports: [{ port: 9080, targetPort: 9080 }] } }, NS);
  const before = await originals(2);
  const ips = before.map((p) => p.status.podIP as string).sort();
  await eventually('the Service lists the two original pods', async () => JSON.stringify(await readyEndpoints('reviews')) === JSON.stringify(ips), 60_000);
  const spec = (await getJson(c, ['deploy', 'reviews'], NS)).spec;

  await k.ok(['annotate', 'deploy', 'reviews', 'dev.x/mode=duplicate'], { namespace: NS, as: 'alice' });
  const labelled = await k.ok(['label', 'deploy', 'reviews', 'dev.x/enabled=true'], { namespace: NS, as: 'alice' });
  assert.match(labelled.stderr, /keeps serving unchanged; your copy reviews-devx-alice runs the dev pod/);
  const copy = duplicateName('reviews', 'alice');
  const dev = await eventually(
    `the dev pod of ${copy} Running with both containers ready`,
    async () => ((await getJson(c, ['pods', '-l', `dev.x/copy=${copy}`], NS)).items as any[]).find((p) => p.metadata.annotations?.['dev.x/status'] && podReady(p) && !p.metadata.deletionTimestamp),
    90_000,
  );
  const devContainer = dev.spec.containers.find((x: any) => x.name === 'reviews');
  assert.equal(devContainer.image, c.node.images.dev);
  assert.equal(devContainer.readinessProbe, undefined);

  // The original: the same two pods (never restarted), its image and probes, alone behind the Service.
  const during = await originals(2);
  assert.deepEqual(during.map((p) => p.metadata.uid).sort(), before.map((p) => p.metadata.uid).sort(), 'the original pods were not replaced');
  for (const p of during) {
    assert.equal(p.spec.containers[0].image, c.node.images.reviews);
    assert.deepEqual(p.spec.containers[0].readinessProbe, before[0].spec.containers[0].readinessProbe);
    assert.equal(p.status.containerStatuses[0].restartCount, 0);
  }
  assert.deepEqual((await getJson(c, ['deploy', 'reviews'], NS)).spec, spec, "the original's spec is unchanged");
  // Give the EndpointSlice controller time to see the dev pod (Running, ready, with an IP): it must stay out.
  await new Promise((r) => setTimeout(r, 2000));
  const endpoints = await readyEndpoints('reviews');
  assert.deepEqual(endpoints, ips, `the Service lists only the original pods, not the copy's ${dev.status.podIP}`);
  assert.ok(dev.status.podIP && !endpoints.includes(dev.status.podIP));

  // kubectl devx sync reviews: the caller's copy, through the real port-forward.
  const local = path.join(n.tmp, 'src');
  fs.mkdirSync(local, { recursive: true });
  fs.writeFileSync(path.join(local, 'hello.txt'), 'hello from the laptop\n');
  const agent = startAgent(['sync', 'reviews', local, '-n', NS, '-o', 'json'], { KUBECONFIG: kubeconfigAs(c, n.tmp, 'alice'), XDG_CONFIG_HOME: path.join(n.tmp, 'config'), NO_COLOR: '1' });
  try {
    await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 180_000);
    const read = async (): Promise<string | undefined> => {
      const r = await c.kubectl(['exec', '-n', NS, dev.metadata.name, '-c', 'reviews', '--', 'cat', `${WORKDIR}/hello.txt`]);
      return r.code === 0 ? r.stdout : undefined;
    };
    await eventually('hello.txt in the dev container of the copy', async () => (await read()) === 'hello from the laptop\n', 30_000);
    assert.ok(agent.stderr().includes(copy) || JSON.stringify(agent.events()).includes(copy), 'the agent says it syncs with the copy');
    // kubectl devx exec reaches the same pod: alice's copy, where the synced file is.
    const exec = await runAgent(['exec', 'deploy/reviews', '-n', NS, '--', 'sh', '-c', `cat ${WORKDIR}/hello.txt; hostname`], { KUBECONFIG: kubeconfigAs(c, n.tmp, 'alice'), XDG_CONFIG_HOME: path.join(n.tmp, 'config'), NO_COLOR: '1' });
    assert.deepEqual({ code: exec.code, stdout: exec.stdout }, { code: 0, stdout: `hello from the laptop\n${dev.metadata.name}\n` }, exec.stderr);
    // The file is not in the original's pods: they run their own image, untouched.
    for (const p of during) {
      const r = await c.kubectl(['exec', '-n', NS, p.metadata.name, '-c', 'reviews', '--', 'ls', WORKDIR]);
      assert.notEqual(r.code, 0, `${WORKDIR} does not exist in the original pod ${p.metadata.name}`);
    }
  } finally {
    await agent.interrupt();
  }

  // Unlabel: the copy and its Secret go; the original pods are the same, still serving.
  await k.ok(['label', 'deploy', 'reviews', 'dev.x/enabled-'], { namespace: NS, as: 'alice' });
  await eventually('the copy and its dev pod gone', async () => (await k.gone('deploy', copy, NS)) && ((await getJson(c, ['pods', '-l', `dev.x/copy=${copy}`], NS)).items as any[]).length === 0, 60_000);
  await eventually('the copy’s sync Secret gone', () => k.gone('secret', `devx-sync-deployment-${copy}`, NS));
  const after = await originals(2);
  assert.deepEqual(after.map((p) => p.metadata.uid).sort(), before.map((p) => p.metadata.uid).sort());
  assert.deepEqual(await readyEndpoints('reviews'), ips);
});
