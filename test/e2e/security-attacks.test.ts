// devx never does more than the requester may (DESIGN §10), tried as an attacker would on the real control plane:
// the chart installed by helm (its webhook configurations, RBAC and admission policies), devx-webhook running with a
// token of the chart's ServiceAccount, and users that RBAC limits — an `edit` user outside the DevPolicy's subjects,
// a user who may only create Secrets, one who may only create pods — next to an allowed developer. Every attack has a
// positive control, so a setup that refuses everything cannot pass; every refusal is checked for its message. At
// the end the API server's audit log shows devx's ServiceAccount writing nothing outside the namespaces it may work
// in, and nothing no labelled workload asked for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ControlPlane } from './harness/control-plane.ts';
import { bookinfoReviews, eventually, getJson, startDevx, type DevxServer } from './harness/devx.ts';
import { auditLogOf } from './harness/audit.ts';
import { installedChart, pointWebhooksAt, serviceAccountKubeconfig } from './harness/helm.ts';
import { httpsRequest } from './harness/https-client.ts';
import { FAST_RECONCILER_ENV } from './harness/reconciler.ts';

const NS = 'devx-system';
const SA_USER = `system:serviceaccount:${NS}:devx`;
const TEAM = 'team';
const PLAIN = 'plain';
const user = (name: string): string => `system:serviceaccount:${TEAM}:${name}`;

const audit = auditLogOf(SA_USER);

let cp: ControlPlane;
let devx: DevxServer | undefined;
/** kubeconfig of each user, by name. */
const as: Record<string, string> = {};

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function kubectlAs(who: string, args: string[], input?: unknown): Promise<Result> {
  return cp.kubectl(['--kubeconfig', as[who] as string, ...args], { namespace: TEAM, ...(input === undefined ? {} : { input: JSON.stringify(input) }) });
}

async function ok(who: string, args: string[], input?: unknown): Promise<Result> {
  const r = await kubectlAs(who, args, input);
  assert.equal(r.code, 0, `${who}: kubectl ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** The request is refused, by devx or the API server, with a message matching `why`. */
async function refused(who: string, args: string[], why: RegExp, input?: unknown): Promise<void> {
  const r = await kubectlAs(who, args, input);
  assert.notEqual(r.code, 0, `${who}: kubectl ${args.join(' ')} should have been refused`);
  assert.match(r.stderr, why);
}

const pod = (name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: unknown[]; spec?: Record<string, unknown> } = {}): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}), ...(extra.annotations ? { annotations: extra.annotations } : {}), ...(extra.ownerReferences ? { ownerReferences: extra.ownerReferences } : {}) },
  spec: extra.spec ?? { containers: [{ name: 'app', image: 'example.com/app:1' }] },
});

const deployment = (name: string, o: { labelled?: boolean; templateLabelled?: boolean; annotations?: Record<string, string> } = {}): Record<string, unknown> => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, ...(o.labelled ? { labels: { 'dev.x/enabled': 'true' } } : {}), ...(o.annotations ? { annotations: o.annotations } : {}) },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name, ...(o.templateLabelled ? { 'dev.x/enabled': 'true' } : {}) } }, spec: { containers: [{ name: 'c', image: 'example.com/c:1' }] } },
  },
});

/** A privileged, host-PID pod in kube-system: what an attacker would like devx to create. */
const PRIVILEGED_POD = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'pwn', namespace: 'kube-system' },
  spec: { hostPID: true, containers: [{ name: 'x', image: 'example.com/x:1', securityContext: { privileged: true } }] },
});

const RECORD = /is a record devx keeps for itself|are records devx keeps for itself/;

async function rbac(): Promise<void> {
  for (const name of ['alice', 'mallory', 'secret-writer', 'pod-maker']) await cp.kubectl(['create', 'serviceaccount', name], { namespace: TEAM });
  const apply = async (obj: unknown): Promise<void> => {
    const r = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
    assert.equal(r.code, 0, r.stderr);
  };
  const binding = (name: string, roleKind: string, role: string, namespace = TEAM): unknown => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${name}-${role}`, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: role },
    subjects: [{ kind: 'ServiceAccount', name, namespace: TEAM }],
  });
  const role = (name: string, resources: string[]): unknown => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name, namespace: TEAM },
    rules: [{ apiGroups: [''], resources, verbs: ['create', 'get', 'list', 'update', 'patch'] }],
  });
  await apply(role('secrets-only', ['secrets']));
  await apply(role('pods-only', ['pods']));
  for (const name of ['alice', 'mallory']) await apply(binding(name, 'ClusterRole', 'edit'));
  // mallory may also edit a namespace nobody opted in.
  await apply(binding('mallory', 'ClusterRole', 'edit', PLAIN));
  await apply(binding('secret-writer', 'Role', 'secrets-only'));
  await apply(binding('pod-maker', 'Role', 'pods-only'));
  for (const name of ['alice', 'mallory', 'secret-writer', 'pod-maker']) as[name] = await serviceAccountKubeconfig(cp, TEAM, name);
}

