// devx's ValidatingAdmissionPolicies (src/k8s/admission-policies.ts, DESIGN §10) on a real API server (etcd,
// kube-apiserver and kube-controller-manager built from Go modules), installed by helm from charts/devx like a user
// installs them. One control plane for the file.
// 1. Opting a namespace in needs the right to use the policy: users authenticated by client certificates, with RBAC
//    that lets them create and update namespaces, are refused `dev.x/policy=NAME` (at create, by label, through the
//    status subresource) until they may `use` devpolicies.dev.x/NAME — the chart's ClusterRole, or a role limited by
//    resourceNames. Removing the label, or leaving it as it is, stays allowed.
// 2. devx's ServiceAccount, with a token from the TokenRequest API (as its pod gets one) and the chart's RBAC, is
//    refused what RBAC would let it do outside dev mode's bounds: pods, Secrets, Deployments and Events where no admin
//    opted in, in kube-system, in its own namespace; objects without devx's marks. Each denial is checked against
//    `kubectl auth can-i` (RBAC says yes, so the refusal is the policy's) and each has a positive control: the same
//    request with devx's marks in an opted-in namespace succeeds.
// The chart's webhook configurations are removed after the install: they point at a Service no devx answers behind
// (no kubelet here), and this file is about what the API server decides on its own.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { admissionPolicies, admissionPolicyObjects } from '../../src/k8s/admission-policies.ts';
import { issueCertificate } from '../../src/tls/pki.ts';
import { startControlPlane, type ControlPlane, type KubectlOptions, type KubectlResult } from './harness/control-plane.ts';
import { eventually, getJson } from './harness/devx.ts';
import { CHART_DIR, helm, serviceAccountKubeconfig } from './harness/helm.ts';

const NS = 'devx-system';
const SA = 'devx';
const SA_USER = `system:serviceaccount:${NS}:${SA}`;
const POLICIES = admissionPolicies({ namespace: NS, serviceAccount: SA });

const USE_DENIED = (policy: string): RegExp =>
  new RegExp(
    `ValidatingAdmissionPolicy 'devx-policy-use' .*denied request: setting dev\\.x/policy=${policy} on a Namespace requires the verb "use" on devpolicies\\.dev\\.x/${policy}; ask a cluster admin to bind the ClusterRole devx-policy-user`,
  );
const SA_DENIED = (policy: string, message: string): RegExp => new RegExp(`ValidatingAdmissionPolicy '${policy}' .*denied request: devx's ServiceAccount ${message}`);

let cp: ControlPlane;
/** kubeconfigs: devx's ServiceAccount; alice and bob, who may create and update namespaces. */
let devx: string;
let alice: string;
let bob: string;

// ---- helpers --------------------------------------------------------------------------------------------------

async function kubectlOk(args: string[], opts: KubectlOptions = {}): Promise<string> {
  const r = await cp.kubectl(args, opts);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}:\n${r.stderr}`);
  return r.stdout;
}

/** kubectl with another kubeconfig (a later --kubeconfig wins over the harness's admin one). */
function as(kubeconfig: string, args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  return cp.kubectl(['--kubeconfig', kubeconfig, ...args], opts);
}

async function ok(kubeconfig: string, args: string[], opts: KubectlOptions = {}): Promise<void> {
  const r = await as(kubeconfig, args, opts);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} as ${path.basename(kubeconfig)}:\n${r.stderr}`);
}

