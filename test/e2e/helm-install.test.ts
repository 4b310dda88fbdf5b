// charts/devx and deploy/ installed into a real control plane (etcd, kube-apiserver, kube-controller-manager built
// from Go modules). There is no kubelet, so devx's own pods stay Pending: what is real here is everything the API
// server decides — validation of every rendered object, Pod Security "restricted" on the pods the ReplicaSet creates,
// the webhook configurations as the API server applies them, install, upgrade and uninstall. devx itself running as
// the chart's ServiceAccount is test/e2e/helm-rbac.test.ts.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { webhookConfigurations } from '../../src/k8s/register-webhooks.ts';
import { REPO } from '../../tools/chart-sources.ts';
import { startControlPlane, type ControlPlane, type KubectlOptions } from './harness/control-plane.ts';
import { eventually, getJson } from './harness/devx.ts';
import { CHART_DIR, helm, renderChart, scenarioFiles, templateArgs } from './harness/helm.ts';

const NS = 'devx-system';
let cp: ControlPlane;

async function kubectlOk(args: string[], opts: KubectlOptions = {}): Promise<string> {
  const r = await cp.kubectl(args, opts);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}:\n${r.stderr}`);
  return r.stdout;
}

async function helmOk(args: string[]): Promise<string> {
  const r = await helm(args, { kubeconfig: cp.kubeconfigPath });
  assert.equal(r.code, 0, `helm ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Minimal CRDs for the kinds the optional scenarios render (cert-manager, prometheus-operator), so the API server
 * serves them: the objects are accepted by kind, their specs are not checked (the real CRDs are not installed here). */
function standInCrd(group: string, kind: string, plural: string): unknown {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: { 'devx.test/stand-in': 'true' } },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  };
}

/** Every object of every listable kind, in all namespaces, with a label selector: `kind/name` (namespaced ones with
 * their namespace). What "nothing left behind" is checked against. */
async function everythingLabelled(selector: string): Promise<string[]> {
  const kinds = (await kubectlOk(['api-resources', '--verbs=list', '-o', 'name'])).split('\n').filter(Boolean);
  const out = await kubectlOk(['get', kinds.join(','), '-A', '-l', selector, '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{"\\n"}{end}']);
  return out.split('\n').filter(Boolean).sort();
}

async function devxPodsAdmitted(): Promise<void> {
  // No kubelet: the pods stay Pending, but the ReplicaSet only gets them past admission (Pod Security restricted in
  // this namespace) if the chart's pod spec complies; a rejected pod shows as a ReplicaFailure condition instead.
  await eventually('2 devx pods created under Pod Security restricted', async () => {
    const pods = await getJson(cp, ['pods', '-l', 'app.kubernetes.io/name=devx'], NS);
    return pods.items.length === 2;
  }, 30_000);
  const rs = await getJson(cp, ['rs', '-l', 'app.kubernetes.io/name=devx'], NS);
  for (const r of rs.items) assert.equal((r.status.conditions ?? []).find((c: any) => c.type === 'ReplicaFailure'), undefined, JSON.stringify(r.status));
}

async function webhookConfigsGone(): Promise<void> {
  for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
    assert.equal((await kubectlOk(['get', kind, '-o', 'name'])).includes('/devx\n'), false, `${kind} devx left behind`);
  }
}

before(async () => {
  cp = await startControlPlane();
  const crds = [standInCrd('cert-manager.io', 'Certificate', 'certificates'), standInCrd('cert-manager.io', 'Issuer', 'issuers'), standInCrd('monitoring.coreos.com', 'ServiceMonitor', 'servicemonitors')];
  await kubectlOk(['apply', '-f', '-'], { input: crds.map((c) => JSON.stringify(c)).join('\n') });
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', 'crd', '-l', 'devx.test/stand-in=true']);
});

after(async () => {
  await cp?.stop();
});

describe('plain manifests: kubectl apply -k deploy/', () => {
  test('installs the namespace, the CRD and devx; the pods pass Pod Security restricted', async () => {
    await kubectlOk(['apply', '--server-side', '-k', path.join(REPO, 'deploy')]);
    await kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', 'crd/devpolicies.dev.x']);
    assert.equal((await getJson(cp, ['ns', NS])).metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    await devxPodsAdmitted();
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration', 'clusterrole', 'clusterrolebinding']) await kubectlOk(['get', kind, 'devx']);
  });

  test('every rendered object of the defaults and of every ci/ scenario is accepted by the API server (dry-run)', async () => {
    for (const s of [undefined, ...scenarioFiles()]) {
      const { text, objects } = await renderChart({ valuesFiles: s ? [s] : [], includeCrds: true });
      const r = await cp.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: text });
      assert.equal(r.code, 0, `${s ?? 'defaults'} (${templateArgs({ valuesFiles: s ? [s] : [] }).join(' ')}):\n${r.stderr}`);
      assert.equal(r.stdout.trim().split('\n').length, objects.length, `every object answered: ${r.stdout}`);
      assert.doesNotMatch(r.stderr, /Warning/, `${s ?? 'defaults'}: the API server warned`);
    }
  });

  test('kubectl delete -k deploy/ leaves nothing behind', async () => {
    await kubectlOk(['delete', '-k', path.join(REPO, 'deploy'), '--wait=true', '--timeout=60s']);
    await eventually(`namespace ${NS} deleted`, async () => (await cp.kubectl(['get', 'ns', NS])).code !== 0, 60_000);
    assert.deepEqual(await everythingLabelled('app.kubernetes.io/name=devx'), []);
    await webhookConfigsGone();
  });
});

