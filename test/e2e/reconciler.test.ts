// The reconciler on the real control plane (etcd, kube-apiserver, kube-controller-manager; no scheduler or kubelet,
// so pods stay Pending): sync Secrets checked against real syncthing, the kinds admission cannot finish (Job, CronJob,
// DaemonSet, a bare Pod labelled later) through enter and leave, expiry, repair, Events, and maxWorkloads. One
// devx-webhook process with the reconciler on, as a user runs it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { decodeSecret, DEMO_POLICY_SPEC, eventually, getJson, startDevx, type DevxServer } from './harness/devx.ts';
import { FAST_RECONCILER_ENV, isInjected, kube, startReconcilingDevx, type Kube } from './harness/reconciler.ts';
import { complaints, startSyncthingWithConfig, syncthingDeviceId } from './harness/syncthing.ts';
import { deviceIdFromCertPem } from '../../src/sync/device-id.ts';
import { readSyncSecretData } from '../../src/sync/secret.ts';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.ts';
import { kubeCall } from '../../src/k8s/rest.ts';

let cp: ControlPlane;
let devx: DevxServer;
let k: Kube;
const NS = 'rec';

const kubectlOk = (args: string[], opts: Parameters<ControlPlane['kubectl']>[1] = {}): ReturnType<Kube['ok']> => k.ok(args, opts);
const apply = (obj: unknown, namespace = NS): Promise<void> => k.apply(obj, namespace);
const maybe = (kind: string, name: string, namespace = NS): Promise<any> => k.maybe(kind, name, namespace);
const gone = (kind: string, name: string, namespace = NS): Promise<boolean> => k.gone(kind, name, namespace);
const podsOf = (selector: string, namespace = NS): Promise<any[]> => k.pods(selector, namespace);
const eventReasons = (kind: string, name: string, namespace = NS): Promise<string[]> => k.eventReasons(kind, name, namespace);
const decode = decodeSecret;
const injected = isInjected;

before(async () => {
  cp = await startControlPlane();
  k = kube(cp);
  devx = await startReconcilingDevx(cp, NS, [{ name: 'one-at-a-time', spec: { ...DEMO_POLICY_SPEC, maxWorkloads: 1 } }]);
});

after(async () => {
  await devx?.stop();
  await cp?.stop();
});