async function denied(kubeconfig: string, args: string[], message: RegExp, opts: KubectlOptions = {}): Promise<void> {
  const r = await as(kubeconfig, args, opts);
  assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} as ${path.basename(kubeconfig)} must be refused`);
  assert.match(r.stderr, message);
}

const create = (obj: unknown, namespace?: string): { args: string[]; opts: KubectlOptions } => ({
  args: ['create', '-f', '-'],
  opts: { input: JSON.stringify(obj), ...(namespace ? { namespace } : {}) },
});

async function createOk(kubeconfig: string, obj: unknown, namespace?: string): Promise<void> {
  const c = create(obj, namespace);
  await ok(kubeconfig, c.args, c.opts);
}

async function createDenied(kubeconfig: string, obj: unknown, namespace: string | undefined, message: RegExp): Promise<void> {
  const c = create(obj, namespace);
  await denied(kubeconfig, c.args, message, c.opts);
}

/** `kubectl auth can-i` as that kubeconfig's user. */
async function canI(kubeconfig: string, args: string[], namespace?: string): Promise<boolean> {
  const r = await as(kubeconfig, ['auth', 'can-i', ...args], namespace ? { namespace } : {});
  return r.stdout.trim() === 'yes';
}

/** A kubeconfig for a user authenticated by a client certificate the control plane's CA signed. */
function userKubeconfig(name: string): string {
  const notBefore = new Date(Date.now() - 60_000);
  const cert = issueCertificate(cp.ca, { commonName: name, usage: 'client', notBefore, validityMs: 3600_000 });
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const file = path.join(cp.dir, `user-${name}.kubeconfig`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'cp', cluster: { server: cp.server, 'certificate-authority-data': b64(cp.ca.certPem) } }],
    users: [{ name, user: { 'client-certificate-data': b64(cert.certPem), 'client-key-data': b64(cert.keyPem) } }],
    contexts: [{ name, context: { cluster: 'cp', user: name } }],
    'current-context': name,
  };
  fs.writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

async function labels(kind: string, name: string, namespace?: string): Promise<Record<string, string>> {
  return (await getJson(cp, [kind, name], namespace)).metadata.labels ?? {};
}

const namespace = (name: string, l: Record<string, string> = {}): unknown => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: l } });
// Pod Security restricted (devx's own namespace enforces it, and it decides before the admission policies do).
const RESTRICTED = {
  securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [{ name: 'app', image: 'example.com/app:1', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
};
const pod = (name: string, l: Record<string, string> = {}, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): unknown => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: l, ...meta },
  spec: { ...RESTRICTED, ...spec },
});
const secret = (name: string, l: Record<string, string> = {}): unknown => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, labels: l }, stringData: { k: 'v' } });
const deployment = (name: string, l: Record<string, string> = {}): unknown => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: l },
  spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] } } },
});
const job = (name: string, l: Record<string, string> = {}): unknown => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, labels: l },
  spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'app', image: 'example.com/app:1' }] } } },
});
const event = (name: string, regarding: Record<string, string>): unknown => ({
  apiVersion: 'events.k8s.io/v1',
  kind: 'Event',
  metadata: { name },
  eventTime: new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'),
  reportingController: 'dev.x/reconciler',
  reportingInstance: 'devx-0',
  action: 'Reconcile',
  reason: 'Test',
  type: 'Normal',
  note: 'from the test',
  regarding,
});
const SYNC = { 'app.kubernetes.io/managed-by': 'devx', 'app.kubernetes.io/component': 'sync-secret' };
const WORKDIR = { 'app.kubernetes.io/managed-by': 'devx', 'app.kubernetes.io/component': 'workdir' };
const claim = (name: string, l: Record<string, string> = {}): unknown => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, labels: l },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
});
const POLICY_USER_BINDING = 'alice-devx-policy-user';

// ---- setup ----------------------------------------------------------------------------------------------------

before(async () => {
  cp = await startControlPlane();
  await cp.createNamespace(NS, { 'pod-security.kubernetes.io/enforce': 'restricted' });
  const installed = await helm(['install', 'devx', CHART_DIR, '--namespace', NS], { kubeconfig: cp.kubeconfigPath });
  assert.equal(installed.code, 0, installed.stderr);
  for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) await kubectlOk(['delete', kind, 'devx']);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', 'crd/devpolicies.dev.x']);
  for (const name of ['team', 'other']) {
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name }, spec: {} }) });
  }
  await cp.createNamespace('plain');
  await cp.createNamespace('dev', { 'dev.x/policy': 'team' });

  devx = await serviceAccountKubeconfig(cp, NS, SA);
  assert.equal((await as(devx, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).stdout, SA_USER);
  alice = userKubeconfig('alice');
  bob = userKubeconfig('bob');
  const rbac = [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'namespace-editor' }, rules: [{ apiGroups: [''], resources: ['namespaces', 'namespaces/status'], verbs: ['get', 'list', 'create', 'update', 'patch'] }] },
    // `use` on one DevPolicy only: the chart's ClusterRole narrowed with resourceNames.
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'devx-policy-user-team' }, rules: [{ apiGroups: ['dev.x'], resources: ['devpolicies'], resourceNames: ['team'], verbs: ['use'] }] },
    ...['alice', 'bob'].map((user) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${user}-namespace-editor` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'namespace-editor' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    })),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'bob-devx-policy-user-team' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'devx-policy-user-team' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'bob' }],
    },
  ];
  await kubectlOk(['apply', '-f', '-'], { input: rbac.map((o) => JSON.stringify(o)).join('\n') });
  await eventually('alice may update namespaces', () => canI(alice, ['update', 'namespaces']));
  await eventually('bob may use DevPolicy team', () => canI(bob, ['use', 'devpolicies.dev.x/team']));
  // A policy takes effect once the API server's informer has it: wait until both refuse what they must.
  await eventually('the namespace policy enforced', async () => {
    const r = await as(alice, ['create', '-f', '-', '--dry-run=server'], { input: JSON.stringify(namespace('probe', { 'dev.x/policy': 'team' })) });
    return r.code !== 0 && /devx-policy-use/.test(r.stderr);
  });
  await eventually('the ServiceAccount policies enforced', async () => {
    const r = await as(devx, ['create', 'secret', 'generic', 'probe', '--dry-run=server'], { namespace: 'plain' });
    return r.code !== 0 && /devx-service-account/.test(r.stderr);
  });
});

