// What the pod side of a sync cannot do, seen by `kubectl devx sync` on a real node (harness/node.ts: kubelet,
// containerd, runc; the sidecar's API reached through the real `pods/portforward`, like the sync port). The dev
// container runs as root and the sidecar as uid 1000, so a file root keeps to itself (0600) cannot be read by the
// sidecar, and a directory root made (0755) cannot be written into: the agent must say so (`podErrors` in its status
// events, a warning note once it lasts) instead of showing "errors: []" forever, and must call a file that came from
// the pod `in`, not `out`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, getJson, type DevxServer } from './harness/devx.ts';
import { nodePolicySpec, podReady, startNodeCluster, type NodeCluster } from './harness/node.ts';
import { kube, startReconcilingDevx, type Kube } from './harness/reconciler.ts';
import { startAgent, type AgentProcess } from './harness/syncthing.ts';

const NS = 'bookinfo';
const WORKDIR = '/home/devx';
const APP = 'stuck';
let c: NodeCluster;
let devx: DevxServer;
let k: Kube;
let tmp: string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-node-errors-'));
  c = await startNodeCluster();
  k = kube(c);
  devx = await startReconcilingDevx(c, NS, [{ name: 'default', spec: nodePolicySpec(c.node.images) }]);
});

after(async () => {
  await devx?.stop();
  await c?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A `reviews` Deployment with no runAsUser anywhere: its dev container runs as root. */
function deployment(name: string): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'reviews', image: c.node.images.reviews, ports: [{ containerPort: 9080 }] }] },
      },
    },
  };
}

const running = podReady;

async function devPodRunning(selector: string): Promise<any> {
  return eventually(
    `the dev pod of ${selector} Running with both containers ready, alone`,
    async () => {
      const all = (await getJson(c, ['pods', '-l', selector], NS)).items as any[];
      return all.length === 1 && all[0].metadata.annotations?.['dev.x/status'] && !all[0].metadata.deletionTimestamp && running(all[0]) ? all[0] : undefined;
    },
    90_000,
  );
}

async function exec(pod: string, container: string, script: string): Promise<string> {
  const r = await c.kubectl(['exec', '-n', NS, pod, '-c', container, '--', 'sh', '-c', script]);
  assert.equal(r.code, 0, `kubectl exec ${pod} -c ${container}: ${r.stderr}`);
  return r.stdout;
}

async function arrivesLocally(file: string, content: string, timeoutMs = 30_000): Promise<void> {
  await eventually(`${file} locally`, async () => fs.existsSync(file) && fs.readFileSync(file, 'utf8') === content, timeoutMs);
}

const statuses = (agent: AgentProcess): Array<Record<string, any>> => agent.events().filter((e) => e.event === 'status');
const podErrorPaths = (e: Record<string, any>): string[] => (e.podErrors ?? []).map((x: any) => x.path);

