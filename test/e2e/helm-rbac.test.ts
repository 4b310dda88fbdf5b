// The chart's RBAC is sufficient and no more, shown on a real API server (etcd, kube-apiserver, kube-controller-manager
// built from Go modules) with its audit log on:
// 1. helm installs the chart (default values: self-managed TLS, leader election); devx-webhook runs outside the cluster
//    with a token of the chart's ServiceAccount (TokenRequest API, as a pod would get) — so the API server authorizes
//    it exactly as it would authorize devx's pods. The chart's own webhook configurations are used, only pointed at
//    devx's loopback address (the API server here has no route to a Service: no kubelet, no pod network).
// 2. A tour of every dev-mode transition (DESIGN §3; a workdir claim of DevPolicy persistence too) passes, with devx
//    making its CA, filling the caBundle and holding the Lease; the audit log shows no request of devx refused
//    (sufficient) — neither by RBAC nor by the chart's ValidatingAdmissionPolicies that narrow devx's ServiceAccount —
//    and every verb the chart grants used (no more: a verb nothing uses fails the test, so does one that is missing).
// 3. Verbs taken away from the live ClusterRole and Role one at a time, each with what breaks.
import assert from 'node:assert/strict';
import { duplicateName } from '../../src/core/duplicate.ts';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ControlPlane, KubectlOptions } from './harness/control-plane.ts';
import { bookinfoReviews, eventually, getJson, startDevx, type DevxServer } from './harness/devx.ts';
import { auditLogOf, type AuditEvent } from './harness/audit.ts';
import { CHART_DIR, CI_DIR, helm, installedChart, pointWebhooksAt, pointWebhooksAtService } from './harness/helm.ts';
import { httpsRequest } from './harness/https-client.ts';
import { FAST_RECONCILER_ENV } from './harness/reconciler.ts';
import { generateCA, issueCertificate } from '../../src/tls/pki.ts';

const NS = 'devx-system';
const SA = 'devx';
const SA_USER = `system:serviceaccount:${NS}:${SA}`;
// Short reconciler timings (the server's flags stay the chart's): Lease, resync.
const FAST = { ...FAST_RECONCILER_ENV, POD_NAME: 'devx-rbac-0' };

// Every request of devx's ServiceAccount, with its verb, object and answer; nothing else.
const audit = auditLogOf(SA_USER);

let cp: ControlPlane;
let saKubeconfig: string;
let devx: DevxServer | undefined;

async function kubectlOk(args: string[], opts: KubectlOptions = {}): Promise<string> {
  const r = await cp.kubectl(args, opts);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}:\n${r.stderr}`);
  return r.stdout;
}

async function apply(obj: unknown, namespace: string): Promise<void> {
  await kubectlOk(['apply', '-f', '-'], { namespace, input: JSON.stringify(obj) });
}

/**
 * devx-webhook as the chart's ServiceAccount (its kubeconfig), with the chart's flags (namespace, Service name,
 * self-managed TLS), listening on loopback; the chart's webhook configurations pointed at it. Stopped again if it
 * does not come up.
 */
async function startAsServiceAccount(name: string, extraArgs: string[] = []): Promise<DevxServer> {
  const args = ['--namespace', NS, '--service-name', 'devx', ...extraArgs];
  const server = await startDevx(cp, { name, kubeconfig: saKubeconfig, register: false, args, env: FAST });
  try {
    await pointWebhooksAt(cp, `https://127.0.0.1:${server.port}`);
    return server;
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function readyz(port: number): Promise<number> {
  return (await httpsRequest({ url: `https://127.0.0.1:${port}/readyz`, timeoutMs: 2000 })).status;
}

/** Log lines of devx that report an RBAC refusal (not an admission webhook's denial, which is also a 403). */
const forbidden = (server: DevxServer | undefined): string[] =>
  (server?.logs() ?? [])
    .map((l) => JSON.stringify(l))
    .filter((l) => /cannot \w+ resource|"error":"Forbidden"|"code":403/.test(l) && !/admission webhook/.test(l));

