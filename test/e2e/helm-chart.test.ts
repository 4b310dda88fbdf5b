// charts/devx through the real helm (built from Go modules): lint, render with the defaults and every scenario in
// ci/, the webhook configurations equal to what webhookConfigurations() builds for the release, the three TLS modes,
// typos refused by values.schema.json, and deploy/devx.yaml current and deterministic. No cluster here; installing
// is test/e2e/helm-install.test.ts, RBAC test/e2e/helm-rbac.test.ts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { admissionPolicies, admissionPolicyObjects } from '../../src/k8s/admission-policies.ts';
import { webhookConfigurations } from '../../src/k8s/register-webhooks.ts';
import { CHART_DIR, GENERATE_COMMAND } from '../../tools/chart-sources.ts';
import { DEPLOY_FILE, kubeVersionFlag, renderDeploy } from '../../tools/render-deploy.ts';
import { CI_DIR, find, helm, renderChart, scenarioFiles, type K8sObject } from './harness/helm.ts';
import { requireRealParts } from './harness/real-parts.ts';

const NS = 'devx-system';
const defaults = parse(fs.readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, any>;

/** Values of a scenario over the defaults (maps merged, everything else replaced), as helm coalesces them. */
function valuesOf(file: string | undefined): Record<string, any> {
  const merge = (a: any, b: any): any => {
    if (!b || typeof b !== 'object' || Array.isArray(b) || !a || typeof a !== 'object' || Array.isArray(a)) return b ?? a;
    return Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, merge(a[k], b[k])]));
  };
  return file ? merge(defaults, parse(fs.readFileSync(path.join(CI_DIR, file), 'utf8'))) : defaults;
}

const SCENARIOS: Array<string | undefined> = [undefined, ...scenarioFiles()];
const label = (s: string | undefined): string => s ?? 'default values';

function deployment(objects: K8sObject[]): K8sObject {
  const d = find(objects, 'Deployment');
  assert.ok(d, 'a Deployment');
  return d;
}

function container(objects: K8sObject[]): any {
  return deployment(objects).spec.template.spec.containers[0];
}