after(async () => {
  await cp?.stop();
});

test('the API server holds what admissionPolicies() defines for the release, and type-checks every expression clean', async () => {
  for (const want of admissionPolicyObjects(POLICIES)) {
    const got = await getJson(cp, [`${want.kind.toLowerCase()}.${want.apiVersion.split('/')[0]}`, want.metadata.name]);
    if (want.kind === 'ClusterRole') assert.deepEqual(got.rules, want.rules);
    else assert.deepEqual(got.spec, want.spec, `${want.kind} ${want.metadata.name} as stored`);
  }
  for (const { policy } of [POLICIES.policyUse, ...POLICIES.serviceAccount]) {
    // The status controller checks each expression against the schema of every kind the policy matches.
    const checked = await eventually(`${policy.metadata.name} type-checked`, async () => {
      const got = await getJson(cp, ['validatingadmissionpolicy', policy.metadata.name]);
      return got.status?.observedGeneration === got.metadata.generation ? got.status : undefined;
    });
    assert.deepEqual(checked.typeChecking ?? {}, {}, `${policy.metadata.name}: ${JSON.stringify(checked.typeChecking)}`);
  }
});

describe('opting a namespace in needs the verb "use" on its DevPolicy', () => {
  test('without it, a user who may create and update namespaces cannot set dev.x/policy=team: at create, by label, through /status', async () => {
    assert.equal(await canI(alice, ['create', 'namespaces']), true, 'RBAC lets alice create namespaces');
    assert.equal(await canI(alice, ['use', 'devpolicies.dev.x/team']), false);
    await createDenied(alice, namespace('alice-new', { 'dev.x/policy': 'team' }), undefined, USE_DENIED('team'));
    assert.notEqual((await cp.kubectl(['get', 'ns', 'alice-new'])).code, 0, 'not created');

    await createOk(alice, namespace('alice-ns'));
    await denied(alice, ['label', 'ns', 'alice-ns', 'dev.x/policy=team'], USE_DENIED('team'));
    // The status subresource keeps only the spec: labels would change through it too.
    const ns = await getJson(cp, ['ns', 'alice-ns']);
    ns.metadata.labels['dev.x/policy'] = 'team';
    const file = path.join(cp.dir, 'alice-ns-status.json');
    fs.writeFileSync(file, JSON.stringify(ns));
    await denied(alice, ['replace', '--raw', '/api/v1/namespaces/alice-ns/status', '-f', file], USE_DENIED('team'));
    assert.equal((await labels('ns', 'alice-ns'))['dev.x/policy'], undefined);
  });

  test('a namespace opted in already keeps working: other changes and removing the label need no "use"; changing the value does', async () => {
    await cp.createNamespace('opted', { 'dev.x/policy': 'team' });
    await ok(alice, ['label', 'ns', 'opted', 'team-owner=payments']);
    await ok(alice, ['annotate', 'ns', 'opted', 'note=kept']);
    await denied(alice, ['label', 'ns', 'opted', 'dev.x/policy=other', '--overwrite'], USE_DENIED('other'));
    await denied(alice, ['label', 'ns', 'opted', 'dev.x/policy=', '--overwrite'], USE_DENIED(''));
    assert.equal((await labels('ns', 'opted'))['dev.x/policy'], 'team');
    await ok(alice, ['label', 'ns', 'opted', 'dev.x/policy-']);
    assert.equal((await labels('ns', 'opted'))['dev.x/policy'], undefined);
  });

  test('bound to the chart’s ClusterRole devx-policy-user, the same user can opt namespaces in', async () => {
    await kubectlOk(['create', 'clusterrolebinding', POLICY_USER_BINDING, '--clusterrole=devx-policy-user', '--user=alice']);
    await eventually('alice may use DevPolicy team', () => canI(alice, ['use', 'devpolicies.dev.x/team']));
    await createOk(alice, namespace('alice-new', { 'dev.x/policy': 'team' }));
    await ok(alice, ['label', 'ns', 'alice-ns', 'dev.x/policy=team']);
    await ok(alice, ['label', 'ns', 'alice-ns', 'dev.x/policy=other', '--overwrite']);
    assert.equal((await labels('ns', 'alice-ns'))['dev.x/policy'], 'other');
    await kubectlOk(['delete', 'clusterrolebinding', POLICY_USER_BINDING]);
  });

  test('"use" limited by resourceNames to team: team yes, other no — at create, by label, or by changing team to other', async () => {
    assert.equal(await canI(bob, ['use', 'devpolicies.dev.x/other']), false);
    await createOk(bob, namespace('bob-team', { 'dev.x/policy': 'team' }));
    await createDenied(bob, namespace('bob-other', { 'dev.x/policy': 'other' }), undefined, USE_DENIED('other'));
    await denied(bob, ['label', 'ns', 'bob-team', 'dev.x/policy=other', '--overwrite'], USE_DENIED('other'));
    await createOk(bob, namespace('bob-later'));
    await ok(bob, ['label', 'ns', 'bob-later', 'dev.x/policy=team']);
    await denied(bob, ['label', 'ns', 'bob-later', 'dev.x/policy=other', '--overwrite'], USE_DENIED('other'));
    assert.equal((await labels('ns', 'bob-later'))['dev.x/policy'], 'team');
  });
});

