// DevPolicy persistence on a real node (harness/node.ts): the workdir claim bound by the real PersistentVolume
// controller and the scheduler's volume binding to a static `local` PersistentVolume the test makes (StorageClass
// devx-local, provisioner kubernetes.io/no-provisioner, WaitForFirstConsumer — devx itself never adds a hostPath or
// local volume to a pod; only this test's PersistentVolumes point at the node's disk). Its directory is root-owned
// 0755, as a fresh filesystem is, so the non-root sidecar can write it only through the fsGroup devx sets. In a
// namespace that enforces Pod Security restricted.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, getJson, type DevxServer } from './harness/devx.ts';
import { nodePolicySpec, podReady, startNodeCluster, type NodeCluster } from './harness/node.ts';
import { kube, startReconcilingDevx, type Kube } from './harness/reconciler.ts';
import { startAgent } from './harness/syncthing.ts';

const NS = 'persist';
const PLAIN = 'scratch';
const WORKDIR = '/home/devx';
const CLASS = 'devx-local';
const VOLUMES = ['pv-a', 'pv-b', 'pv-c'];
let c: NodeCluster;
let devx: DevxServer;
let k: Kube;
let tmp: string;
let volumeDir: string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-e2e-node-persist-'));
  // The PersistentVolume controller binds claims and keeps their volumes; the pvc-protection controller is the
  // harness's default.
  c = await startNodeCluster({ extraControllers: ['persistentvolume-binder-controller', 'persistentvolume-protection-controller'] });
  k = kube(c);
  const spec = nodePolicySpec(c.node.images);
  devx = await startReconcilingDevx(c, PLAIN, [
    { name: 'default', spec },
    { name: 'persistent', spec: { ...spec, persistence: { size: '1Gi', storageClassName: CLASS } } },
  ]);
  await c.createNamespace(NS, { 'dev.x/policy': 'persistent', 'pod-security.kubernetes.io/enforce': 'restricted' });
  await makeStorage();
});

after(async () => {
  await devx?.stop();
  await c?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The StorageClass and one `local` PersistentVolume per directory, pinned to the node, each root-owned 0755. */
async function makeStorage(): Promise<void> {
  volumeDir = path.join(tmp, 'volumes');
  const hostname = (await getJson(c, ['node', c.node.name])).metadata.labels['kubernetes.io/hostname'];
  await k.apply({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: CLASS }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer', reclaimPolicy: 'Retain' }, 'default');
  for (const name of VOLUMES) {
    const dir = path.join(volumeDir, name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    await k.apply(
      {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: CLASS,
          local: { path: dir },
          nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [hostname] }] }] } },
        },
      },
      'default',
    );
  }
}

/** A `reviews`-like app that passes Pod Security restricted (user 2000), one replica. */
function app(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  const probe = { httpGet: { path: '/health', port: 9080 }, periodSeconds: 1 };
  const container = { runAsNonRoot: true, runAsUser: 2000, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name, ...labels } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 2,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{ name: 'reviews', image: c.node.images.reviews, ports: [{ containerPort: 9080 }], readinessProbe: probe, securityContext: container }],
        },
      },
    },
  };
}

/** The one pod of `selector`, Running and ready, injected or not as asked, and no other pod left. */
async function onlyPod(selector: string, namespace: string, dev: boolean, notNamed?: string): Promise<any> {
  return eventually(
    `the ${dev ? 'dev' : 'original'} pod of ${selector} Running and ready, alone`,
    async () => {
      const all = (await getJson(c, ['pods', '-l', selector], namespace)).items as any[];
      const [p] = all;
      const injected = p?.metadata.annotations?.['dev.x/status'] !== undefined;
      return all.length === 1 && injected === dev && podReady(p) && p.metadata.name !== notNamed ? p : undefined;
    },
    90_000,
  );
}

async function exec(namespace: string, pod: string, container: string, script: string): Promise<{ code: number; stdout: string }> {
  const r = await c.kubectl(['exec', '-n', namespace, pod, '-c', container, '--', 'sh', '-c', script]);
  return { code: r.code, stdout: r.stdout };
}

async function execOk(namespace: string, pod: string, container: string, script: string): Promise<string> {
  const r = await c.kubectl(['exec', '-n', namespace, pod, '-c', container, '--', 'sh', '-c', script]);
  assert.equal(r.code, 0, `kubectl exec ${pod} -c ${container}: ${r.stderr}`);
  return r.stdout;
}

/** The PersistentVolume a claim is bound to, once it is. */
async function boundVolume(claim: string): Promise<string> {
  return eventually(`${claim} Bound`, async () => {
    const pvc = await k.maybe('pvc', claim, NS);
    return pvc?.status?.phase === 'Bound' ? (pvc.spec.volumeName as string) : undefined;
  });
}