/** SHA-256 fingerprints of the certificates in a PEM bundle. */
function fingerprints(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => new X509Certificate(c).fingerprint256);
}

// ---- workloads ------------------------------------------------------------------------------------------------

const container = (name: string): Record<string, unknown> => ({ name, image: `example.com/${name}:1` });
const podTemplate = (app: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ metadata: { labels: { app } }, spec: { containers: [container(app)], ...extra } });
const meta = (name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): Record<string, unknown> => ({ name, labels, annotations });

const WORKLOADS = {
  deployment: (name: string, m: Record<string, string> = {}, a: Record<string, string> = {}) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(name, m, a), spec: { replicas: 3, selector: { matchLabels: { app: name } }, template: podTemplate(name) } }),
  statefulset: (name: string, m: Record<string, string> = {}, a: Record<string, string> = {}) => ({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: meta(name, m, a), spec: { replicas: 2, serviceName: name, podManagementPolicy: 'Parallel', selector: { matchLabels: { app: name } }, template: podTemplate(name) } }),
  daemonset: (name: string, m: Record<string, string> = {}, a: Record<string, string> = {}) => ({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta(name, m, a), spec: { selector: { matchLabels: { app: name } }, template: podTemplate(name) } }),
  job: (name: string, m: Record<string, string> = {}, a: Record<string, string> = {}) => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: meta(name, m, a), spec: { template: podTemplate(name, { restartPolicy: 'Never' }) } }),
  cronjob: (name: string, m: Record<string, string> = {}, a: Record<string, string> = {}) => ({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: meta(name, m, a), spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: podTemplate(name, { restartPolicy: 'Never' }) } } } }),
  pod: (name: string, m: Record<string, string> = {}, a: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: meta(name, m, a), spec: { containers: [container(name)] } }),
};
const ON = { 'dev.x/enabled': 'true' };

async function secretExists(namespace: string, name: string): Promise<boolean> {
  return (await cp.kubectl(['get', 'secret', name], { namespace })).code === 0;
}

async function gone(what: string, args: string[], namespace: string): Promise<void> {
  await eventually(`${what} gone`, async () => (await cp.kubectl(['get', ...args], { namespace })).code !== 0, 30_000);
}

async function annotations(namespace: string, args: string[]): Promise<Record<string, string>> {
  return (await getJson(cp, args, namespace)).metadata.annotations ?? {};
}

// ---- the audit log and the granted rules ----------------------------------------------------------------------

/** Refused by authorization (RBAC), as opposed to a 403 from an admission webhook. */
const refusedByRbac = (e: AuditEvent): boolean => e.annotations?.['authorization.k8s.io/decision'] === 'forbid';
/** Refused by one of the chart's ValidatingAdmissionPolicies (templates/admission-policies.yaml). */
const refusedByPolicy = (e: AuditEvent): boolean => /ValidatingAdmissionPolicy/.test(e.responseStatus?.message ?? '');

function auditEvents(): AuditEvent[] {
  return audit.events().filter((e) => e.objectRef?.resource);
}

const describeEvent = (e: AuditEvent): string =>
  `${e.verb} ${e.objectRef?.apiGroup || 'core'}/${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} ${e.objectRef?.namespace ?? ''}/${e.objectRef?.name ?? ''} -> ${e.responseStatus?.code}`;

interface Grant {
  group: string;
  resource: string;
  verb: string;
  names: string[];
  /** A Role's namespace; undefined for the ClusterRole. */
  namespace?: string;
}

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

async function grants(): Promise<Grant[]> {
  const clusterRole = await getJson(cp, ['clusterrole', 'devx']);
  const role = await getJson(cp, ['role', 'devx'], NS);
  const expand = (rules: Rule[], namespace?: string): Grant[] =>
    rules.flatMap((r) => r.apiGroups.flatMap((group) => r.resources.flatMap((resource) => r.verbs.map((verb) => ({ group, resource, verb, names: r.resourceNames ?? [], ...(namespace ? { namespace } : {}) })))));
  return [...expand(clusterRole.rules), ...expand(role.rules, NS)];
}

