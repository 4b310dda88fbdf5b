// DevPolicy persistence on the real API server (etcd, kube-apiserver, kube-controller-manager with its garbage
// collector and pvc-protection controller; no scheduler or kubelet, so pods stay Pending and claims unbound — the
// node test, node-persistence.test.ts, runs them): the workdir claim created and deleted by the reconciler, kept with
// dev.x/keep-volume=true and garbage-collected with its workload, a claim of the same name that devx did not make left
// alone, and the dev pod admitted by Pod Security restricted with the claim and its fsGroup.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { applyPolicy, eventually, getJson, type DevxServer } from './harness/devx.ts';
import { isInjected, kube, startReconcilingDevx, type Kube } from './harness/reconciler.ts';

const NS = 'persist';
const PLAIN = 'ephemeral';
let cp: ControlPlane;
let devx: DevxServer;
let k: Kube;

const RESTRICTED_CONTAINER = {
  runAsNonRoot: true,
  runAsUser: 2000,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** A Deployment that passes Pod Security restricted, with more labels on it if asked. */
function deployment(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name, ...labels } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }, containers: [{ name, image: `example.com/${name}:1`, securityContext: RESTRICTED_CONTAINER }] },
      },
    },
  };
}

const claimName = (kind: string, name: string): string => `devx-workdir-${kind}-${name}`;

before(async () => {
  cp = await startControlPlane();
  k = kube(cp);
  devx = await startReconcilingDevx(cp, PLAIN);
  await applyPolicy(cp, { name: 'persistent', spec: { persistence: { size: '1Gi', storageClassName: 'standard' } } });
  await cp.createNamespace(NS, { 'dev.x/policy': 'persistent', 'pod-security.kubernetes.io/enforce': 'restricted' });
});

after(async () => {
  await devx?.stop();
  await cp?.stop();
});