describe('a workdir that survives, on a real node', () => {
  test('a file written in the dev container, synced files and a dependency survive deleting the pod; leaving dev mode deletes the claim', async () => {
    await k.apply(app('notes'), NS);
    await onlyPod('app=notes', NS, false);
    const labelled = await k.ok(['label', 'deploy', 'notes', 'dev.x/enabled=true'], { namespace: NS });
    assert.match(labelled.stderr, /workdir on PersistentVolumeClaim devx-workdir-deployment-notes/);
    const pod = await onlyPod('app=notes', NS, true);
    assert.equal(pod.spec.volumes.find((v: any) => v.name === 'devx-workdir').persistentVolumeClaim.claimName, 'devx-workdir-deployment-notes');
    const pv = await boundVolume('devx-workdir-deployment-notes');
    const hostDir = path.join(volumeDir, pv);
    // fsGroup 2000 (the sidecar's group): the kubelet made the root-owned volume group-writable for it.
    assert.equal(fs.statSync(hostDir).gid, 2000);
    assert.equal((await execOk(NS, pod.metadata.name, 'devx-sync', 'id -u')).trim(), '2000');
    // syncthing, as the non-root sidecar user, could write its folder marker into the claim.
    await eventually('syncthing\'s folder marker in the claim', async () => (await exec(NS, pod.metadata.name, 'devx-sync', 'test -e /devx/workdir/.stfolder')).code === 0, 30_000);

    // Files synced from the laptop through the real port-forward land on the volume.
    const local = path.join(tmp, 'notes');
    fs.mkdirSync(local, { recursive: true });
    fs.writeFileSync(path.join(local, 'main.txt'), 'synced\n');
    const agent = startAgent(['sync', 'deploy/notes', local, '-n', NS, '-o', 'json'], { KUBECONFIG: c.kubeconfigPath, XDG_CONFIG_HOME: path.join(tmp, 'config'), NO_COLOR: '1' });
    try {
      await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 120_000);
    } finally {
      await agent.interrupt();
    }
    assert.equal(fs.readFileSync(path.join(hostDir, 'main.txt'), 'utf8'), 'synced\n', 'on the volume itself');
    await execOk(NS, pod.metadata.name, 'reviews', `cd ${WORKDIR} && echo 'written in the pod' > notes.txt && mkdir -p node_modules/left-pad && echo dep > node_modules/left-pad/index.js`);

    await k.ok(['delete', 'pod', pod.metadata.name, '--wait=false'], { namespace: NS });
    const next = await onlyPod('app=notes', NS, true, pod.metadata.name);
    assert.equal(await execOk(NS, next.metadata.name, 'reviews', `cat ${WORKDIR}/notes.txt`), 'written in the pod\n');
    assert.equal(await execOk(NS, next.metadata.name, 'reviews', `cat ${WORKDIR}/main.txt ${WORKDIR}/node_modules/left-pad/index.js`), 'synced\ndep\n');

    await k.ok(['label', 'deploy', 'notes', 'dev.x/enabled-'], { namespace: NS });
    await onlyPod('app=notes', NS, false);
    await eventually('the claim deleted', () => k.gone('pvc', 'devx-workdir-deployment-notes', NS), 30_000);
    // The PersistentVolume is the cluster's (Retain here): released, never touched by devx.
    await eventually(`${pv} Released`, async () => (await getJson(c, ['pv', pv])).status.phase === 'Released', 30_000);
  });

  test('dev.x/keep-volume=true: the claim stays when dev mode ends, and entering dev mode again finds the file', async () => {
    await k.apply(app('cache', { 'dev.x/keep-volume': 'true' }), NS);
    await onlyPod('app=cache', NS, false);
    await k.ok(['label', 'deploy', 'cache', 'dev.x/enabled=true'], { namespace: NS });
    const pod = await onlyPod('app=cache', NS, true);
    const claim = await k.maybe('pvc', 'devx-workdir-deployment-cache', NS);
    await boundVolume('devx-workdir-deployment-cache');
    await execOk(NS, pod.metadata.name, 'reviews', `echo 'build cache' > ${WORKDIR}/cache.txt`);

    await k.ok(['label', 'deploy', 'cache', 'dev.x/enabled-'], { namespace: NS });
    await onlyPod('app=cache', NS, false);
    await eventually('the sync Secret deleted', () => k.gone('secret', 'devx-sync-deployment-cache', NS), 20_000);
    assert.equal((await k.maybe('pvc', 'devx-workdir-deployment-cache', NS))?.metadata.uid, claim.metadata.uid, 'kept');
    assert.ok((await k.eventReasons('Deployment', 'cache', NS)).includes('VolumeKept'));

    await k.ok(['label', 'deploy', 'cache', 'dev.x/enabled=true'], { namespace: NS });
    const again = await onlyPod('app=cache', NS, true);
    assert.equal(await execOk(NS, again.metadata.name, 'reviews', `cat ${WORKDIR}/cache.txt`), 'build cache\n');
    assert.equal((await k.maybe('pvc', 'devx-workdir-deployment-cache', NS))?.metadata.uid, claim.metadata.uid, 'the same claim');

    // Done with it: out of dev mode and without the label, the claim goes.
    await k.ok(['label', 'deploy', 'cache', 'dev.x/enabled-', 'dev.x/keep-volume-'], { namespace: NS });
    await eventually('the claim deleted', () => k.gone('pvc', 'devx-workdir-deployment-cache', NS), 30_000);
  });

  test('a policy without persistence keeps the emptyDir: a file written in the dev container is gone with the pod', async () => {
    const plain = app('scratch');
    await k.apply(plain, PLAIN);
    await onlyPod('app=scratch', PLAIN, false);
    await k.ok(['label', 'deploy', 'scratch', 'dev.x/enabled=true'], { namespace: PLAIN });
    const pod = await onlyPod('app=scratch', PLAIN, true);
    assert.deepEqual(pod.spec.volumes.find((v: any) => v.name === 'devx-workdir'), { name: 'devx-workdir', emptyDir: {} });
    assert.deepEqual((await getJson(c, ['pvc'], PLAIN)).items, []);
    await execOk(PLAIN, pod.metadata.name, 'reviews', `echo gone > ${WORKDIR}/scratch.txt`);
    await k.ok(['delete', 'pod', pod.metadata.name, '--wait=false'], { namespace: PLAIN });
    const next = await onlyPod('app=scratch', PLAIN, true, pod.metadata.name);
    assert.notEqual((await exec(PLAIN, next.metadata.name, 'reviews', `cat ${WORKDIR}/scratch.txt`)).code, 0, 'a fresh emptyDir');
    await k.ok(['label', 'deploy', 'scratch', 'dev.x/enabled-'], { namespace: PLAIN });
  });
});