describe('helm install / upgrade / uninstall', () => {
  test('helm install: the CRD from crds/ and a DevPolicy in the same release; pods pass restricted', async () => {
    await cp.createNamespace(NS, { 'pod-security.kubernetes.io/enforce': 'restricted' });
    const out = await helmOk(['install', 'devx', CHART_DIR, '--namespace', NS, '--set', 'devPolicy.create=true']);
    assert.match(out, /STATUS: deployed/);
    assert.match(out, /kubectl label namespace NS dev\.x\/policy=default/, 'NOTES.txt tells what to do next');
    await kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', 'crd/devpolicies.dev.x']);
    assert.equal((await getJson(cp, ['devpolicy', 'default'])).spec.sidecar.image, 'syncthing/syncthing:1.27');
    await devxPodsAdmitted();
  });

  test('the API server holds the webhook configurations webhookConfigurations() defines for the release', async () => {
    const want = webhookConfigurations({ service: { namespace: NS, name: 'devx', port: 443 }, caBundlePem: '', excludedNamespaces: [NS] });
    for (const cfg of [want.mutating, want.validating]) {
      const got = await getJson(cp, [cfg.kind.toLowerCase(), cfg.metadata.name]);
      const webhooks = structuredClone(cfg.webhooks) as any[];
      for (const w of webhooks) {
        delete w.clientConfig.caBundle;
        // The one default the API server adds: a webhook without an objectSelector matches every object.
        w.objectSelector ??= {};
      }
      assert.deepEqual(got.webhooks, webhooks, `${cfg.kind} as stored`);
    }
  });

  test('with devx not answering, only labelled objects are refused: everything else is admitted as usual', async () => {
    await cp.createNamespace('apps', { 'dev.x/policy': 'default' });
    const deployment = (name: string, labels: Record<string, string> = {}): string =>
      JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels }, spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'example.com/c:1' }] } } } });
    await kubectlOk(['apply', '-f', '-'], { namespace: 'apps', input: deployment('plain') });
    await kubectlOk(['scale', 'deploy', 'plain', '--replicas=2'], { namespace: 'apps' });
    const refused = await cp.kubectl(['apply', '-f', '-'], { namespace: 'apps', input: deployment('dev', { 'dev.x/enabled': 'true' }) });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /failed calling webhook "(workloads|validate)\.dev\.x"/);
  });

  test('helm upgrade changes what it templates and keeps the caBundle devx (or cainjector) wrote', async () => {
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
    const cfg = await getJson(cp, ['mutatingwebhookconfiguration', 'devx']);
    const patch = cfg.webhooks.map((_w: unknown, i: number) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: ca }));
    await kubectlOk(['patch', 'mutatingwebhookconfiguration', 'devx', '--type=json', '-p', JSON.stringify(patch)]);
    await helmOk(['upgrade', 'devx', CHART_DIR, '--namespace', NS, '--reuse-values', '--set', 'webhook.timeoutSeconds=7']);
    const upgraded = await getJson(cp, ['mutatingwebhookconfiguration', 'devx']);
    for (const w of upgraded.webhooks) {
      assert.equal(w.timeoutSeconds, 7);
      assert.equal(w.clientConfig.caBundle, ca, `${w.name}: the upgrade must not reset the caBundle`);
    }
  });

  test('helm uninstall leaves nothing behind but the CRD (Helm never deletes crds/; documented)', async () => {
    const before = await everythingLabelled('app.kubernetes.io/instance=devx');
    const kinds = ['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'Deployment', 'Service', 'ServiceAccount', 'DevPolicy', 'PodDisruptionBudget'];
    for (const kind of kinds) {
      assert.ok(before.some((o) => o.startsWith(`${kind}/`)), `${kind} installed (so its absence afterwards means something)`);
    }
    await helmOk(['uninstall', 'devx', '--namespace', NS, '--wait', '--timeout=60s']);
    await eventually('the release’s pods gone', async () => (await getJson(cp, ['pods'], NS)).items.length === 0, 60_000);
    assert.deepEqual(await everythingLabelled('app.kubernetes.io/instance=devx'), []);
    assert.deepEqual(await everythingLabelled('app.kubernetes.io/name=devx'), ['CustomResourceDefinition//devpolicies.dev.x']);
    await webhookConfigsGone();
    const secrets = await getJson(cp, ['secrets'], NS);
    assert.deepEqual(secrets.items.map((s: any) => s.metadata.name), [], 'no Secret left in the release namespace (Helm’s release records included)');
  });
});