describe('the workdir claim on the real API server', () => {
  test('label: the claim, owned and signed; the dev pod mounts it with fsGroup and passes restricted; unlabel: the claim is deleted', async () => {
    await k.apply(deployment('api'), NS);
    const deploy = await getJson(cp, ['deploy', 'api'], NS);
    const labelled = await k.ok(['label', 'deploy', 'api', 'dev.x/enabled=true'], { namespace: NS });
    // `kubectl label` itself says where the workdir lives.
    assert.match(labelled.stderr, /workdir on PersistentVolumeClaim devx-workdir-deployment-api, kept across pod restarts/);
    const claim = await eventually('the claim', () => k.maybe('pvc', claimName('deployment', 'api'), NS), 10_000);
    assert.deepEqual(claim.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api', uid: deploy.metadata.uid }]);
    assert.deepEqual(claim.metadata.labels, { 'app.kubernetes.io/managed-by': 'devx', 'app.kubernetes.io/component': 'workdir' });
    assert.equal(claim.metadata.annotations['dev.x/volume-of'], 'deployment/api');
    assert.ok(claim.metadata.annotations['dev.x/signature'], 'its record is signed');
    assert.deepEqual(claim.spec.accessModes, ['ReadWriteOnce']);
    assert.equal(claim.spec.resources.requests.storage, '1Gi');
    assert.equal(claim.spec.storageClassName, 'standard');
    // Created by the Deployment's ReplicaSet through Pod Security restricted (enforced here): the claim volume and the
    // fsGroup are allowed.
    const pod = await eventually('an injected api pod', async () => (await k.pods('app=api', NS)).find(isInjected));
    assert.deepEqual(pod.spec.volumes.find((v: any) => v.name === 'devx-workdir'), { name: 'devx-workdir', persistentVolumeClaim: { claimName: 'devx-workdir-deployment-api' } });
    assert.equal(pod.spec.securityContext.fsGroup, 2000);
    assert.equal(pod.spec.securityContext.fsGroupChangePolicy, 'OnRootMismatch');
    assert.ok((await k.eventReasons('Deployment', 'api', NS)).includes('VolumeCreated'));

    await k.ok(['label', 'deploy', 'api', 'dev.x/enabled-'], { namespace: NS });
    await eventually('the claim deleted', () => k.gone('pvc', claimName('deployment', 'api'), NS), 20_000);
    await eventually('VolumeDeleted', async () => (await k.eventReasons('Deployment', 'api', NS)).includes('VolumeDeleted'));
    assert.ok(await k.gone('secret', 'devx-sync-deployment-api', NS));
  });

  test('dev.x/keep-volume=true: kept when dev mode ends, the same claim next time, deleted once the label goes; deleting the workload deletes it', async () => {
    await k.apply(deployment('web', { 'dev.x/keep-volume': 'true' }), NS);
    await k.ok(['label', 'deploy', 'web', 'dev.x/enabled=true'], { namespace: NS });
    const first = await eventually('the claim', () => k.maybe('pvc', claimName('deployment', 'web'), NS), 10_000);
    await k.ok(['label', 'deploy', 'web', 'dev.x/enabled-'], { namespace: NS });
    await eventually('the Secret deleted', () => k.gone('secret', 'devx-sync-deployment-web', NS), 10_000);
    await eventually('VolumeKept', async () => (await k.eventReasons('Deployment', 'web', NS)).includes('VolumeKept'));
    assert.equal((await k.maybe('pvc', claimName('deployment', 'web'), NS))?.metadata.uid, first.metadata.uid, 'kept');

    await k.ok(['label', 'deploy', 'web', 'dev.x/enabled=true'], { namespace: NS });
    await eventually('the sync Secret again', () => k.maybe('secret', 'devx-sync-deployment-web', NS), 10_000);
    const pod = await eventually('an injected web pod', async () => (await k.pods('app=web', NS)).find(isInjected));
    assert.equal(pod.spec.volumes.find((v: any) => v.name === 'devx-workdir').persistentVolumeClaim.claimName, 'devx-workdir-deployment-web');
    assert.equal((await k.maybe('pvc', claimName('deployment', 'web'), NS))?.metadata.uid, first.metadata.uid, 'the same claim');
    assert.equal((await k.eventReasons('Deployment', 'web', NS)).filter((r) => r === 'VolumeCreated').length, 1);

    // Out of dev mode, then the label dev.x/keep-volume removed: the next resync deletes the claim.
    await k.ok(['label', 'deploy', 'web', 'dev.x/enabled-'], { namespace: NS });
    await eventually('the Secret deleted', () => k.gone('secret', 'devx-sync-deployment-web', NS), 10_000);
    assert.ok(await k.maybe('pvc', claimName('deployment', 'web'), NS));
    await k.ok(['label', 'deploy', 'web', 'dev.x/keep-volume-'], { namespace: NS });
    await eventually('the claim deleted', () => k.gone('pvc', claimName('deployment', 'web'), NS), 20_000);

    // Kept, then the workload deleted: the garbage collector (owner reference) takes the claim with it.
    await k.apply(deployment('gone', { 'dev.x/keep-volume': 'true', 'dev.x/enabled': 'true' }), NS);
    await eventually('the claim', () => k.maybe('pvc', claimName('deployment', 'gone'), NS), 10_000);
    await k.ok(['label', 'deploy', 'gone', 'dev.x/enabled-'], { namespace: NS });
    await eventually('the Secret deleted', () => k.gone('secret', 'devx-sync-deployment-gone', NS), 10_000);
    await k.ok(['delete', 'deploy', 'gone'], { namespace: NS });
    await eventually('the kept claim deleted with its Deployment', () => k.gone('pvc', claimName('deployment', 'gone'), NS), 20_000);
  });

  test("a claim of that name devx did not make (devx's labels and record copied): a Warning, never adopted or deleted", async () => {
    const users = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: claimName('deployment', 'taken'),
        labels: { 'app.kubernetes.io/managed-by': 'devx', 'app.kubernetes.io/component': 'workdir' },
        annotations: { 'dev.x/volume-of': 'deployment/taken' },
      },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '3Gi' } } },
    };
    await k.apply(users, NS);
    const before = await k.maybe('pvc', claimName('deployment', 'taken'), NS);
    await k.apply(deployment('taken'), NS);
    await k.ok(['label', 'deploy', 'taken', 'dev.x/enabled=true'], { namespace: NS });
    await eventually('VolumeNameTaken', async () => (await k.eventReasons('Deployment', 'taken', NS)).includes('VolumeNameTaken'), 10_000);
    const warning = (await getJson(cp, ['events', '--field-selector', 'involvedObject.name=taken,reason=VolumeNameTaken'], NS)).items[0];
    assert.equal(warning.type, 'Warning');
    assert.match(warning.message ?? warning.note, /exists and is not devx's: devx neither adopts nor deletes it/);
    await k.ok(['label', 'deploy', 'taken', 'dev.x/enabled-'], { namespace: NS });
    await eventually('the Secret deleted', () => k.gone('secret', 'devx-sync-deployment-taken', NS), 10_000);
    await new Promise((r) => setTimeout(r, 4000)); // a resync (3 s here) passes over it too
    const afterwards = await k.maybe('pvc', claimName('deployment', 'taken'), NS);
    assert.equal(afterwards?.metadata.resourceVersion, before.metadata.resourceVersion, 'untouched');
    assert.equal(afterwards?.metadata.ownerReferences, undefined, 'not adopted');
  });

  test("a DaemonSet: its dev copy's pod mounts the DaemonSet's claim, owned by the DaemonSet; leaving dev mode deletes it", async () => {
    await k.apply({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: (deployment('agent') as any).spec.template } }, NS);
    const ds = await getJson(cp, ['ds', 'agent'], NS);
    await k.ok(['label', 'ds', 'agent', 'dev.x/enabled=true'], { namespace: NS });
    const claim = await eventually('the claim', () => k.maybe('pvc', claimName('daemonset', 'agent'), NS), 10_000);
    assert.equal(claim.metadata.ownerReferences[0].uid, ds.metadata.uid);
    const pod = await eventually('the copy pod, injected', async () => (await k.pods('dev.x/copy=agent-devx', NS)).find(isInjected), 20_000);
    assert.equal(pod.spec.volumes.find((v: any) => v.name === 'devx-workdir').persistentVolumeClaim.claimName, 'devx-workdir-daemonset-agent');
    await k.ok(['label', 'ds', 'agent', 'dev.x/enabled-'], { namespace: NS });
    await eventually('copy and claim gone', async () => (await k.gone('deploy', 'agent-devx', NS)) && (await k.gone('pvc', claimName('daemonset', 'agent'), NS)), 20_000);
  });

  test('a policy without persistence: the emptyDir, and no claim', async () => {
    await k.apply(deployment('plain'), PLAIN);
    await k.ok(['label', 'deploy', 'plain', 'dev.x/enabled=true'], { namespace: PLAIN });
    const pod = await eventually('an injected plain pod', async () => (await k.pods('app=plain', PLAIN)).find(isInjected));
    assert.deepEqual(pod.spec.volumes.find((v: any) => v.name === 'devx-workdir'), { name: 'devx-workdir', emptyDir: {} });
    assert.equal(pod.spec.securityContext.fsGroup, undefined);
    assert.deepEqual((await getJson(cp, ['pvc'], PLAIN)).items, []);
    await k.ok(['label', 'deploy', 'plain', 'dev.x/enabled-'], { namespace: PLAIN });
  });
});