describe('pod-side sync errors on a real node', () => {
  test('a root-only file and a root-owned directory in the dev container: the agent names them as pod-side errors, warns once, and sees them clear; pulled files are `in`', async () => {
    await k.apply(deployment(APP), NS);
    await k.ok(['label', 'deploy', APP, 'dev.x/enabled=true'], { namespace: NS });
    const pod = await devPodRunning(`app=${APP}`);
    const name = pod.metadata.name as string;
    assert.equal((await exec(name, 'reviews', 'id -u')).trim(), '0', 'the dev container runs as root');
    assert.equal((await exec(name, 'devx-sync', 'id -u')).trim(), '1000', 'the sidecar runs as uid 1000');

    const local = path.join(tmp, 'local');
    fs.mkdirSync(local);
    fs.writeFileSync(path.join(local, 'hello.txt'), 'hello\n');
    const agent = startAgent(['sync', `deploy/${APP}`, local, '-n', NS, '-o', 'json'], { KUBECONFIG: c.kubeconfigPath, XDG_CONFIG_HOME: path.join(tmp, 'config'), NO_COLOR: '1' });
    try {
      await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 180_000);

      // A file the pod makes, readable by the sidecar: it comes back, labelled as coming from the pod.
      await exec(name, 'reviews', `cd ${WORKDIR} && echo 'from the pod' > from-pod.txt`);
      await arrivesLocally(path.join(local, 'from-pod.txt'), 'from the pod\n');
      await agent.waitForEvent('a status naming from-pod.txt', (e) => e.event === 'status' && e.lastChange?.path === 'from-pod.txt', 15_000);
      await new Promise((r) => setTimeout(r, 2000)); // the LocalIndexUpdated that follows the pull, had it been mislabelled
      const labels = statuses(agent)
        .filter((e) => e.lastChange?.path === 'from-pod.txt')
        .map((e) => e.lastChange.direction);
      assert.ok(labels.length > 0 && labels.every((d) => d === 'in'), `from-pod.txt is a change from the pod: ${labels.join(' ')}`);

      // A file only root may read: the sidecar cannot hash it.
      await exec(name, 'reviews', `cd ${WORKDIR} && mkdir made && echo secret > made/secret.txt && chmod 600 made/secret.txt && stat -c '%u %a %n' made made/secret.txt`);
      const t0 = performance.now();
      const reported = await agent.waitForEvent('a status with the pod-side error on made/secret.txt', (e) => e.event === 'status' && podErrorPaths(e).includes('made/secret.txt'), 30_000);
      console.log(`# root-only file in the pod → named by the agent: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const err = reported.podErrors.find((x: any) => x.path === 'made/secret.txt');
      console.log(`# the sidecar's own words: ${err.error}`);
      assert.match(err.error, /permission denied/);
      assert.equal(err.message, "permission denied: made/secret.txt (the dev container's user owns it; the sidecar runs as uid 1000)");
      assert.deepEqual(reported.errors, [], 'the local side has no errors: they are the pod’s');
      const warning = await agent.waitForEvent('the stuck warning', (e) => e.event === 'note' && /^pod side stuck/.test(e.message) && e.message.includes('made/secret.txt'), 30_000);
      console.log(`# ${warning.message}`);
      await new Promise((r) => setTimeout(r, 7000)); // several more polls: still one warning
      assert.equal(agent.events().filter((e) => e.event === 'note' && /^pod side stuck/.test(e.message)).length, 1, 'warned once, not at every poll');

      // Root makes it readable: the error clears and the file arrives.
      const errorsBefore = statuses(agent).length;
      await exec(name, 'reviews', `chmod 644 ${WORKDIR}/made/secret.txt`);
      await arrivesLocally(path.join(local, 'made', 'secret.txt'), 'secret\n', 60_000);
      await eventually('a status without pod-side errors', async () => statuses(agent).slice(errorsBefore).some((e) => (e.podErrors ?? []).length === 0), 30_000);
      await agent.waitForEvent('the all-clear note', (e) => e.event === 'note' && /pod side: the sync errors are resolved/.test(e.message), 15_000);

      // A directory only root may write to: a local file cannot land in it, and the pod stays behind.
      await exec(name, 'reviews', `cd ${WORKDIR} && mkdir locked`);
      await eventually('locked/ locally', async () => fs.existsSync(path.join(local, 'locked')), 30_000);
      fs.writeFileSync(path.join(local, 'locked', 'new.txt'), 'cannot land\n');
      const behind = await agent.waitForEvent('a status with the pod-side error on locked/new.txt', (e) => e.event === 'status' && podErrorPaths(e).includes('locked/new.txt'), 30_000);
      console.log(`# the sidecar's own words: ${behind.podErrors.find((x: any) => x.path === 'locked/new.txt').error}`);
      assert.match(behind.podErrors.find((x: any) => x.path === 'locked/new.txt').message, /^permission denied: locked\/new\.txt \(the dev container's user owns it; the sidecar runs as uid 1000\)$/);
      const stuck = await agent.waitForEvent('the stuck warning for locked/new.txt', (e) => e.event === 'note' && /^pod side stuck/.test(e.message) && e.message.includes('locked/new.txt'), 30_000);
      console.log(`# ${stuck.message}`);
      assert.ok(statuses(agent).some((e) => podErrorPaths(e).includes('locked/new.txt') && e.podNeed.items > 0), 'the pod needs the file it cannot write');

      await exec(name, 'reviews', `chmod 777 ${WORKDIR}/locked`);
      await eventually('locked/new.txt in the pod', async () => (await c.kubectl(['exec', '-n', NS, name, '-c', 'reviews', '--', 'cat', `${WORKDIR}/locked/new.txt`])).stdout === 'cannot land\n', 150_000);
      assert.equal(agent.events().filter((e) => e.event === 'note' && /cannot read the sync errors/.test(e.message)).length, 0, 'the sidecar’s API was reachable all along');
    } finally {
      await agent.interrupt();
    }
  });
});