describe('devx’s ServiceAccount writes only within dev mode’s bounds', () => {
  test('its RBAC alone would allow every write refused below (so each refusal is the admission policy’s)', async () => {
    for (const ns of ['plain', 'kube-system', NS, 'dev']) {
      for (const what of [['create', 'pods'], ['create', 'secrets'], ['delete', 'pods'], ['create', 'deployments.apps'], ['delete', 'deployments.apps'], ['update', 'deployments.apps'], ['create', 'events.events.k8s.io'], ['create', 'persistentvolumeclaims'], ['delete', 'persistentvolumeclaims']]) {
        assert.equal(await canI(devx, what, ns), true, `RBAC: ${what.join(' ')} in ${ns}`);
      }
    }
  });

  test('pods: refused without dev.x/policy, in kube-system (labelled or not) and in its own namespace; created in an opted-in one', async () => {
    await createDenied(devx, pod('p'), 'plain', SA_DENIED('devx-service-account', 'may create pods only in namespaces labelled dev\\.x/policy; plain is not'));
    await createDenied(devx, pod('p'), 'kube-system', SA_DENIED('devx-service-account', 'never writes in kube-system'));
    await kubectlOk(['label', 'ns', 'kube-system', 'dev.x/policy=team']);
    try {
      await createDenied(devx, pod('p', { 'dev.x/enabled': 'true' }), 'kube-system', SA_DENIED('devx-service-account', 'never writes in kube-system'));
    } finally {
      await kubectlOk(['label', 'ns', 'kube-system', 'dev.x/policy-']);
    }
    await createDenied(devx, pod('p'), NS, SA_DENIED('devx-service-account', `may write only the Secrets devx-webhook-ca, devx-records-key in its own namespace ${NS}`));
    // Positive controls: a dev pod, and a bare pod restored as it was (no devx label).
    await createOk(devx, pod('dev-pod', { 'dev.x/enabled': 'true', app: 'web' }), 'dev');
    await createOk(devx, pod('restored', { app: 'web' }), 'dev');
  });

  test('pods it creates are bare, left to the scheduler, and either in dev mode or without the dev label', async () => {
    const message = SA_DENIED('devx-service-account-pods', 'may create only bare pods without spec\\.nodeName');
    await createDenied(devx, pod('p-false', { 'dev.x/enabled': 'false' }), 'dev', message);
    await createDenied(devx, pod('p-node', {}, { nodeName: 'control-plane-1' }), 'dev', message);
    const owner = { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: '8a8a8a8a-0000-4000-8000-000000000001', controller: true }] };
    await createDenied(devx, pod('p-owned', { 'dev.x/enabled': 'true' }, {}, owner), 'dev', message);
    // Deleting: only pods carrying devx's marks.
    await kubectlOk(['run', 'users-pod', '--image=example.com/app:1', '--restart=Never'], { namespace: 'dev' });
    await denied(devx, ['delete', 'pod', 'users-pod', '--wait=false'], SA_DENIED('devx-service-account', 'may delete pods only when they carry a dev\\.x/ label or annotation'), { namespace: 'dev' });
    await ok(devx, ['delete', 'pod', 'dev-pod', '--wait=false'], { namespace: 'dev' });
  });

  test('Secrets: only sync Secrets (both labels, kept on update) in opted-in namespaces; in its own namespace only its CA and records key', async () => {
    const notSync = SA_DENIED('devx-service-account', `may write only its sync Secrets outside ${NS}: labels app\\.kubernetes\\.io/managed-by=devx, app\\.kubernetes\\.io/component=sync-secret`);
    await createDenied(devx, secret('plain-secret'), 'dev', notSync);
    await createDenied(devx, secret('half-marked', { 'app.kubernetes.io/managed-by': 'devx' }), 'dev', notSync);
    await createDenied(devx, secret('devx-sync-pod-x', SYNC), 'plain', SA_DENIED('devx-service-account', 'may create secrets only in namespaces labelled dev\\.x/policy; plain is not'));
    await createDenied(devx, secret('devx-sync-pod-x', SYNC), 'kube-system', SA_DENIED('devx-service-account', 'never writes in kube-system'));
    // Positive control, then the marks cannot be taken off, and someone else's Secret cannot be taken over.
    await createOk(devx, secret('devx-sync-pod-x', SYNC), 'dev');
    await denied(devx, ['label', 'secret', 'devx-sync-pod-x', 'app.kubernetes.io/managed-by-'], notSync, { namespace: 'dev' });
    await kubectlOk(['create', 'secret', 'generic', 'users-secret', '--from-literal=password=x'], { namespace: 'dev' });
    await denied(devx, ['label', 'secret', 'users-secret', 'app.kubernetes.io/managed-by=devx', 'app.kubernetes.io/component=sync-secret'], notSync, { namespace: 'dev' });
    await denied(devx, ['delete', 'secret', 'users-secret'], notSync, { namespace: 'dev' });
    await ok(devx, ['delete', 'secret', 'devx-sync-pod-x'], { namespace: 'dev' });
    // Its own namespace: the CA of self-managed TLS and the records' key, nothing else.
    await createOk(devx, secret('devx-webhook-ca'), NS);
    await createOk(devx, secret('devx-records-key'), NS);
    await createDenied(devx, secret('anything-else'), NS, SA_DENIED('devx-service-account', `may write only the Secrets devx-webhook-ca, devx-records-key in its own namespace ${NS}`));
  });

  test('PersistentVolumeClaims: only workdir claims (both labels), only created and deleted, only where dev mode is allowed', async () => {
    const notWorkdir = SA_DENIED('devx-service-account', 'may only create and delete its workdir PersistentVolumeClaims: labels app\\.kubernetes\\.io/managed-by=devx, app\\.kubernetes\\.io/component=workdir');
    await createDenied(devx, claim('users-data'), 'dev', notWorkdir);
    await createDenied(devx, claim('half-marked', { 'app.kubernetes.io/managed-by': 'devx' }), 'dev', notWorkdir);
    await createDenied(devx, claim('devx-workdir-deployment-x', WORKDIR), 'plain', SA_DENIED('devx-service-account', 'may create persistentvolumeclaims only in namespaces labelled dev\\.x/policy; plain is not'));
    await createDenied(devx, claim('devx-workdir-deployment-x', WORKDIR), NS, SA_DENIED('devx-service-account', `may write only the Secrets devx-webhook-ca, devx-records-key in its own namespace ${NS}`));
    // Positive control; then a user's claim is never deleted. (Changing a claim RBAC refuses already: no update verb.)
    await createOk(devx, claim('devx-workdir-deployment-x', WORKDIR), 'dev');
    await kubectlOk(['create', '-f', '-'], { namespace: 'dev', input: JSON.stringify(claim('users-claim')) });
    await denied(devx, ['delete', 'pvc', 'users-claim', '--wait=false'], notWorkdir, { namespace: 'dev' });
    await ok(devx, ['delete', 'pvc', 'devx-workdir-deployment-x', '--wait=false'], { namespace: 'dev' });
  });

  test('Deployments and Jobs: only dev copies created or deleted; the user’s workloads updated only when they carry devx’s marks', async () => {
    const copiesOnly = (resource: string): RegExp => SA_DENIED('devx-service-account', `may create or delete only dev copies \\(label dev\\.x/copy\\) among ${resource}`);
    await createDenied(devx, deployment('web'), 'dev', copiesOnly('deployments'));
    await createDenied(devx, job('batch'), 'dev', copiesOnly('jobs'));
    await createOk(devx, deployment('agent-devx', { 'dev.x/copy': 'agent-devx' }), 'dev');
    await createOk(devx, job('batch-devx', { 'dev.x/copy': 'batch-devx' }), 'dev');
    await createDenied(devx, deployment('agent-devx', { 'dev.x/copy': 'agent-devx' }), 'plain', SA_DENIED('devx-service-account', 'may create deployments only in namespaces labelled dev\\.x/policy; plain is not'));
    await denied(devx, ['label', 'deploy', 'agent-devx', 'dev.x/copy-'], copiesOnly('deployments'), { namespace: 'dev' });

    // The user's own Deployment: not touched until it is in dev mode, then updated (e.g. the recorded replicas).
    await kubectlOk(['create', '-f', '-'], { namespace: 'dev', input: JSON.stringify(deployment('users-web')) });
    const unmarked = SA_DENIED('devx-service-account', 'may update deployments only when they carry a dev\\.x/ label or annotation');
    await denied(devx, ['annotate', 'deploy', 'users-web', 'example.com/touched=yes'], unmarked, { namespace: 'dev' });
    await denied(devx, ['delete', 'deploy', 'users-web'], copiesOnly('deployments'), { namespace: 'dev' });
    await kubectlOk(['label', 'deploy', 'users-web', 'dev.x/enabled=true'], { namespace: 'dev' });
    await ok(devx, ['annotate', 'deploy', 'users-web', 'dev.x/original-replicas=3'], { namespace: 'dev' });
    await ok(devx, ['label', 'deploy', 'users-web', 'dev.x/enabled-'], { namespace: 'dev' });
    // The same in a namespace no admin opted in: refused.
    await kubectlOk(['create', '-f', '-'], { namespace: 'plain', input: JSON.stringify(deployment('users-web', { 'dev.x/enabled': 'true' })) });
    await denied(devx, ['label', 'deploy', 'users-web', 'dev.x/enabled-'], SA_DENIED('devx-service-account', 'may update deployments only in namespaces labelled dev\\.x/policy; plain is not'), { namespace: 'plain' });

    await ok(devx, ['delete', 'deploy', 'agent-devx'], { namespace: 'dev' });
    await ok(devx, ['delete', 'job', 'batch-devx'], { namespace: 'dev' });
  });

  test('Events: only about a workload, where dev mode is allowed', async () => {
    await createOk(devx, event('users-web.1', { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'dev', name: 'users-web' }), 'dev');
    await createDenied(devx, event('users-secret.1', { apiVersion: 'v1', kind: 'Secret', namespace: 'dev', name: 'users-secret' }), 'dev', SA_DENIED('devx-service-account-events', 'may only create Events, about a Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod'));
    await createDenied(devx, event('users-web.2', { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'plain', name: 'users-web' }), 'plain', SA_DENIED('devx-service-account', 'may create events only in namespaces labelled dev\\.x/policy; plain is not'));
  });

  test('only devx’s user name is narrowed: another ServiceAccount bound to the same ClusterRole is not', async () => {
    await kubectlOk(['create', 'serviceaccount', 'lookalike'], { namespace: NS });
    await kubectlOk(['create', 'clusterrolebinding', 'lookalike-devx', '--clusterrole=devx', `--serviceaccount=${NS}:lookalike`]);
    const lookalike = await serviceAccountKubeconfig(cp, NS, 'lookalike');
    await eventually('the lookalike has devx’s RBAC', () => canI(lookalike, ['create', 'pods'], 'plain'));
    await createOk(lookalike, pod('not-devx'), 'plain');
  });

  test('serviceAccountPolicy.enabled=false removes the narrowing (and only it); true puts it back', async () => {
    const upgrade = async (enabled: boolean): Promise<void> => {
      const r = await helm(['upgrade', 'devx', CHART_DIR, '--namespace', NS, '--reuse-values', '--set', `serviceAccountPolicy.enabled=${enabled}`], { kubeconfig: cp.kubeconfigPath });
      assert.equal(r.code, 0, r.stderr);
    };
    const dryRun = (): Promise<KubectlResult> => as(devx, ['create', '-f', '-', '--dry-run=server'], { namespace: 'plain', input: JSON.stringify(pod('p')) });
    await upgrade(false);
    const names = (await kubectlOk(['get', 'validatingadmissionpolicies', '-o', 'name'])).trim().split('\n');
    assert.deepEqual(names, ['validatingadmissionpolicy.admissionregistration.k8s.io/devx-policy-use']);
    await eventually('devx may create a pod in plain again (RBAC only)', async () => (await dryRun()).code === 0);
    await upgrade(true);
    await eventually('refused again', async () => /devx-service-account/.test((await dryRun()).stderr));
  });
});