test('helm lint --strict passes with the defaults and with every scenario in ci/', async () => {
  assert.ok(scenarioFiles().length >= 5, 'scenario values files in charts/devx/ci');
  for (const s of SCENARIOS) {
    const r = await helm(['lint', CHART_DIR, '--strict', kubeVersionFlag(), ...(s ? ['-f', path.join(CI_DIR, s)] : [])]);
    assert.equal(r.code, 0, `helm lint (${label(s)}):\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

describe('helm template', () => {
  for (const s of SCENARIOS) {
    test(`renders (${label(s)}): every object complete, in the release namespace, labelled, nothing left unrendered`, async () => {
      const { text, objects } = await renderChart({ valuesFiles: s ? [s] : [] });
      assert.doesNotMatch(text, /<no value>|HELM_[A-Z_]+/);
      const clusterScoped = new Set([
        'ClusterRole',
        'ClusterRoleBinding',
        'MutatingWebhookConfiguration',
        'ValidatingWebhookConfiguration',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
        'DevPolicy',
        'CustomResourceDefinition',
      ]);
      for (const o of objects) {
        assert.ok(o.apiVersion && o.kind && o.metadata?.name, `incomplete object: ${JSON.stringify(o).slice(0, 200)}`);
        assert.equal(o.metadata.namespace, clusterScoped.has(o.kind) ? undefined : NS, `${o.kind}/${o.metadata.name} namespace`);
        assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm', `${o.kind}/${o.metadata.name} release labels`);
      }
      for (const kind of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Service', 'Deployment', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']) {
        assert.ok(find(objects, kind), `${kind} rendered`);
      }
    });

    test(`webhook configurations are webhookConfigurations() for this release (${label(s)})`, async () => {
      const values = valuesOf(s);
      const { objects } = await renderChart({ valuesFiles: s ? [s] : [] });
      const service = find(objects, 'Service');
      assert.ok(service);
      const caBundlePem = values.tls.mode === 'secret' ? Buffer.from(values.tls.secret.caBundle, 'base64').toString('utf8') : '';
      const expected = webhookConfigurations({
        service: { namespace: NS, name: service.metadata.name, port: service.spec.ports[0].port },
        caBundlePem,
        excludedNamespaces: [NS, ...values.webhook.excludedNamespaces],
        timeoutSeconds: values.webhook.timeoutSeconds,
      });
      for (const want of [expected.mutating, expected.validating]) {
        const got = find(objects, want.kind, want.metadata.name);
        assert.ok(got, `${want.kind} ${want.metadata.name}`);
        // Self-managed and cert-manager leave the caBundle to devx or cainjector: the chart must not state one.
        const webhooks = structuredClone(want.webhooks) as any[];
        if (!caBundlePem) for (const w of webhooks) delete w.clientConfig.caBundle;
        assert.deepEqual(got.webhooks, webhooks);
        for (const [k, v] of Object.entries(want.metadata.labels)) assert.equal(got.metadata.labels?.[k], v, `label ${k}`);
      }
    });

    test(`admission policies are admissionPolicies() for this release (${label(s)})`, async () => {
      const { objects } = await renderChart({ valuesFiles: s ? [s] : [] });
      const serviceAccount = find(objects, 'ServiceAccount')?.metadata.name ?? '';
      const fullname = find(objects, 'Service')?.metadata.name ?? '';
      const expected = admissionPolicyObjects(admissionPolicies({ namespace: NS, serviceAccount, name: fullname }));
      for (const want of expected) {
        const got = find(objects, want.kind, want.metadata.name);
        assert.ok(got, `${want.kind} ${want.metadata.name}`);
        const { labels, ...metadata } = got.metadata;
        assert.deepEqual({ ...got, metadata }, { ...want, metadata: { name: want.metadata.name } });
        for (const [k, v] of Object.entries(want.metadata.labels)) assert.equal(labels?.[k], v, `label ${k}`);
      }
      const rendered = objects.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy')).length;
      assert.equal(rendered, expected.filter((o) => o.kind !== 'ClusterRole').length, 'no other admission policy');
    });
  }
});

test('serviceAccountPolicy.enabled=false drops only the ServiceAccount’s policies; opting in still needs "use"', async () => {
  const { objects } = await renderChart({ set: ['serviceAccountPolicy.enabled=false'] });
  const names = objects.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy')).map((o) => `${o.kind}/${o.metadata.name}`);
  assert.deepEqual(names.sort(), ['ValidatingAdmissionPolicy/devx-policy-use', 'ValidatingAdmissionPolicyBinding/devx-policy-use']);
  assert.ok(find(objects, 'ClusterRole', 'devx-policy-user'));
});

describe('TLS modes', () => {
  test('self-managed (default): no certificate mounted or passed, no caBundle, no cert-manager objects', async () => {
    const { objects } = await renderChart();
    const c = container(objects);
    assert.equal(c.args.some((a: string) => a.startsWith('--tls-')), false);
    assert.equal(deployment(objects).spec.template.spec.volumes.some((v: any) => v.name === 'tls'), false);
    for (const w of find(objects, 'MutatingWebhookConfiguration')?.webhooks ?? []) assert.equal(w.clientConfig.caBundle, undefined);
    assert.equal(find(objects, 'MutatingWebhookConfiguration')?.metadata.annotations, undefined);
    assert.equal(find(objects, 'Certificate'), undefined);
    assert.equal(find(objects, 'Issuer'), undefined);
    assert.ok(c.args.includes(`--namespace=${NS}`), 'devx keeps its CA Secret in the release namespace');
    assert.ok(c.args.includes(`--service-name=${find(objects, 'Service')?.metadata.name}`), 'the serving certificate names the Service');
  });

  test('cert-manager: a Certificate for the Service, its Secret mounted and passed, inject-ca-from names it', async () => {
    const { objects } = await renderChart({ valuesFiles: ['cert-manager-values.yaml'] });
    const cert = find(objects, 'Certificate');
    assert.ok(cert);
    const svc = find(objects, 'Service')?.metadata.name;
    assert.ok(cert.spec.dnsNames.includes(`${svc}.${NS}.svc`));
    const issuer = find(objects, 'Issuer');
    assert.deepEqual(issuer?.spec, { selfSigned: {} });
    assert.equal(cert.spec.issuerRef.name, issuer?.metadata.name);
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const cfg = find(objects, kind);
      assert.equal(cfg?.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${NS}/${cert.metadata.name}`);
      for (const w of cfg?.webhooks ?? []) assert.equal(w.clientConfig.caBundle, undefined, 'cainjector fills it');
    }
    assertFilesMounted(objects, cert.spec.secretName);
  });

  test('cert-manager with the platform’s issuer: no chart Issuer, the given issuerRef used', async () => {
    const { objects } = await renderChart({ valuesFiles: ['cert-manager-issuer-values.yaml'] });
    assert.equal(find(objects, 'Issuer'), undefined);
    assert.deepEqual(find(objects, 'Certificate')?.spec.issuerRef, { name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
  });

  test('a user Secret: mounted and passed, its CA is the caBundle of every webhook', async () => {
    const values = valuesOf('user-secret-values.yaml');
    const { objects } = await renderChart({ valuesFiles: ['user-secret-values.yaml'] });
    assertFilesMounted(objects, values.tls.secret.name);
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      for (const w of find(objects, kind)?.webhooks ?? []) assert.equal(w.clientConfig.caBundle, values.tls.secret.caBundle);
    }
    assert.equal(find(objects, 'Certificate'), undefined);
  });
});