before(async () => {
  const chart = await installedChart({ namespace: NS, serviceAccount: 'devx', extraApiServerFlags: audit.flags });
  cp = chart.cp;
  // Only alice may turn dev mode on in team.
  const policy = { apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'guarded' }, spec: { subjects: { users: [user('alice')] }, images: [{ match: '*/bookinfo/reviews*', devImage: 'registry.example.com/dev/java:21' }] } };
  const applied = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(policy) });
  assert.equal(applied.code, 0, applied.stderr);
  await cp.createNamespace(TEAM, { 'dev.x/policy': 'guarded' });
  await cp.createNamespace(PLAIN);
  await rbac();
  devx = await startDevx(cp, { name: 'devx-attacked', kubeconfig: chart.saKubeconfig, register: false, args: ['--namespace', NS, '--service-name', 'devx'], env: { ...FAST_RECONCILER_ENV, POD_NAME: 'devx-attacked-0' } });
  await pointWebhooksAt(cp, `https://127.0.0.1:${devx.port}`);
  await eventually('devx ready', async () => (await httpsRequest({ url: `https://127.0.0.1:${devx?.port}/readyz`, timeoutMs: 2000 })).status === 200, 30_000);
});

after(async () => {
  await devx?.stop();
  await cp?.stop();
  audit.remove();
});