const describeGrant = (g: Grant): string => `${g.verb} ${g.group || 'core'}/${g.resource}${g.names.length ? ` [${g.names.join(',')}]` : ''}${g.namespace ? ` in ${g.namespace}` : ''}`;

function uses(g: Grant, e: AuditEvent): boolean {
  const o = e.objectRef ?? {};
  const resource = o.subresource ? `${o.resource}/${o.subresource}` : o.resource;
  return (
    (o.apiGroup ?? '') === g.group &&
    resource === g.resource &&
    e.verb === g.verb &&
    (g.names.length === 0 || g.names.includes(o.name ?? '')) &&
    (g.namespace === undefined || o.namespace === g.namespace) &&
    !refusedByRbac(e)
  );
}

// ---- editing the live RBAC ------------------------------------------------------------------------------------

type RbacRef = { kind: 'clusterrole' | 'role'; namespace?: string };
const CLUSTER_ROLE: RbacRef = { kind: 'clusterrole' };
const ROLE: RbacRef = { kind: 'role', namespace: NS };

/** Removes `verb` from the rules of the ClusterRole or Role that name `resource`, waits until the API server refuses
 * it, runs `during`, and puts the verb back whatever happens. */
async function without(ref: RbacRef, resource: string, verb: string, check: { namespace?: string; name?: string }, during: () => Promise<void>): Promise<void> {
  const nsOpt = ref.namespace ? { namespace: ref.namespace } : {};
  const original = await getJson(cp, [ref.kind, 'devx'], ref.namespace);
  const edited = structuredClone(original);
  let removed = 0;
  for (const rule of edited.rules as Rule[]) {
    if (!rule.resources.includes(resource) || !rule.verbs.includes(verb)) continue;
    rule.verbs = rule.verbs.filter((v) => v !== verb);
    removed++;
  }
  assert.ok(removed > 0, `the chart grants ${verb} on ${resource}`);
  edited.rules = (edited.rules as Rule[]).filter((r) => r.verbs.length > 0);
  const canI = async (): Promise<string> => {
    const target = check.name ? `${resource}/${check.name}` : resource;
    const r = await cp.kubectl(['auth', 'can-i', verb, target, `--as=${SA_USER}`], check.namespace ? { namespace: check.namespace } : {});
    return r.stdout.trim();
  };
  await kubectlOk(['replace', '-f', '-'], { ...nsOpt, input: JSON.stringify(edited) });
  try {
    await eventually(`${verb} ${resource} refused`, async () => (await canI()) === 'no');
    await during();
  } finally {
    const current = await getJson(cp, [ref.kind, 'devx'], ref.namespace);
    await kubectlOk(['replace', '-f', '-'], { ...nsOpt, input: JSON.stringify({ ...current, rules: original.rules }) });
    await eventually(`${verb} ${resource} allowed again`, async () => (await canI()) === 'yes');
  }
}

// ---- setup ----------------------------------------------------------------------------------------------------