function assertFilesMounted(objects: K8sObject[], secretName: string): void {
  const spec = deployment(objects).spec.template.spec;
  const volume = spec.volumes.find((v: any) => v.name === 'tls');
  assert.deepEqual(volume?.secret, { secretName });
  const mount = spec.containers[0].volumeMounts.find((m: any) => m.name === 'tls');
  assert.equal(mount?.readOnly, true);
  assert.equal(mount?.subPath, undefined, 'a directory mount, so renewed files appear without a restart');
  assert.ok(spec.containers[0].args.includes(`--tls-cert-file=${mount.mountPath}/tls.crt`));
  assert.ok(spec.containers[0].args.includes(`--tls-key-file=${mount.mountPath}/tls.key`));
}

describe('RBAC follows the mode: only what the rendered configuration makes devx do', () => {
  const webhookRule = (objects: K8sObject[]): unknown =>
    find(objects, 'ClusterRole', 'devx')?.rules.find((r: any) => r.apiGroups.includes('admissionregistration.k8s.io'));

  test('self-managed TLS may get and patch its own two webhook configurations, by name, and nothing else there', async () => {
    const { objects } = await renderChart();
    assert.deepEqual(webhookRule(objects), { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'], resourceNames: ['devx'], verbs: ['get', 'patch'] });
  });

  test('with cert-manager or a user Secret devx never touches the webhook configurations', async () => {
    for (const file of ['cert-manager-values.yaml', 'user-secret-values.yaml']) {
      assert.equal(webhookRule((await renderChart({ valuesFiles: [file] })).objects), undefined, file);
    }
  });

  test('the Lease Role is bound in the release namespace, limited to the Lease by name, and absent without leader election', async () => {
    const { objects } = await renderChart();
    const role = find(objects, 'Role');
    assert.equal(role?.metadata.namespace, NS);
    const named = role?.rules.find((r: any) => r.resourceNames);
    assert.deepEqual(named, { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['devx-reconciler'], verbs: ['get', 'update'] });
    assert.equal(find(objects, 'RoleBinding')?.subjects[0].name, find(objects, 'ServiceAccount')?.metadata.name);
    const single = (await renderChart({ valuesFiles: ['single-replica-values.yaml'] })).objects;
    assert.equal(find(single, 'Role'), undefined);
    assert.equal(find(single, 'RoleBinding'), undefined);
  });
});

test('the Deployment: 2 replicas spread across nodes, PDB, probes, restricted securityContext, read-only root, POD_NAME', async () => {
  const { objects } = await renderChart();
  const d = deployment(objects);
  assert.equal(d.spec.replicas, 2);
  const pod = d.spec.template.spec;
  assert.deepEqual(pod.topologySpreadConstraints.map((t: any) => t.topologyKey), ['kubernetes.io/hostname']);
  assert.deepEqual(find(objects, 'PodDisruptionBudget')?.spec.selector.matchLabels, d.spec.selector.matchLabels);
  const c = pod.containers[0];
  assert.deepEqual([c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path], ['/healthz', '/readyz']);
  // The probes on a plain-HTTP port of their own, the one devx is told to serve them on: answered through a flood.
  for (const probe of [c.livenessProbe, c.readinessProbe]) assert.deepEqual([probe.httpGet.port, probe.httpGet.scheme], ['probes', 'HTTP']);
  const probePort = c.ports.find((p: any) => p.name === 'probes')?.containerPort;
  assert.ok(probePort !== 8443 && c.args.includes(`--probe-port=${probePort}`), `--probe-port=${probePort} in ${c.args.join(' ')}`);
  assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
  assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
  assert.deepEqual(c.env.find((e: any) => e.name === 'POD_NAME')?.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
  assert.equal(pod.serviceAccountName, find(objects, 'ServiceAccount')?.metadata.name);
  const svc = find(objects, 'Service');
  assert.deepEqual(svc?.spec.ports, [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
  assert.equal(c.ports.find((p: any) => p.name === 'https')?.containerPort, 8443);
});

test('one replica: no Lease (--no-leader-election) and no PodDisruptionBudget; optional objects only when asked for', async () => {
  const single = (await renderChart({ valuesFiles: ['single-replica-values.yaml'] })).objects;
  assert.ok(container(single).args.includes('--no-leader-election'));
  assert.equal(find(single, 'PodDisruptionBudget'), undefined);
  const plain = (await renderChart()).objects;
  for (const kind of ['DevPolicy', 'ServiceMonitor', 'NetworkPolicy', 'Certificate']) assert.equal(find(plain, kind), undefined, kind);
  const monitoring = (await renderChart({ valuesFiles: ['monitoring-values.yaml'] })).objects;
  assert.equal(find(monitoring, 'ServiceMonitor')?.spec.endpoints[0].path, '/metrics');
  assert.deepEqual(find(monitoring, 'NetworkPolicy')?.spec.ingress, [{ ports: [{ port: 8443, protocol: 'TCP' }] }, { ports: [{ port: 8081, protocol: 'TCP' }] }]);
  const policy = find((await renderChart({ valuesFiles: ['default-policy-values.yaml'] })).objects, 'DevPolicy');
  assert.equal(policy?.spec.maxDuration, '8h');
});

test('values.schema.json: a typo or a wrong value fails the install with the path of the mistake', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--set', 'replicaCont=3'], /additional properties 'replicaCont' not allowed/],
    [['--set', 'tls.mod=secret'], /additional properties 'mod' not allowed/],
    [['--set', 'tls.mode=selfmanaged'], /\/tls\/mode/],
    [['--set', 'devPolicy.spec.maxWorkload=1'], /additional properties 'maxWorkload' not allowed/],
    [['--set', 'webhook.timeoutSeconds=60'], /\/webhook\/timeoutSeconds/],
    [['--set', 'tls.mode=secret'], /\/tls\/secret/],
    [['--set', 'leaderElection.enabled=false'], /\/replicaCount/],
  ];
  for (const [args, message] of cases) {
    const r = await helm(['template', 'devx', CHART_DIR, '--namespace', NS, kubeVersionFlag(), ...args]);
    assert.notEqual(r.code, 0, `${args.join(' ')} must fail`);
    assert.match(r.stderr, message, args.join(' '));
  }
});

test(`deploy/devx.yaml is the default rendering, and rendering is deterministic (${GENERATE_COMMAND} fixes a drift)`, () => {
  const helmBin = requireRealParts(['helm']).helm;
  const first = renderDeploy(helmBin);
  assert.equal(renderDeploy(helmBin), first, 'two renderings differ: something random in the templates');
  assert.equal(fs.readFileSync(DEPLOY_FILE, 'utf8'), first, `deploy/devx.yaml is stale: run ${GENERATE_COMMAND}`);
  assert.match(first, /kind: CustomResourceDefinition/, 'the plain manifests include the CRD');
});