describe('reconciler on the real API server', () => {
  test('Deployment: label -> sync Secret owned by it, device IDs as syncthing prints them, syncthing runs its config; unlabel -> Secret gone', async (t) => {
    await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'example.com/web:1' }] } } } });
    const deploy = await getJson(cp, ['deploy', 'web'], NS);
    const labelledAt = performance.now();
    await kubectlOk(['label', 'deploy', 'web', 'dev.x/enabled=true'], { namespace: NS });
    const secret = await eventually('the sync Secret', () => maybe('secret', 'devx-sync-deployment-web'), 10_000);
    t.diagnostic(`Secret after label: ${(performance.now() - labelledAt).toFixed(0)} ms (kubectl label included)`);
    assert.deepEqual(secret.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: deploy.metadata.uid }]);
    assert.equal(secret.metadata.annotations['dev.x/workload'], 'deployment/web');
    const data = decode(secret);
    const read = readSyncSecretData(data);
    assert.ok(read.ok, read.ok ? '' : read.error);
    // Real syncthing derives the same device IDs from the certificates.
    assert.equal(await syncthingDeviceId(data['sidecar-cert.pem']!, data['sidecar-key.pem']!), deviceIdFromCertPem(data['sidecar-cert.pem']!));
    assert.equal(await syncthingDeviceId(data['agent-cert.pem']!, data['agent-key.pem']!), deviceIdFromCertPem(data['agent-cert.pem']!));
    // And it starts on the generated config (only the pod's paths and ports swapped for loopback ones), quietly.
    const st = await startSyncthingWithConfig({ configXml: data['config.xml']!, certPem: data['sidecar-cert.pem']!, keyPem: data['sidecar-key.pem']!, apiKey: data['api-key']! });
    try {
      assert.equal(st.myID, read.ok ? read.value.sidecar.deviceId : '');
      await new Promise((r) => setTimeout(r, 1500)); // let it finish starting up, where complaints would show
    } finally {
      await st.stop();
    }
    assert.deepEqual(complaints(st.log()), [], st.log());
    // The dev pod mounts exactly this Secret.
    const pod = await eventually('an injected web pod', async () => (await podsOf('app=web')).find(injected));
    assert.equal(pod.spec.volumes.find((v: any) => v.name === 'devx-sync-secret').secret.secretName, 'devx-sync-deployment-web');
    const describe = (await kubectlOk(['describe', 'deploy', 'web'], { namespace: NS })).stdout;
    assert.match(describe, /DevModeEntered/);
    assert.match(describe, /SyncSecretCreated/);

    await kubectlOk(['label', 'deploy', 'web', 'dev.x/enabled-'], { namespace: NS });
    await eventually('the Secret deleted', () => gone('secret', 'devx-sync-deployment-web'), 10_000);
    await eventually('a DevModeLeft Event', async () => (await eventReasons('Deployment', 'web')).includes('DevModeLeft'));
    assert.deepEqual((await getJson(cp, ['deploy', 'web'], NS)).spec, deploy.spec);
  });

  test('latency: label (one PATCH) -> sync Secret readable, over 5 Deployments', async (t) => {
    const kc = loadKubeConfig({ path: cp.kubeconfigPath }).kubeConfig;
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const name = `lat-${i}`;
      await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name }, spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: 'example.com/l:1' }] } } } });
      const started = performance.now();
      await kubeCall(kc, { method: 'PATCH', path: `/apis/apps/v1/namespaces/${NS}/deployments/${name}`, contentType: 'application/merge-patch+json', body: { metadata: { labels: { 'dev.x/enabled': 'true' } } } });
      const labelled = performance.now();
      for (;;) {
        if ((await cp.request('GET', `/api/v1/namespaces/${NS}/secrets/devx-sync-deployment-${name}`)).status === 200) break;
        assert.ok(performance.now() - started < 10_000, `no Secret for ${name} within 10 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      samples.push(performance.now() - labelled);
      await kubectlOk(['label', 'deploy', name, 'dev.x/enabled-'], { namespace: NS });
      await eventually(`Secret of ${name} gone`, () => gone('secret', `devx-sync-${'deployment'}-${name}`));
    }
    const sorted = [...samples].sort((a, b) => a - b);
    t.diagnostic(`label -> Secret ms: ${samples.map((ms) => ms.toFixed(0)).join(' ')}; median ${sorted[2]!.toFixed(0)}`);
    assert.ok(sorted[2]! < 3000, 'median under 3 s');
  });

  test('Job: copy web-devx with an injected pod, owned by the Job; unlabel -> copy and Secret gone, Job as before', async () => {
    await apply({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'train', labels: { team: 'ml' } }, spec: { activeDeadlineSeconds: 600, backoffLimit: 2, template: { metadata: { labels: { app: 'train' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'train', image: 'example.com/train:1', args: ['--epochs=3'] }] } } } });
    const job = await getJson(cp, ['job', 'train'], NS);
    const labelled = await kubectlOk(['label', 'job', 'train', 'dev.x/enabled=true'], { namespace: NS });
    assert.match(labelled.stderr, /a dev copy of this Job is created/);
    const copy = await eventually('the copy Job', () => maybe('job', 'train-devx'), 10_000);
    assert.deepEqual(copy.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: 'train', uid: job.metadata.uid }]);
    assert.equal(copy.metadata.annotations['dev.x/copy-of'], 'job/train');
    assert.equal(copy.metadata.labels['dev.x/enabled'], undefined, 'the copy is not a dev workload of its own');
    assert.equal(copy.metadata.labels.team, 'ml');
    assert.equal(copy.spec.activeDeadlineSeconds, undefined, 'no deadline');
    assert.equal(copy.spec.parallelism, 1);
    assert.notDeepEqual(copy.spec.selector, job.spec.selector, 'its own generated selector');
    assert.equal(copy.spec.template.metadata.labels['job-name'], 'train-devx');
    assert.equal(copy.spec.template.metadata.labels['dev.x/enabled'], 'true');
    assert.equal(copy.spec.template.metadata.annotations['dev.x/workload'], 'job/train');
    const pod = await eventually('the copy pod, injected', async () => (await podsOf('job-name=train-devx')).find(injected));
    assert.equal(pod.spec.volumes.find((v: any) => v.name === 'devx-sync-secret').secret.secretName, 'devx-sync-job-train');
    assert.ok(await maybe('secret', 'devx-sync-job-train'));
    assert.ok((await podsOf('job-name=train')).every((p) => !injected(p)), "the source Job's own pods are untouched");
    assert.ok((await eventReasons('Job', 'train')).includes('CopyCreated'));

    await kubectlOk(['label', 'job', 'train', 'dev.x/enabled-'], { namespace: NS });
    await eventually('copy and Secret gone', async () => (await gone('job', 'train-devx')) && (await gone('secret', 'devx-sync-job-train')), 10_000);
    await eventually('the copy pods gone', async () => (await podsOf('job-name=train-devx')).length === 0, 20_000);
    const restored = await getJson(cp, ['job', 'train'], NS);
    assert.deepEqual(restored.spec, job.spec);
    assert.deepEqual(restored.metadata.labels, job.metadata.labels);
    assert.deepEqual(restored.metadata.annotations ?? {}, job.metadata.annotations ?? {});
  });

  test('CronJob: suspended, one dev Job from its jobTemplate; unlabel -> dev Job and Secret gone, CronJob as before', async () => {
    await apply({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly' }, spec: { schedule: '0 3 * * *', jobTemplate: { metadata: { labels: { kind: 'report' } }, spec: { activeDeadlineSeconds: 300, template: { metadata: { labels: { app: 'nightly' } }, spec: { restartPolicy: 'OnFailure', containers: [{ name: 'n', image: 'example.com/n:1' }] } } } } } });
    const cron = await getJson(cp, ['cronjob', 'nightly'], NS);
    await kubectlOk(['label', 'cronjob', 'nightly', 'dev.x/enabled=true'], { namespace: NS });
    const devJob = await eventually('the dev Job', () => maybe('job', 'nightly-devx'), 10_000);
    assert.equal((await getJson(cp, ['cronjob', 'nightly'], NS)).spec.suspend, true);
    assert.equal(devJob.metadata.ownerReferences[0].uid, cron.metadata.uid);
    assert.equal(devJob.metadata.labels.kind, 'report');
    assert.equal(devJob.spec.activeDeadlineSeconds, undefined);
    const pod = await eventually('the dev Job pod, injected', async () => (await podsOf('job-name=nightly-devx')).find(injected));
    assert.equal(pod.spec.volumes.find((v: any) => v.name === 'devx-sync-secret').secret.secretName, 'devx-sync-cronjob-nightly');
    assert.ok(await maybe('secret', 'devx-sync-cronjob-nightly'));

    await kubectlOk(['label', 'cronjob', 'nightly', 'dev.x/enabled-'], { namespace: NS });
    await eventually('dev Job and Secret gone', async () => (await gone('job', 'nightly-devx')) && (await gone('secret', 'devx-sync-cronjob-nightly')), 10_000);
    await eventually('the dev Job pods gone', async () => (await podsOf('job-name=nightly-devx')).length === 0, 20_000);
    assert.deepEqual((await getJson(cp, ['cronjob', 'nightly'], NS)).spec, cron.spec);
    assert.deepEqual((await getJson(cp, ['jobs'], NS)).items.filter((j: any) => j.metadata.name.startsWith('nightly')), []);
  });

  test('DaemonSet: paused, Deployment agent-devx with one injected pod and a selector of its own; unlabel -> copy and Secret gone, DaemonSet as before', async () => {
    await apply({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, containers: [{ name: 'agent', image: 'example.com/agent:1' }] } } } });
    const ds = await getJson(cp, ['ds', 'agent'], NS);
    await kubectlOk(['label', 'ds', 'agent', 'dev.x/enabled=true'], { namespace: NS });
    const paused = await getJson(cp, ['ds', 'agent'], NS);
    assert.equal(paused.spec.template.spec.nodeSelector['dev.x/paused'], 'true');
    const copy = await eventually('the dev Deployment', () => maybe('deploy', 'agent-devx'), 10_000);
    assert.equal(copy.spec.replicas, 1);
    assert.deepEqual(copy.spec.selector, { matchLabels: { 'dev.x/copy': 'agent-devx' } });
    assert.deepEqual(copy.spec.template.spec.nodeSelector, { 'kubernetes.io/os': 'linux' }, 'no pause selector on the copy');
    assert.equal(copy.metadata.ownerReferences[0].uid, ds.metadata.uid);
    const pod = await eventually('the dev Deployment pod, injected', async () => (await podsOf('dev.x/copy=agent-devx')).find(injected));
    assert.equal(pod.metadata.labels.app, 'agent', 'keeps the labels Services select by');
    assert.equal(pod.spec.volumes.find((v: any) => v.name === 'devx-sync-secret').secret.secretName, 'devx-sync-daemonset-agent');

    await kubectlOk(['label', 'ds', 'agent', 'dev.x/enabled-'], { namespace: NS });
    await eventually('copy and Secret gone', async () => (await gone('deploy', 'agent-devx')) && (await gone('secret', 'devx-sync-daemonset-agent')), 10_000);
    await eventually('the copy pods gone', async () => (await podsOf('dev.x/copy=agent-devx')).length === 0, 20_000);
    assert.deepEqual((await getJson(cp, ['ds', 'agent'], NS)).spec, ds.spec);
  });

  test('deleting a source in dev mode deletes its copy and Secret (owner references)', async () => {
    await apply({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'doomed' }, spec: { selector: { matchLabels: { app: 'doomed' } }, template: { metadata: { labels: { app: 'doomed' } }, spec: { containers: [{ name: 'd', image: 'example.com/d:1' }] } } } });
    await kubectlOk(['label', 'ds', 'doomed', 'dev.x/enabled=true'], { namespace: NS });
    await eventually('copy and Secret', async () => (await maybe('deploy', 'doomed-devx')) && (await maybe('secret', 'devx-sync-daemonset-doomed')));
    await kubectlOk(['delete', 'ds', 'doomed', '--wait=false'], { namespace: NS });
    await eventually('copy, its pods and the Secret gone', async () => (await gone('deploy', 'doomed-devx')) && (await gone('secret', 'devx-sync-daemonset-doomed')) && (await podsOf('dev.x/copy=doomed-devx')).length === 0, 30_000);
  });

  test('bare Pod labelled after creation: recreated injected (original kept); unlabel -> recreated exactly as before', async () => {
    await apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', labels: { app: 'solo' }, annotations: { note: 'mine' } }, spec: { containers: [{ name: 'app', image: 'example.com/solo:1', readinessProbe: { tcpSocket: { port: 80 } } }] } });
    const original = await getJson(cp, ['pod', 'solo'], NS);
    const labelled = await kubectlOk(['label', 'pod', 'solo', 'dev.x/enabled=true'], { namespace: NS });
    assert.match(labelled.stderr, /the pod is recreated with dev mode/);
    const dev = await eventually('the pod recreated in dev mode', async () => {
      const p = await maybe('pod', 'solo');
      return p && p.metadata.uid !== original.metadata.uid && injected(p) ? p : undefined;
    }, 15_000);
    assert.equal(dev.spec.containers[0].readinessProbe, undefined);
    assert.ok(dev.spec.containers.some((c: any) => c.name === 'devx-sync'));
    assert.equal(dev.metadata.labels['dev.x/enabled'], 'true');
    assert.equal(JSON.parse(dev.metadata.annotations['dev.x/original-pod']).spec.containers[0].readinessProbe.tcpSocket.port, 80);
    const secret = await eventually('the Secret owned by the new pod', async () => {
      const s = await maybe('secret', 'devx-sync-pod-solo');
      return s?.metadata.ownerReferences?.[0]?.uid === dev.metadata.uid && !s.metadata.annotations['dev.x/pending-pod'] ? s : undefined;
    });
    assert.equal(secret.metadata.ownerReferences.length, 1);

    await kubectlOk(['label', 'pod', 'solo', 'dev.x/enabled-'], { namespace: NS });
    const back = await eventually('the original pod back', async () => {
      const p = await maybe('pod', 'solo');
      return p && p.metadata.uid !== dev.metadata.uid && !injected(p) ? p : undefined;
    }, 15_000);
    assert.deepEqual(back.spec, original.spec, 'the pod spec is exactly the original');
    assert.deepEqual(back.metadata.labels, original.metadata.labels);
    assert.deepEqual(back.metadata.annotations, original.metadata.annotations);
    await eventually('the Secret gone', () => gone('secret', 'devx-sync-pod-solo'), 10_000);
    const reasons = await eventReasons('Pod', 'solo');
    for (const r of ['Recreating', 'Recreated', 'Restoring', 'DevModeLeft']) assert.ok(reasons.includes(r), `${r} in ${reasons.join(', ')}`);
    // kubectl describe matches Events by uid: the pod that exists now tells how it came back.
    const described = (await kubectlOk(['describe', 'pod', 'solo'], { namespace: NS })).stdout;
    assert.match(described, /Recreated .*pod created again as it was before dev mode/);
    assert.match(described, /DevModeLeft/);
  });

  test('dev.x/ttl of 3s ends dev mode by itself, with an Expired Event, and restores the workload', async () => {
    await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'brief', annotations: { 'dev.x/ttl': '3s' } }, spec: { replicas: 3, selector: { matchLabels: { app: 'brief' } }, template: { metadata: { labels: { app: 'brief' } }, spec: { containers: [{ name: 'b', image: 'example.com/b:1' }] } } } });
    const before = await getJson(cp, ['deploy', 'brief'], NS);
    await kubectlOk(['label', 'deploy', 'brief', 'dev.x/enabled=true'], { namespace: NS });
    const enabledAt = Date.parse((await getJson(cp, ['deploy', 'brief'], NS)).metadata.annotations['dev.x/enabled-at']);
    await eventually('the Secret', () => maybe('secret', 'devx-sync-deployment-brief'));
    const ended = await eventually('the label removed by the TTL', async () => {
      const d = await getJson(cp, ['deploy', 'brief'], NS);
      return d.metadata.labels?.['dev.x/enabled'] === undefined ? d : undefined;
    }, 20_000);
    const endedAfterMs = Date.now() - enabledAt;
    assert.ok(endedAfterMs >= 2000, `not before the TTL (${endedAfterMs} ms)`);
    assert.deepEqual(ended.spec, before.spec);
    assert.equal(ended.spec.replicas, 3);
    await eventually('the Secret gone', () => gone('secret', 'devx-sync-deployment-brief'), 10_000);
    const reasons = await eventReasons('Deployment', 'brief');
    assert.ok(reasons.includes('Expired'), reasons.join(', '));
    const describe = (await kubectlOk(['describe', 'deploy', 'brief'], { namespace: NS })).stdout;
    assert.match(describe, /Expired .*dev mode ended after dev\.x\/ttl 3s/);
  });

  test('repair: a deleted sync Secret is made again, with a Repaired Event', async () => {
    await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'fragile' }, spec: { replicas: 1, selector: { matchLabels: { app: 'fragile' } }, template: { metadata: { labels: { app: 'fragile' } }, spec: { containers: [{ name: 'f', image: 'example.com/f:1' }] } } } });
    await kubectlOk(['label', 'deploy', 'fragile', 'dev.x/enabled=true'], { namespace: NS });
    const first = await eventually('the Secret', () => maybe('secret', 'devx-sync-deployment-fragile'));
    await kubectlOk(['delete', 'secret', 'devx-sync-deployment-fragile'], { namespace: NS });
    const second = await eventually('the Secret made again', async () => {
      const s = await maybe('secret', 'devx-sync-deployment-fragile');
      return s && s.metadata.uid !== first.metadata.uid ? s : undefined;
    });
    assert.ok(readSyncSecretData(decode(second)).ok);
    await eventually('a Repaired Event', async () => (await eventReasons('Deployment', 'fragile')).includes('Repaired'));
    await kubectlOk(['label', 'deploy', 'fragile', 'dev.x/enabled-'], { namespace: NS });
    await eventually('the Secret gone', () => gone('secret', 'devx-sync-deployment-fragile'));
  });

  test('maxWorkloads: a second workload in dev mode is refused with what to do', async () => {
    await cp.createNamespace('tight', { 'dev.x/policy': 'one-at-a-time' });
    for (const name of ['a', 'b']) {
      await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name }, spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `example.com/${name}:1` }] } } } }, 'tight');
    }
    await kubectlOk(['label', 'deploy', 'a', 'dev.x/enabled=true'], { namespace: 'tight' });
    const refused = await cp.kubectl(['label', 'deploy', 'b', 'dev.x/enabled=true'], { namespace: 'tight' });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /namespace tight already has 1 workloads in dev mode, the most DevPolicy one-at-a-time allows \(maxWorkloads 1\); end dev mode of one first/);
    assert.equal((await getJson(cp, ['deploy', 'b'], 'tight')).metadata.labels?.['dev.x/enabled'], undefined);
    // A copy devx makes is not counted: a Job in dev mode (with its copy) is still one workload.
    await kubectlOk(['label', 'deploy', 'a', 'dev.x/enabled-'], { namespace: 'tight' });
    await apply({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'j', image: 'example.com/j:1' }] } } } }, 'tight');
    await kubectlOk(['label', 'job', 'j', 'dev.x/enabled=true'], { namespace: 'tight' });
    await eventually('the Job copy', () => maybe('job', 'j-devx', 'tight'));
    // The same workload may be updated (not counted against itself); another one may not enter.
    await kubectlOk(['annotate', 'job', 'j', 'note=still-fine'], { namespace: 'tight' });
    const again = await cp.kubectl(['label', 'deploy', 'b', 'dev.x/enabled=true'], { namespace: 'tight' });
    assert.match(again.stderr, /already has 1 workloads in dev mode/);
    // Once dev mode ends, the next one may enter.
    await kubectlOk(['label', 'job', 'j', 'dev.x/enabled-'], { namespace: 'tight' });
    await eventually('the informer sees the Job leave', async () => (await cp.kubectl(['label', 'deploy', 'b', 'dev.x/enabled=true'], { namespace: 'tight' })).code === 0);
  });

  test('repair while admission was away: an unlabelled Deployment still in dev state restored, an orphaned copy removed, a label admission never saw completed', async () => {
    await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'stuck' }, spec: { replicas: 4, selector: { matchLabels: { app: 'stuck' } }, template: { metadata: { labels: { app: 'stuck' } }, spec: { containers: [{ name: 's', image: 'example.com/s:1' }] } } } });
    await apply({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'lost' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'l', image: 'example.com/l:1' }] } } } });
    const deployBefore = await getJson(cp, ['deploy', 'stuck'], NS);
    const jobBefore = await getJson(cp, ['job', 'lost'], NS);
    await kubectlOk(['label', 'deploy', 'stuck', 'dev.x/enabled=true'], { namespace: NS });
    await kubectlOk(['label', 'job', 'lost', 'dev.x/enabled=true'], { namespace: NS });
    await eventually('the Job copy', () => maybe('job', 'lost-devx'));
    await eventually('the Secrets', async () => (await maybe('secret', 'devx-sync-deployment-stuck')) && (await maybe('secret', 'devx-sync-job-lost')));
    // devx goes away and its webhook configurations with it (as after an uninstall), so the label goes without admission.
    await devx.stop();
    await kubectlOk(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', 'devx']);
    await kubectlOk(['label', 'deploy', 'stuck', 'dev.x/enabled-'], { namespace: NS });
    await kubectlOk(['label', 'job', 'lost', 'dev.x/enabled-'], { namespace: NS });
    // And one labelled meanwhile: the label is all it gets, no admission.
    await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'late', labels: { 'dev.x/enabled': 'true' } }, spec: { replicas: 3, selector: { matchLabels: { app: 'late' } }, template: { metadata: { labels: { app: 'late' } }, spec: { containers: [{ name: 'l', image: 'example.com/l:1' }] } } } });
    assert.equal((await getJson(cp, ['deploy', 'late'], NS)).spec.replicas, 3);
    const half = await getJson(cp, ['deploy', 'stuck'], NS);
    assert.equal(half.spec.replicas, 1, 'left in dev state');
    assert.equal(half.spec.template.metadata.labels['dev.x/enabled'], 'true');
    devx = await startDevx(cp, { env: FAST_RECONCILER_ENV });
    const repaired = await eventually('the Deployment restored', async () => {
      const d = await getJson(cp, ['deploy', 'stuck'], NS);
      return d.spec.replicas === 4 ? d : undefined;
    }, 20_000);
    assert.deepEqual(repaired.spec, deployBefore.spec);
    assert.equal(Object.keys(repaired.metadata.annotations ?? {}).filter((k) => k.startsWith('dev.x/')).length, 0);
    await eventually('copy and Secrets gone', async () => (await gone('job', 'lost-devx')) && (await gone('secret', 'devx-sync-job-lost')) && (await gone('secret', 'devx-sync-deployment-stuck')), 20_000);
    const job = await getJson(cp, ['job', 'lost'], NS);
    assert.deepEqual(job.spec, jobBefore.spec);
    assert.deepEqual(job.metadata.annotations ?? {}, jobBefore.metadata.annotations ?? {});
    assert.ok((await eventReasons('Deployment', 'stuck')).includes('Repaired'));
    // The one labelled while admission was away is completed through admission once devx is back.
    const late = await eventually('the late Deployment in dev mode', async () => {
      const d = await getJson(cp, ['deploy', 'late'], NS);
      return d.spec.replicas === 1 && d.spec.template.metadata.labels['dev.x/enabled'] === 'true' ? d : undefined;
    }, 20_000);
    assert.equal(late.metadata.annotations['dev.x/original-replicas'], '3');
    await eventually('its Secret', () => maybe('secret', 'devx-sync-deployment-late'));
    assert.ok((await eventReasons('Deployment', 'late')).includes('Repaired'));
    await kubectlOk(['label', 'deploy', 'late', 'dev.x/enabled-'], { namespace: NS });
    assert.equal((await getJson(cp, ['deploy', 'late'], NS)).spec.replicas, 3);
  });
});
