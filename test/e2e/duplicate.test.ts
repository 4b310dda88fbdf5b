// Duplicate mode (issue 14 §4) on the real API server, with developers impersonated by kubectl --as and by the
// agent's kubeconfig: alice labels a Deployment with dev.x/mode=duplicate and gets a copy, bob joins (kubectl devx up)
// and gets his own; neither can end the other's copy; maxWorkloads counts copies; a policy without duplicate mode
// denies it with a message; a Deployment someone made under a copy's name is never adopted or deleted; bob leaves
// (kubectl devx down); removing the label deletes every copy and its Secret; the original's spec never changes.
// Pods stay Pending here (no kubelet): the node test runs the copy's dev pod and syncs into it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { eventually, getJson, kubeconfigAs, type DevxServer } from './harness/devx.ts';
import { isInjected, kube, startReconcilingDevx, type Kube } from './harness/reconciler.ts';
import { runAgent } from './harness/syncthing.ts';

const NS = 'dup';
let cp: ControlPlane;
let devx: DevxServer;
let k: Kube;
let tmp: string;
let original: any;

const web = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web', tier: 'front' } },
      spec: { containers: [{ name: 'web', image: 'example.com/web:1', ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 } } }] },
    },
  },
};

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-duplicate-'));
  cp = await startControlPlane();
  devx = await startReconcilingDevx(cp, 'unused', [
    { name: 'three-at-once', spec: { maxWorkloads: 3 } },
    { name: 'replace-only', spec: { modes: ['replace'] } },
    { name: 'persistent', spec: { persistence: { size: '1Gi' } } },
  ]);
  k = kube(cp);
  await cp.createNamespace(NS, { 'dev.x/policy': 'three-at-once' });
  await cp.createNamespace('nodup', { 'dev.x/policy': 'replace-only' });
  await cp.createNamespace('kept', { 'dev.x/policy': 'persistent' });
  for (const ns of [NS, 'nodup', 'kept']) {
    for (const user of ['alice', 'bob', 'carol', 'dave']) await k.ok(['create', 'rolebinding', `${user}-edit`, '--clusterrole=edit', `--user=${user}`], { namespace: ns });
  }
  await k.apply(web, NS);
  await k.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } }, NS);
  await eventually('the two pods of web', async () => (await k.pods('app=web', NS)).length === 2);
  original = await getJson(cp, ['deploy', 'web'], NS);
});