describe('attacks on devx, each refused, each with its positive control', () => {
  test('positive control: alice, in the policy subjects, puts bookinfo reviews in dev mode', async () => {
    await ok('alice', ['apply', '-f', '-'], bookinfoReviews(TEAM, 3));
    await ok('alice', ['label', 'deploy', 'reviews', 'dev.x/enabled=true']);
    await eventually('an injected reviews pod', async () => (await getJson(cp, ['pods', '-l', 'app=reviews'], TEAM)).items.some((p: any) => p.metadata.annotations?.['dev.x/status']));
    await eventually('the sync Secret', async () => (await cp.kubectl(['get', 'secret', 'devx-sync-deployment-reviews'], { namespace: TEAM })).code === 0);
    const d = await getJson(cp, ['deploy', 'reviews'], TEAM);
    assert.equal(d.metadata.annotations['dev.x/enabled-by'], user('alice'));
    assert.equal(d.metadata.annotations['dev.x/original-replicas'], '3');
    assert.ok(d.metadata.annotations['dev.x/signature']);
  });

  test('1. a pod carrying a forged dev.x/original-pod (a privileged kube-system pod) is refused at CREATE and UPDATE', async () => {
    const forged = { 'dev.x/original-pod': PRIVILEGED_POD };
    await refused('mallory', ['create', '-f', '-'], RECORD, pod('decoy', { annotations: forged }));
    await refused('pod-maker', ['create', '-f', '-'], RECORD, pod('decoy2', { annotations: forged }));
    // Positive control: the same pod without devx's record is created; annotating it afterwards is refused.
    await ok('mallory', ['create', '-f', '-'], pod('decoy'));
    await refused('mallory', ['annotate', 'pod', 'decoy', `dev.x/original-pod=${PRIVILEGED_POD}`], RECORD);
    await refused('mallory', ['annotate', 'pod', 'decoy', 'dev.x/pending-pod={}'], RECORD);
    // The same in a namespace without dev.x/policy: refused there too (and devx never acts there: see the audit test).
    const inPlain = await cp.kubectl(['--kubeconfig', as.mallory as string, 'create', '-f', '-'], { namespace: PLAIN, input: JSON.stringify(pod('decoy', { annotations: forged })) });
    assert.notEqual(inPlain.code, 0);
    assert.match(inPlain.stderr, RECORD);
    const plainOk = await cp.kubectl(['--kubeconfig', as.mallory as string, 'create', '-f', '-'], { namespace: PLAIN, input: JSON.stringify(pod('decoy')) });
    assert.equal(plainOk.code, 0, plainOk.stderr);
  });

  test('1b. a Secret dressed as a sync Secret with a pending-pod record is refused; an ordinary Secret is not', async () => {
    const forged = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'devx-sync-pod-decoy',
        labels: { 'app.kubernetes.io/managed-by': 'devx', 'app.kubernetes.io/component': 'sync-secret' },
        annotations: { 'dev.x/workload': 'pod/decoy', 'dev.x/pending-pod': JSON.stringify({ replaces: 'x', pod: JSON.parse(PRIVILEGED_POD) }) },
      },
      stringData: { a: 'b' },
    };
    await refused('secret-writer', ['create', '-f', '-'], /sync Secrets are made and changed by devx alone/, forged);
    const onlyAnnotation = { ...forged, metadata: { name: 'other', annotations: { 'dev.x/pending-pod': '{}' } } };
    await refused('secret-writer', ['create', '-f', '-'], /sync Secrets are made and changed by devx alone/, onlyAnnotation);
    await ok('secret-writer', ['create', 'secret', 'generic', 'mine', '--from-literal=a=b']);
    // devx's real sync Secret cannot be given a record either.
    await refused('mallory', ['annotate', 'secret', 'devx-sync-deployment-reviews', 'dev.x/pending-pod={}'], /sync Secrets are made and changed by devx alone/);
  });

  test('2. a forged scale review sent straight to devx changes nothing; a real kubectl scale is recorded', async () => {
    const before = await getJson(cp, ['deploy', 'reviews'], TEAM);
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'forged-1',
        kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        subResource: 'scale',
        name: 'reviews',
        namespace: TEAM,
        operation: 'UPDATE',
        userInfo: { username: user('mallory') },
        object: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'reviews', namespace: TEAM }, spec: { replicas: 50 } },
      },
    };
    for (const path of ['/mutate/workloads', '/validate', '/mutate/pods']) {
      const r = await httpsRequest({ url: `https://127.0.0.1:${devx?.port}${path}`, method: 'POST', body: review, timeoutMs: 5000 });
      assert.equal(r.status, 200, path);
      assert.equal(JSON.parse(r.body).response.patch, undefined, `${path}: no patch`);
    }
    // A forged pod review with owners, naming namespaces nobody opted in: devx reads nothing there (the audit test).
    for (const namespace of [PLAIN, 'kube-system']) {
      const owned = pod('forged-owned', { labels: { 'dev.x/enabled': 'true' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'coredns-1', uid: 'u', controller: true }] });
      const podReview = { ...review, request: { ...review.request, uid: `forged-${namespace}`, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, subResource: undefined, name: undefined, namespace, operation: 'CREATE', object: owned } };
      const r = await httpsRequest({ url: `https://127.0.0.1:${devx?.port}/mutate/pods`, method: 'POST', body: podReview, timeoutMs: 5000 });
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).response.patch, undefined, `${namespace}: no patch`);
    }
    // Give a side effect, if there were one, time to land (the reconciler resyncs every 3 s here).
    await new Promise((res) => setTimeout(res, 4000));
    const after = await getJson(cp, ['deploy', 'reviews'], TEAM);
    assert.equal(after.metadata.annotations['dev.x/original-replicas'], '3');
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, 'the Deployment was not written at all');
    // Positive control: a real scale, through the API server, is recorded and pinned back to one.
    await ok('alice', ['scale', 'deploy', 'reviews', '--replicas=5']);
    await eventually('5 recorded, 1 replica', async () => {
      const d = await getJson(cp, ['deploy', 'reviews'], TEAM);
      return d.spec.replicas === 1 && d.metadata.annotations['dev.x/original-replicas'] === '5';
    });
  });

  test('3. subjects, kinds and maxWorkloads cannot be bypassed through templates, ReplicaSets or fake owners', async () => {
    // Control: mallory may not label a workload (subjects).
    await ok('mallory', ['apply', '-f', '-'], deployment('sneaky'));
    await refused('mallory', ['label', 'deploy', 'sneaky', 'dev.x/enabled=true'], /may not turn dev mode on/);
    // The label on the template only: at CREATE and at UPDATE.
    await refused('mallory', ['apply', '-f', '-'], /pod template of Deployment sneaky2 carries dev.x\/enabled=true/, deployment('sneaky2', { templateLabelled: true }));
    await refused('mallory', ['patch', 'deploy', 'sneaky', '--type=merge', '-p', JSON.stringify({ spec: { template: { metadata: { labels: { 'dev.x/enabled': 'true' } } } } })], /pod template of Deployment sneaky carries/);
    const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'sneaky-rs' }, spec: { replicas: 1, selector: { matchLabels: { app: 'rs' } }, template: { metadata: { labels: { app: 'rs', 'dev.x/enabled': 'true' } }, spec: { containers: [{ name: 'c', image: 'example.com/c:1' }] } } } };
    await refused('mallory', ['apply', '-f', '-'], /pod template of ReplicaSet sneaky-rs carries/, rs);
    // A labelled pod owned by mallory's own ConfigMap, naming alice's sync Secret.
    await ok('mallory', ['create', 'configmap', 'mine']);
    const cm = await getJson(cp, ['configmap', 'mine'], TEAM);
    const owned = pod('owned', {
      labels: { 'dev.x/enabled': 'true' },
      annotations: { 'dev.x/workload': 'deployment/reviews' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'mine', uid: cm.metadata.uid, controller: true }],
    });
    await refused('mallory', ['create', '-f', '-'], /this pod cannot run in dev mode: its owner ConfigMap mine is not a workload in dev mode/, owned);
    // A bare labelled pod by someone outside subjects.
    await refused('pod-maker', ['create', '-f', '-'], /may not turn dev mode on/, pod('bare', { labels: { 'dev.x/enabled': 'true' } }));
    // Positive control: alice's bare labelled pod is injected.
    await ok('alice', ['create', '-f', '-'], pod('alice-bare', { labels: { 'dev.x/enabled': 'true' } }));
    assert.ok((await getJson(cp, ['pod', 'alice-bare'], TEAM)).metadata.annotations['dev.x/status']);
  });

  test('4. maxDuration and "who" cannot be forged: enabled-at and enabled-by come from admission', async () => {
    const forged = { 'dev.x/enabled-at': '2099-01-01T00:00:00Z', 'dev.x/enabled-by': 'bob' };
    await refused('alice', ['apply', '-f', '-'], RECORD, deployment('forever', { labelled: true, annotations: forged }));
    await refused('alice', ['annotate', '--overwrite', 'deploy', 'reviews', 'dev.x/enabled-at=2099-01-01T00:00:00Z'], RECORD);
    await refused('alice', ['annotate', '--overwrite', 'deploy', 'reviews', 'dev.x/original-replicas=50'], RECORD);
    await refused('mallory', ['annotate', 'deploy', 'sneaky', 'dev.x/original-replicas=50'], RECORD);
    // Positive control: the same Deployment without the forged records enters dev mode with admission's own.
    await ok('alice', ['apply', '-f', '-'], deployment('forever', { labelled: true }));
    const d = await getJson(cp, ['deploy', 'forever'], TEAM);
    assert.equal(d.metadata.annotations['dev.x/enabled-by'], user('alice'));
    assert.ok(Date.parse(d.metadata.annotations['dev.x/enabled-at']) <= Date.now() + 5000);
  });

  test('5. forged records on every kind, at CREATE and at UPDATE, are refused; the same objects without them are not', async () => {
    const template = (app: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ metadata: { labels: { app } }, spec: { containers: [{ name: 'c', image: 'example.com/c:1' }], ...extra } });
    const selector = (app: string): Record<string, unknown> => ({ matchLabels: { app } });
    const objects: Record<string, (name: string) => Record<string, unknown>> = {
      statefulset: (n) => ({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: n }, spec: { serviceName: n, selector: selector(n), template: template(n) } }),
      daemonset: (n) => ({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: n }, spec: { selector: selector(n), template: template(n) } }),
      job: (n) => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: n }, spec: { template: template(n, { restartPolicy: 'Never' }) } }),
      cronjob: (n) => ({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: n }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: template(n, { restartPolicy: 'Never' }) } } } }),
      replicaset: (n) => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: n }, spec: { replicas: 0, selector: selector(n), template: template(n) } }),
      replicationcontroller: (n) => ({ apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: n }, spec: { replicas: 0, selector: { app: n }, template: template(n) } }),
    };
    const forged = { 'dev.x/original-replicas': '50', 'dev.x/copy-of': 'daemonset/other' };
    for (const [kind, make] of Object.entries(objects)) {
      const name = `forged-${kind}`;
      const obj = make(name);
      await refused('mallory', ['create', '-f', '-'], RECORD, { ...obj, metadata: { name, annotations: forged } });
      await ok('mallory', ['create', '-f', '-'], obj);
      await refused('mallory', ['annotate', kind, name, 'dev.x/original-replicas=50'], RECORD);
      await refused('mallory', ['annotate', kind, name, 'dev.x/signature=AAAA'], RECORD);
    }
  });

  test('6. a decoy pod with a preset dev.x/status and its own devx-sync container is refused', async () => {
    const decoy = pod('decoy-sync', {
      labels: { 'dev.x/enabled': 'true', app: 'reviews' },
      annotations: { 'dev.x/status': JSON.stringify({ version: '0.1.0', target: 'app', image: 'x', containers: ['devx-sync'], volumes: [] }), 'dev.x/workload': 'deployment/reviews' },
      spec: { containers: [{ name: 'app', image: 'example.com/app:1' }, { name: 'devx-sync', image: 'attacker.example/syncthing:1' }] },
    });
    await refused('pod-maker', ['create', '-f', '-'], RECORD, decoy);
    const unlabelled = { ...decoy, metadata: { name: 'decoy-sync', annotations: (decoy.metadata as { annotations: Record<string, string> }).annotations } };
    await refused('pod-maker', ['create', '-f', '-'], RECORD, unlabelled);
    // Without the status, a labelled pod with a devx-sync of its own is refused even for an allowed developer.
    const named = { ...decoy, metadata: { name: 'decoy-sync', labels: { 'dev.x/enabled': 'true' } } };
    await refused('alice', ['create', '-f', '-'], /reserved for what devx injects/, named);
    // Positive control: the pod without devx's record and label is just a pod.
    await ok('pod-maker', ['create', '-f', '-'], pod('plain-pod'));
  });

  test('the audit log: devx wrote nothing outside its own and the policy namespace, and nothing no labelled workload asked for', async () => {
    const events = audit.events().filter((e) => ['create', 'update', 'patch', 'delete'].includes(e.verb) && e.objectRef?.resource);
    assert.ok(events.length > 0, 'devx wrote something (the positive controls)');
    const where = new Set(events.map((e) => e.objectRef?.namespace ?? '(cluster)'));
    for (const ns of where) assert.ok([NS, TEAM, '(cluster)'].includes(ns), `devx wrote in ${ns}`);
    const clusterScoped = events.filter((e) => !e.objectRef?.namespace).map((e) => `${e.objectRef?.resource}/${e.objectRef?.name}`);
    for (const c of clusterScoped) assert.match(c, /^((mutatingwebhookconfigurations|validatingwebhookconfigurations)\/devx|selfsubjectreviews\/undefined)$/, 'devx writes no cluster-scoped object but its own webhook configurations (and asks who it is)');
    // In team: only the objects of the workloads alice put in dev mode (their Secrets, the Deployments themselves).
    const inTeam = events.filter((e) => e.objectRef?.namespace === TEAM && e.objectRef.resource !== 'events');
    for (const e of inTeam) assert.match(e.objectRef?.name ?? '', /^(reviews|forever|alice-bare|devx-sync-deployment-reviews|devx-sync-deployment-forever|devx-sync-pod-alice-bare)$/, `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`);
    assert.equal(events.filter((e) => e.objectRef?.resource === 'pods' && e.verb === 'create').length, 0, 'devx created no pod');
    // Nor did it read anything in a namespace nobody opted in (its informers list cluster-wide, with no namespace).
    const elsewhere = audit.events().filter((e) => [PLAIN, 'kube-system'].includes(e.objectRef?.namespace ?? ''));
    assert.deepEqual(elsewhere.map((e) => `${e.verb} ${e.objectRef?.resource} ${e.objectRef?.namespace}`), []);
  });
});