before(async () => {
  ({ cp, saKubeconfig } = await installedChart({ namespace: NS, serviceAccount: SA, valuesFiles: [path.join(CI_DIR, 'default-policy-values.yaml')], extraApiServerFlags: audit.flags }));
  assert.match(await kubectlOk(['--kubeconfig', saKubeconfig, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']), new RegExp(`^${SA_USER}$`));
  for (const ns of ['team', 'away']) await cp.createNamespace(ns, { 'dev.x/policy': 'default' });
  await cp.createNamespace('plain');
});

after(async () => {
  await devx?.stop();
  await cp?.stop();
  audit.remove();
});

describe('as the chart’s ServiceAccount', () => {
  test('starts: its CA in the Secret devx-webhook-ca, the caBundle of the chart’s webhook configurations, the Lease', async () => {
    // Everything below runs with the chart's admission policies on devx's ServiceAccount in force.
    for (const name of ['devx-service-account', 'devx-service-account-pods', 'devx-service-account-events']) await kubectlOk(['get', 'validatingadmissionpolicybinding', name]);
    devx = await startAsServiceAccount('devx-sa');
    await eventually('devx ready (its informers listed everything)', async () => (await readyz((devx as DevxServer).port)) === 200, 30_000);
    const secret = await getJson(cp, ['secret', 'devx-webhook-ca'], NS);
    const [ca] = fingerprints(Buffer.from(secret.data['ca.crt'], 'base64').toString('utf8'));
    assert.ok(ca, 'the CA Secret holds a certificate');
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const cfg = await getJson(cp, [kind, 'devx']);
      for (const w of cfg.webhooks) assert.ok(fingerprints(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8')).includes(ca), `${kind} ${w.name} trusts devx's CA`);
    }
    await eventually('the Lease held by this replica', async () => (await cp.kubectl(['get', 'lease', 'devx-reconciler', '-o', 'jsonpath={.spec.holderIdentity}'], { namespace: NS })).stdout === FAST.POD_NAME);
  });

  test('Deployment and StatefulSet: label -> injected pod, sync Secret, replicas 1; scale recorded; unlabel restores', async () => {
    await apply(bookinfoReviews('team', 3), 'team');
    await kubectlOk(['label', 'deploy', 'reviews', 'dev.x/enabled=true'], { namespace: 'team' });
    await eventually('an injected reviews pod', async () => (await getJson(cp, ['pods', '-l', 'app=reviews'], 'team')).items.some((p: any) => p.metadata.annotations?.['dev.x/status']));
    await eventually('the sync Secret', () => secretExists('team', 'devx-sync-deployment-reviews'));
    await kubectlOk(['scale', 'deploy', 'reviews', '--replicas=5'], { namespace: 'team' });
    await eventually('5 recorded', async () => (await annotations('team', ['deploy', 'reviews']))['dev.x/original-replicas'] === '5');
    await kubectlOk(['label', 'deploy', 'reviews', 'dev.x/enabled-'], { namespace: 'team' });
    assert.equal((await getJson(cp, ['deploy', 'reviews'], 'team')).spec.replicas, 5);
    await gone('the sync Secret', ['secret', 'devx-sync-deployment-reviews'], 'team');
    const events = await getJson(cp, ['events.events.k8s.io', '--field-selector', 'regarding.name=reviews'], 'team');
    assert.ok(events.items.some((e: any) => e.reason === 'DevModeEntered' && e.reportingController), 'an Event recorded by devx');

    await apply(WORKLOADS.statefulset('db'), 'team');
    await kubectlOk(['label', 'sts', 'db', 'dev.x/enabled=true'], { namespace: 'team' });
    await kubectlOk(['scale', 'sts', 'db', '--replicas=4'], { namespace: 'team' });
    await eventually('4 recorded', async () => (await annotations('team', ['sts', 'db']))['dev.x/original-replicas'] === '4');
    await kubectlOk(['label', 'sts', 'db', 'dev.x/enabled-'], { namespace: 'team' });
    await gone('the StatefulSet’s sync Secret', ['secret', 'devx-sync-statefulset-db'], 'team');
  });

  test('Job, CronJob, DaemonSet, bare Pod: copies and recreation; dev.x/ttl ends each by itself', async () => {
    const ttl = { 'dev.x/ttl': '4s' };
    await apply(WORKLOADS.job('batch'), 'team');
    await apply(WORKLOADS.cronjob('nightly'), 'team');
    await apply(WORKLOADS.daemonset('agent'), 'team');
    await apply(WORKLOADS.pod('solo'), 'team');
    const before = { cronjob: (await getJson(cp, ['cronjob', 'nightly'], 'team')).spec, daemonset: (await getJson(cp, ['ds', 'agent'], 'team')).spec };
    for (const [kind, name] of [['job', 'batch'], ['cronjob', 'nightly'], ['daemonset', 'agent'], ['pod', 'solo']] as const) {
      await kubectlOk(['annotate', kind, name, ...Object.entries(ttl).map(([k, v]) => `${k}=${v}`)], { namespace: 'team' });
      await kubectlOk(['label', kind, name, 'dev.x/enabled=true'], { namespace: 'team' });
    }
    await eventually('the Job’s copy batch-devx', async () => (await cp.kubectl(['get', 'job', 'batch-devx'], { namespace: 'team' })).code === 0);
    await eventually('the DaemonSet’s copy agent-devx', async () => (await cp.kubectl(['get', 'deploy', 'agent-devx'], { namespace: 'team' })).code === 0);
    // A change of the DaemonSet during dev mode reaches its copy (an update of the copy).
    await kubectlOk(['set', 'env', 'ds/agent', 'MODE=changed'], { namespace: 'team' });
    await eventually('the copy follows the DaemonSet', async () => JSON.stringify((await getJson(cp, ['deploy', 'agent-devx'], 'team')).spec.template.spec.containers).includes('changed'));
    await eventually('the bare pod recreated in dev mode', async () => (await annotations('team', ['pod', 'solo']))['dev.x/status'] !== undefined);
    // The TTL runs out: devx removes the labels; everything is as before, copies and Secrets gone.
    for (const [kind, name] of [['job', 'batch'], ['cronjob', 'nightly'], ['daemonset', 'agent']] as const) {
      await eventually(`${kind} ${name} out of dev mode`, async () => (await getJson(cp, [kind, name], 'team')).metadata.labels?.['dev.x/enabled'] === undefined, 30_000);
      await gone(`${kind} ${name}’s sync Secret`, ['secret', `devx-sync-${kind}-${name}`], 'team');
    }
    await gone('the Job’s copy', ['job', 'batch-devx'], 'team');
    await gone('the DaemonSet’s copy', ['deploy', 'agent-devx'], 'team');
    assert.deepEqual((await getJson(cp, ['cronjob', 'nightly'], 'team')).spec.suspend, before.cronjob.suspend);
    assert.deepEqual((await getJson(cp, ['ds', 'agent'], 'team')).spec.template.spec.nodeSelector, before.daemonset.template.spec.nodeSelector);
    await eventually('the bare pod recreated as it was', async () => {
      const pod = await getJson(cp, ['pod', 'solo'], 'team');
      return !pod.metadata.deletionTimestamp && pod.metadata.annotations?.['dev.x/status'] === undefined && pod.spec.containers.length === 1;
    }, 30_000);
  });

  test('duplicate mode: a copy of its own and its own sync Secret; the copy follows the workload; unlabel deletes both', async () => {
    await apply(WORKLOADS.deployment('shop', {}, { 'dev.x/mode': 'duplicate' }), 'team');
    await kubectlOk(['label', 'deploy', 'shop', 'dev.x/enabled=true'], { namespace: 'team' });
    const copy = duplicateName('shop', (await annotations('team', ['deploy', 'shop']))['dev.x/enabled-by'] ?? '');
    await eventually(`the copy ${copy}`, async () => (await cp.kubectl(['get', 'deploy', copy], { namespace: 'team' })).code === 0);
    await eventually('its own sync Secret', () => secretExists('team', `devx-sync-deployment-${copy}`));
    // A change of the workload reaches the copy (an update of the copy); the workload itself stays at 3 replicas.
    await kubectlOk(['set', 'env', 'deploy/shop', 'MODE=changed'], { namespace: 'team' });
    await eventually('the copy follows the Deployment', async () => JSON.stringify((await getJson(cp, ['deploy', copy], 'team')).spec.template.spec.containers).includes('changed'));
    assert.equal((await getJson(cp, ['deploy', 'shop'], 'team')).spec.replicas, 3);
    await kubectlOk(['label', 'deploy', 'shop', 'dev.x/enabled-'], { namespace: 'team' });
    await gone('the copy', ['deploy', copy], 'team');
    await gone('the copy’s sync Secret', ['secret', `devx-sync-deployment-${copy}`], 'team');
  });

  test('a sync Secret with unusable identities is regenerated', async () => {
    await apply(WORKLOADS.deployment('regen', ON), 'team');
    await eventually('the sync Secret', () => secretExists('team', 'devx-sync-deployment-regen'));
    const breakIt = ['patch', 'secret', 'devx-sync-deployment-regen', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/data', value: { 'config.xml': Buffer.from('broken').toString('base64') } }])];
    // Nobody but devx writes a sync Secret, a cluster admin included.
    const refused = await cp.kubectl(breakIt, { namespace: 'team' });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /sync Secrets are made and changed by devx alone/);
    // A Secret damaged where devx's webhook does not look (written while Secrets were out of its rules, or by an older
    // devx) is still made again: the validating webhook stops watching Secrets for the moment of the damage.
    const rules = (await getJson(cp, ['validatingwebhookconfiguration', 'devx'])).webhooks[0].rules as Array<{ resources: string[] }>;
    const index = rules.findIndex((r) => r.resources.includes('secrets'));
    const without = rules[index]?.resources.filter((r) => r !== 'secrets');
    await kubectlOk(['patch', 'validatingwebhookconfiguration', 'devx', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: `/webhooks/0/rules/${index}/resources`, value: without }])]);
    try {
      await kubectlOk(breakIt, { namespace: 'team' });
    } finally {
      await kubectlOk(['patch', 'validatingwebhookconfiguration', 'devx', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: `/webhooks/0/rules/${index}/resources`, value: rules[index]?.resources }])]);
    }
    await eventually('identities made again', async () => Object.keys((await getJson(cp, ['secret', 'devx-sync-deployment-regen'], 'team')).data ?? {}).length > 1);
    await kubectlOk(['label', 'deploy', 'regen', 'dev.x/enabled-'], { namespace: 'team' });
  });

  test('a bare pod created with the label: injected at admission, and its sync Secret made', async () => {
    await apply(WORKLOADS.pod('born-dev', ON), 'team');
    assert.ok((await annotations('team', ['pod', 'born-dev']))['dev.x/status'], 'injected at admission');
    await eventually('the sync Secret of a pod created in dev mode', () => secretExists('team', 'devx-sync-pod-born-dev'), 15_000).catch((err: Error) => {
      const said = (devx?.logs() ?? []).filter((l) => String(l.workload ?? '').includes('born-dev')).slice(-3);
      throw new Error(`${err.message}; devx said: ${JSON.stringify(said)}`);
    });
  });

  test('labels removed while admission was away: each workload kind restored by the reconciler once the namespace is opted in again', async () => {
    // (A bare pod left dev mode this way is recreated from its original: the Pod tour above covers it.)
    const made: Array<[string, string]> = [['deployment', 'a-dep'], ['statefulset', 'a-sts'], ['daemonset', 'a-ds'], ['job', 'a-job'], ['cronjob', 'a-cron']];
    for (const [kind, name] of made) await apply(WORKLOADS[kind as keyof typeof WORKLOADS](name, ON), 'away');
    for (const [kind, name] of made) await eventually(`${kind} ${name} in dev mode`, () => secretExists('away', `devx-sync-${kind}-${name}`), 30_000);
    // Without dev.x/policy the namespace is no longer sent to the mutating webhooks: the labels go without admission.
    await kubectlOk(['label', 'ns', 'away', 'dev.x/policy-']);
    for (const [kind, name] of made) await kubectlOk(['label', kind, name, 'dev.x/enabled-'], { namespace: 'away' });
    // devx writes nothing in a namespace without dev.x/policy (DESIGN §10; the chart's admission policy on its
    // ServiceAccount refuses it too, and the audit-log test below finds no such refusal): the restore waits until an
    // admin opts the namespace in again.
    await kubectlOk(['label', 'ns', 'away', 'dev.x/policy=default']);
    for (const [kind, name] of made) {
      await eventually(`${kind} ${name} restored`, async () => (await annotations('away', [kind, name]))['dev.x/enabled-at'] === undefined, 30_000);
    }
  });

  test('DevPolicy persistence: the workdir claim created with dev mode and deleted when it ends', async () => {
    await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'persist' }, spec: { persistence: { size: '1Gi' } } }) });
    await cp.createNamespace('keep', { 'dev.x/policy': 'persist' });
    await apply(WORKLOADS.deployment('notes', ON), 'keep');
    await eventually('the workdir claim', async () => (await cp.kubectl(['get', 'pvc', 'devx-workdir-deployment-notes'], { namespace: 'keep' })).code === 0, 30_000);
    await kubectlOk(['label', 'deploy', 'notes', 'dev.x/enabled-'], { namespace: 'keep' });
    await gone('the workdir claim', ['pvc', 'devx-workdir-deployment-notes'], 'keep');
  });

  test('a namespace without dev.x/policy: the label is refused', async () => {
    await apply(WORKLOADS.deployment('web'), 'plain');
    const r = await cp.kubectl(['label', 'deploy', 'web', 'dev.x/enabled=true'], { namespace: 'plain' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /dev mode is not enabled in namespace plain/);
  });

  test('the audit log: no request of devx refused, and every verb the chart grants was used', async () => {
    assert.deepEqual(forbidden(devx), [], 'devx logged a refusal');
    const events = auditEvents();
    assert.ok(events.length > 50, `audit events of devx: ${events.length}`);
    assert.deepEqual(events.filter(refusedByRbac).map(describeEvent), [], 'requests the chart does not allow');
    assert.deepEqual(events.filter(refusedByPolicy).map(describeEvent), [], 'requests the chart’s admission policies refuse');
    const unused = (await grants()).filter((g) => !events.some((e) => uses(g, e))).map(describeGrant);
    assert.deepEqual(unused, [], 'granted but never used: remove them from templates/rbac.yaml, or show here what needs them');
  });
});

describe('a verb taken away breaks devx', () => {
  test('list namespaces: devx never becomes ready (its view of dev namespaces cannot be complete)', async () => {
    await devx?.stop();
    devx = undefined;
    await without(CLUSTER_ROLE, 'namespaces', 'list', {}, async () => {
      const server = await startAsServiceAccount('devx-no-list-namespaces');
      try {
        await eventually('a refusal logged', async () => forbidden(server).some((l) => l.includes('Namespace')));
        assert.equal(await readyz(server.port), 503);
      } finally {
        await server.stop();
      }
    });
  });

  test('create secrets: a labelled workload gets no sync Secret until the verb is back', async () => {
    devx = await startAsServiceAccount('devx-sa-2');
    await eventually('ready', async () => (await readyz((devx as DevxServer).port)) === 200, 30_000);
    await without(CLUSTER_ROLE, 'secrets', 'create', { namespace: 'team' }, async () => {
      await apply(WORKLOADS.deployment('nocreate', ON), 'team');
      await eventually('a refusal logged', async () => forbidden(devx).some((l) => l.includes('secrets')));
      assert.equal(await secretExists('team', 'devx-sync-deployment-nocreate'), false);
    });
    await eventually('the Secret once the verb is back', () => secretExists('team', 'devx-sync-deployment-nocreate'), 30_000);
  });

  test('update leases (Role): the leader cannot renew its Lease', async () => {
    await without(ROLE, 'leases', 'update', { namespace: NS, name: 'devx-reconciler' }, async () => {
      await eventually('a refusal logged', async () => forbidden(devx).some((l) => /lease/i.test(l)), 15_000);
    });
  });

  test('patch webhook configurations: self-managed TLS cannot publish its CA, so the API server cannot call devx', async () => {
    await devx?.stop();
    devx = undefined;
    const caBundle = async (): Promise<string | undefined> => (await getJson(cp, ['mutatingwebhookconfiguration', 'devx'])).webhooks[0].clientConfig.caBundle;
    await kubectlOk(['patch', 'mutatingwebhookconfiguration', 'devx', '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/webhooks/0/clientConfig/caBundle' }])]);
    await without(CLUSTER_ROLE, 'mutatingwebhookconfigurations', 'patch', { name: 'devx' }, async () => {
      devx = await startAsServiceAccount('devx-no-patch');
      await eventually('a refusal logged', async () => forbidden(devx).some((l) => l.includes('mutatingwebhookconfigurations')), 15_000);
      assert.equal(await caBundle(), undefined, 'nothing published without the verb');
      const refused = await cp.kubectl(['apply', '-f', '-'], { namespace: 'team', input: JSON.stringify(WORKLOADS.pod('unreachable', ON)) });
      assert.match(refused.stderr, /failed calling webhook "pods\.dev\.x"[\s\S]*(certificate|x509)/, 'the API server cannot verify devx');
    });
    await eventually('the caBundle once the verb is back (devx retries)', async () => (await caBundle()) !== undefined, 30_000);
  });
});

describe('tls.mode=secret', () => {
  test('without the webhook-configuration rule, devx serves the Secret’s certificate through dev mode with nothing refused', async () => {
    await devx?.stop();
    devx = undefined;
    const notBefore = new Date(Date.now() - 60_000);
    const ca = generateCA({ commonName: 'platform-ca', notBefore, validityMs: 3600_000 });
    const serving = issueCertificate(ca, { commonName: 'devx.devx-system.svc', dnsNames: ['devx.devx-system.svc'], ipAddresses: ['127.0.0.1'], usage: 'server', notBefore, validityMs: 3600_000 });
    const certFile = path.join(cp.dir, 'tls.crt');
    const keyFile = path.join(cp.dir, 'tls.key');
    fs.writeFileSync(certFile, serving.certPem);
    fs.writeFileSync(keyFile, serving.keyPem);
    await kubectlOk(['create', 'secret', 'tls', 'devx-serving-cert', `--cert=${certFile}`, `--key=${keyFile}`], { namespace: NS });
    const caBundle = Buffer.from(ca.certPem).toString('base64');
    await pointWebhooksAtService(cp, { namespace: NS, name: 'devx' });
    const upgraded = await helm(['upgrade', 'devx', CHART_DIR, '--namespace', NS, '--reuse-values', '--set', 'tls.mode=secret', '--set', 'tls.secret.name=devx-serving-cert', '--set', `tls.secret.caBundle=${caBundle}`], { kubeconfig: cp.kubeconfigPath });
    assert.equal(upgraded.code, 0, upgraded.stderr);
    const rules = (await getJson(cp, ['clusterrole', 'devx'])).rules as Rule[];
    assert.equal(rules.some((r) => r.apiGroups.includes('admissionregistration.k8s.io')), false, 'the rule is gone');

    const since = new Date().toISOString();
    // The chart mounts the Secret at /etc/devx/tls and passes the files; here the same files are passed directly.
    devx = await startAsServiceAccount('devx-secret-mode', ['--tls-cert-file', certFile, '--tls-key-file', keyFile]);
    await eventually('ready', async () => (await readyz((devx as DevxServer).port)) === 200, 30_000);
    await apply(WORKLOADS.deployment('filemode', ON), 'team');
    await eventually('an injected pod', async () => (await getJson(cp, ['pods', '-l', 'app=filemode'], 'team')).items.some((p: any) => p.metadata.annotations?.['dev.x/status']));
    await eventually('the sync Secret', () => secretExists('team', 'devx-sync-deployment-filemode'));
    await kubectlOk(['label', 'deploy', 'filemode', 'dev.x/enabled-'], { namespace: 'team' });
    await gone('the sync Secret', ['secret', 'devx-sync-deployment-filemode'], 'team');
    const cfg = await getJson(cp, ['mutatingwebhookconfiguration', 'devx']);
    assert.ok(cfg.webhooks.every((w: any) => w.clientConfig.caBundle === caBundle), 'the chart’s caBundle, untouched by devx');
    assert.deepEqual(auditEvents().filter((e) => e.requestReceivedTimestamp >= since).filter(refusedByRbac).map(describeEvent), []);
    assert.deepEqual(forbidden(devx), []);
  });
});