after(async () => {
  await devx?.stop();
  await cp?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function devxAs(user: string, args: string[]): ReturnType<typeof runAgent> {
  return runAgent(args, { KUBECONFIG: kubeconfigAs(cp, tmp, user), XDG_CONFIG_HOME: path.join(tmp, `config-${user}`), NO_COLOR: '1' }, 60_000);
}

const users = async (): Promise<string[] | undefined> => {
  const text = (await getJson(cp, ['deploy', 'web'], NS)).metadata.annotations?.['dev.x/duplicates'];
  return text === undefined ? undefined : JSON.parse(text);
};

/** The dev pod of a copy (injected, not terminating). */
async function copyPod(copy: string): Promise<any> {
  return (await k.pods(`dev.x/copy=${copy}`, NS)).find(isInjected);
}

/** The original's spec and its pods: as before dev mode, none of them injected. */
async function assertOriginalUntouched(): Promise<void> {
  const now = await getJson(cp, ['deploy', 'web'], NS);
  assert.deepEqual(now.spec, original.spec, "the original's spec never changes in duplicate mode");
  const pods = await k.pods('app=web', NS);
  assert.equal(pods.length, 2);
  for (const p of pods) {
    assert.equal(isInjected(p), false, `pod ${p.metadata.name} of the original is not a dev pod`);
    assert.equal(p.spec.containers[0].image, 'example.com/web:1');
  }
}

describe('duplicate mode on the real API server', () => {
  test('1. alice labels web with dev.x/mode=duplicate: web is unchanged; her copy web-devx-alice runs a dev pod outside the Service', async () => {
    await k.ok(['annotate', 'deploy', 'web', 'dev.x/mode=duplicate'], { namespace: NS, as: 'alice' });
    const labelled = await k.ok(['label', 'deploy', 'web', 'dev.x/enabled=true'], { namespace: NS, as: 'alice' });
    assert.match(labelled.stderr, /Warning: dev mode on in duplicate mode: Deployment web keeps serving unchanged; your copy web-devx-alice runs the dev pod/);
    assert.deepEqual(await users(), ['alice']);
    const copy = await eventually('the copy web-devx-alice', () => k.maybe('deploy', 'web-devx-alice', NS));
    assert.deepEqual(copy.metadata.labels, { 'dev.x/copy': 'web-devx-alice' });
    assert.deepEqual(copy.metadata.ownerReferences.map((o: any) => `${o.kind}/${o.name}/${o.uid}`), [`Deployment/web/${original.metadata.uid}`]);
    assert.equal(copy.spec.replicas, 1);
    assert.deepEqual(copy.spec.selector, { matchLabels: { 'dev.x/copy': 'web-devx-alice' } });
    const pod = await eventually("alice's dev pod", () => copyPod('web-devx-alice'));
    assert.equal(pod.metadata.labels.app, undefined, "no app label: the Service's selector app=web does not match");
    assert.equal(pod.metadata.annotations['dev.x/workload'], 'deployment/web-devx-alice');
    assert.equal(pod.spec.volumes.find((v: any) => v.name === 'devx-sync-secret').secret.secretName, 'devx-sync-deployment-web-devx-alice');
    assert.equal(pod.spec.containers.find((c: any) => c.name === 'web').readinessProbe, undefined, "the copy's probes are stripped");
    await eventually("alice's sync Secret", () => k.maybe('secret', 'devx-sync-deployment-web-devx-alice', NS));
    assert.equal(await k.maybe('secret', 'devx-sync-deployment-web', NS), undefined, 'no shared sync Secret in duplicate mode');
    await assertOriginalUntouched();
  });

  test('2. bob joins with kubectl devx up: his own copy and his own sync Secret', async () => {
    const r = await devxAs('bob', ['up', 'deploy/web', '-n', NS, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.copy, 'web-devx-bob');
    assert.equal(out.mode, 'duplicate');
    assert.ok(out.warnings.some((w: string) => /your copy web-devx-bob is created/.test(w)), JSON.stringify(out.warnings));
    assert.deepEqual(await users(), ['alice', 'bob']);
    const pod = await copyPod('web-devx-bob');
    assert.equal(out.pod, pod.metadata.name);
    const [alice, bob] = await Promise.all(['alice', 'bob'].map((u) => eventually(`${u}'s Secret`, () => k.maybe('secret', `devx-sync-deployment-web-devx-${u}`, NS))));
    assert.notEqual(alice.data['agent-cert.pem'], bob.data['agent-cert.pem'], 'two sync identities');
    const status = await devxAs('bob', ['status', '-n', NS, '-o', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const rows = JSON.parse(status.stdout).items.map((x: any) => `${x.workload} ${x.copy} ${x.enabledBy} ${x.pod ?? '-'}`);
    assert.deepEqual(rows, [`deployment/web web-devx-alice alice ${(await copyPod('web-devx-alice')).metadata.name}`, `deployment/web web-devx-bob bob ${pod.metadata.name}`]);
    await assertOriginalUntouched();
  });

  test("3. bob cannot end alice's copy: leave is his own, the record is devx's, and a deleted copy comes back", async () => {
    const forged = await cp.kubectl(['annotate', '--overwrite', 'deploy', 'web', 'dev.x/duplicates=["bob"]'], { namespace: NS, as: 'bob' });
    assert.notEqual(forged.code, 0);
    assert.match(forged.stderr, /"dev\.x\/duplicates" is a record devx keeps for itself/);
    const aliceCopy = await k.maybe('deploy', 'web-devx-alice', NS);
    await k.ok(['delete', 'deploy', 'web-devx-alice', '--wait=false'], { namespace: NS, as: 'bob' });
    const back = await eventually("alice's copy made again", async () => {
      const c = await k.maybe('deploy', 'web-devx-alice', NS);
      return c && c.metadata.uid !== aliceCopy.metadata.uid && !c.metadata.deletionTimestamp ? c : undefined;
    });
    assert.equal(back.metadata.annotations['dev.x/duplicate-for'], 'alice');
    assert.deepEqual(await users(), ['alice', 'bob']);
  });

  test('4. a Deployment someone made under a copy\'s name is never adopted; maxWorkloads counts copies', async () => {
    const daves = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web-devx-dave' }, spec: { replicas: 0, selector: { matchLabels: { app: 'dave' } }, template: { metadata: { labels: { app: 'dave' } }, spec: { containers: [{ name: 'c', image: 'c:1' }] } } } };
    await k.apply(daves, NS);
    const dave = await k.maybe('deploy', 'web-devx-dave', NS);
    const joined = await k.ok(['annotate', 'deploy', 'web', 'dev.x/duplicate=join'], { namespace: NS, as: 'dave' });
    assert.match(joined.stderr, /your copy web-devx-dave is created/);
    await eventually('a CopyNameTaken Event', async () => (await k.eventReasons('Deployment', 'web', NS)).includes('CopyNameTaken'));
    const still = await k.maybe('deploy', 'web-devx-dave', NS);
    assert.equal(still.metadata.resourceVersion, dave.metadata.resourceVersion, "dave's own Deployment is not touched");
    // alice, bob and dave: three of three.
    const carol = await cp.kubectl(['annotate', 'deploy', 'web', 'dev.x/duplicate=join'], { namespace: NS, as: 'carol' });
    assert.notEqual(carol.code, 0);
    assert.match(carol.stderr, /namespace dup already has 3 workloads in dev mode \(each duplicate copy counts as one\), the most DevPolicy three-at-once allows \(maxWorkloads 3\)/);
    await k.ok(['annotate', 'deploy', 'web', 'dev.x/duplicate=leave'], { namespace: NS, as: 'dave' });
    assert.deepEqual(await users(), ['alice', 'bob']);
    assert.ok(await k.maybe('deploy', 'web-devx-dave', NS), "dave's own Deployment is still there after he left");
  });

  test('5. a policy without duplicate mode denies it with a message; a Job cannot be duplicated', async () => {
    await k.apply(web, 'nodup');
    await k.ok(['annotate', 'deploy', 'web', 'dev.x/mode=duplicate'], { namespace: 'nodup', as: 'alice' });
    const denied = await cp.kubectl(['label', 'deploy', 'web', 'dev.x/enabled=true'], { namespace: 'nodup', as: 'alice' });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /DevPolicy replace-only does not allow duplicate mode \(modes: replace\); remove dev\.x\/mode/);
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'once', labels: { 'dev.x/enabled': 'true' }, annotations: { 'dev.x/mode': 'duplicate' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'c:1' }] } } } };
    const r = await cp.kubectl(['apply', '-f', '-'], { namespace: NS, input: JSON.stringify(job), as: 'alice' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /duplicate mode \(dev\.x\/mode=duplicate\) makes copies of Deployments and StatefulSets/);
  });

  test('6. bob leaves with kubectl devx down: his copy and Secret go, alice\'s stay', async () => {
    const r = await devxAs('bob', ['down', 'deploy/web', '-n', NS, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).hadCopy, true);
    assert.deepEqual(await users(), ['alice']);
    await eventually("bob's copy and Secret gone", async () => (await k.gone('deploy', 'web-devx-bob', NS)) && (await k.gone('secret', 'devx-sync-deployment-web-devx-bob', NS)));
    assert.ok(await k.maybe('deploy', 'web-devx-alice', NS));
    assert.ok(await k.maybe('secret', 'devx-sync-deployment-web-devx-alice', NS));
  });

  test('7. a StatefulSet: its copy is a Deployment whose volumeClaimTemplates are empty emptyDirs', async () => {
    const sts = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', labels: { 'dev.x/enabled': 'true' }, annotations: { 'dev.x/mode': 'duplicate' } },
      spec: {
        serviceName: 'db',
        replicas: 1,
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'example.com/db:1', volumeMounts: [{ name: 'data', mountPath: '/data' }] }] } },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    };
    // alice's web copy and this one: two of three.
    await k.ok(['apply', '-f', '-'], { namespace: NS, input: JSON.stringify(sts), as: 'carol' });
    const pod = await eventually("carol's copy of db: its dev pod", () => copyPod('db-devx-carol'));
    assert.deepEqual(pod.spec.volumes.find((v: any) => v.name === 'data'), { name: 'data', emptyDir: {} });
    const copy = await k.maybe('deploy', 'db-devx-carol', NS);
    assert.equal(copy.metadata.annotations['dev.x/copy-of'], 'statefulset/db');
    await k.ok(['delete', 'statefulset', 'db'], { namespace: NS });
    await eventually('the copy of a deleted StatefulSet goes with it', () => k.gone('deploy', 'db-devx-carol', NS));
  });

  test('8. removing the label deletes every copy and its Secret; the spec is what it was; the records are gone', async () => {
    await k.ok(['annotate', 'deploy', 'web', 'dev.x/duplicate=join'], { namespace: NS, as: 'bob' });
    await eventually("bob's copy again", () => k.maybe('deploy', 'web-devx-bob', NS));
    // A Secret of another name dressed as alice's copy Secret (devx's labels, dev.x/copy, dev.x/workload): devx
    // deletes only under the names it gives its copies' Secrets, so this one outlives dev mode.
    const decoy = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-password', labels: { 'app.kubernetes.io/managed-by': 'devx', 'app.kubernetes.io/component': 'sync-secret', 'dev.x/copy': 'web-devx-alice' }, annotations: { 'dev.x/workload': 'deployment/web' } }, stringData: { password: 'hunter2' } };
    await k.apply(decoy, NS);
    const off = await k.ok(['label', 'deploy', 'web', 'dev.x/enabled-'], { namespace: NS, as: 'carol' });
    assert.match(off.stderr, /dev mode off: Deployment web was never changed; its copies are deleted \(web-devx-alice, web-devx-bob\)/);
    await eventually('every copy and copy Secret gone', async () => {
      const copies = (await getJson(cp, ['deploy', '-l', 'dev.x/copy'], NS)).items;
      const secrets = (await getJson(cp, ['secret', '-l', 'dev.x/copy'], NS)).items.filter((x: any) => x.metadata.name !== 'db-password');
      return copies.length === 0 && secrets.length === 0;
    });
    assert.ok(await k.maybe('secret', 'db-password', NS), 'a Secret devx did not name for a copy is never deleted');
    const now = await getJson(cp, ['deploy', 'web'], NS);
    assert.deepEqual(now.spec, original.spec);
    assert.deepEqual(Object.keys(now.metadata.annotations ?? {}).filter((a) => a.startsWith('dev.x/') && a !== 'dev.x/mode'), []);
    assert.ok(await k.maybe('deploy', 'web-devx-dave', NS), "dave's own Deployment outlives dev mode");
    await assertOriginalUntouched();
  });

  test('9. with DevPolicy persistence each copy has its own workdir claim, mounted by its pod, deleted with the copy', async () => {
    await k.apply(web, 'kept');
    await k.ok(['annotate', 'deploy', 'web', 'dev.x/mode=duplicate'], { namespace: 'kept', as: 'alice' });
    await k.ok(['label', 'deploy', 'web', 'dev.x/enabled=true'], { namespace: 'kept', as: 'alice' });
    await k.ok(['annotate', 'deploy', 'web', 'dev.x/duplicate=join'], { namespace: 'kept', as: 'bob' });
    for (const user of ['alice', 'bob']) {
      const claim = await eventually(`${user}'s claim`, () => k.maybe('pvc', `devx-workdir-deployment-web-devx-${user}`, 'kept'));
      assert.equal(claim.metadata.labels['dev.x/copy'], `web-devx-${user}`);
      assert.equal(claim.spec.resources.requests.storage, '1Gi');
      const pod = await eventually(`${user}'s dev pod`, async () => (await k.pods(`dev.x/copy=web-devx-${user}`, 'kept')).find(isInjected));
      assert.deepEqual(pod.spec.volumes.find((v: any) => v.name === 'devx-workdir').persistentVolumeClaim, { claimName: `devx-workdir-deployment-web-devx-${user}` });
    }
    assert.equal(await k.maybe('pvc', 'devx-workdir-deployment-web', 'kept'), undefined, 'the workload itself has no claim in duplicate mode');
    await k.ok(['annotate', 'deploy', 'web', 'dev.x/duplicate=leave'], { namespace: 'kept', as: 'bob' });
    await eventually("bob's claim gone", async () => {
      const c = await k.maybe('pvc', 'devx-workdir-deployment-web-devx-bob', 'kept');
      return c === undefined || c.metadata.deletionTimestamp !== undefined;
    });
    assert.ok(await k.maybe('pvc', 'devx-workdir-deployment-web-devx-alice', 'kept'), "alice's claim stays");
    await k.ok(['label', 'deploy', 'web', 'dev.x/enabled-'], { namespace: 'kept' });
    await eventually("alice's claim gone", async () => {
      const c = await k.maybe('pvc', 'devx-workdir-deployment-web-devx-alice', 'kept');
      return c === undefined || c.metadata.deletionTimestamp !== undefined;
    });
  });
});
