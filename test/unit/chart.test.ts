// charts/devx without helm: its generated files are current, every value is documented and closed by the schema,
// versions agree, and every RBAC rule says why. Rendering, linting and installing are in test/e2e/helm-*.test.ts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { admissionPolicies } from '../../src/k8s/admission-policies.ts';
import { PATHS, webhookConfigurations } from '../../src/k8s/register-webhooks.ts';
import { VERSION } from '../../src/version.ts';
import {
  CHART_DIR,
  CHART_FILES,
  GENERATE_COMMAND,
  REPO,
  closedSchema,
  renderAdmissionPoliciesTemplate,
  renderChartCrd,
  renderReadme,
  renderValuesSchema,
  renderWebhooksTemplate,
  valueDocs,
} from '../../tools/chart-sources.ts';

const stale = (file: string): string => `${path.relative(REPO, file)} is stale: run ${GENERATE_COMMAND}`;
const read = (file: string): string => fs.readFileSync(file, 'utf8');

test('generated chart files are current: webhooks and admission-policies templates, CRD copy, values schema, README values table', () => {
  assert.equal(read(CHART_FILES.webhooks), renderWebhooksTemplate(), stale(CHART_FILES.webhooks));
  assert.equal(read(CHART_FILES.admissionPolicies), renderAdmissionPoliciesTemplate(), stale(CHART_FILES.admissionPolicies));
  assert.equal(read(CHART_FILES.crd), renderChartCrd(), stale(CHART_FILES.crd));
  assert.equal(read(CHART_FILES.schema), renderValuesSchema(), stale(CHART_FILES.schema));
  assert.equal(read(CHART_FILES.readme), renderReadme(), stale(CHART_FILES.readme));
});

test('the webhooks template is built from webhookConfigurations(): a change there changes the template', () => {
  const template = renderWebhooksTemplate();
  assert.match(template, /name: pods\.dev\.x[\s\S]*?failurePolicy: Fail/);
  assert.match(template, /name: scale\.dev\.x[\s\S]*?failurePolicy: Ignore/);
  for (const p of Object.values(PATHS)) assert.ok(template.includes(`path: ${p}`), `path ${p} in the template`);
  assert.equal(template.match(/^kind: (Mutating|Validating)WebhookConfiguration$/gm)?.length, 2);
  // The same generator over a function that decides differently yields a different template.
  const changed = renderWebhooksTemplate((opts) => {
    const c = webhookConfigurations(opts);
    const pods = c.mutating.webhooks.find((w) => w.name === 'pods.dev.x');
    if (pods) pods.failurePolicy = 'Ignore';
    return c;
  });
  assert.match(changed, /name: pods\.dev\.x[\s\S]*?failurePolicy: Ignore/);
  assert.notEqual(changed, template);
});

test('the admission-policies template is built from admissionPolicies(), the ServiceAccount’s policies behind a value', () => {
  const template = renderAdmissionPoliciesTemplate();
  assert.equal(template.match(/^kind: ValidatingAdmissionPolicy$/gm)?.length, 4);
  assert.equal(template.match(/^kind: ValidatingAdmissionPolicyBinding$/gm)?.length, 4);
  assert.match(template, /authorizer\.group\('dev\.x'\)\.resource\('devpolicies'\)/);
  assert.ok(template.includes("request.userInfo.username == 'system:serviceaccount:{{ .Release.Namespace }}:{{ include \"devx.serviceAccountName\" . }}'"));
  // The namespace policy is always there; the ServiceAccount's only with serviceAccountPolicy.enabled.
  const [always, optional] = template.split('{{- if .Values.serviceAccountPolicy.enabled }}');
  assert.match(always ?? '', /name: \{\{ include "devx\.fullname" \. \}\}-policy-use$/m);
  assert.doesNotMatch(always ?? '', /-service-account/);
  assert.match(optional ?? '', /-service-account-pods/);
  // The same generator over a function that decides differently yields a different template.
  const changed = renderAdmissionPoliciesTemplate((opts) => {
    const p = admissionPolicies(opts);
    p.policyUse.binding.spec.validationActions = ['Warn'];
    return p;
  });
  assert.match(changed, /- Warn$/m);
  assert.notEqual(changed, template);
});

test('the CRD schema closes devPolicy.spec in values.schema.json (a misspelt field fails the install)', () => {
  const closed = closedSchema({ type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'string', default: 'x', 'x-kubernetes-int-or-string': true } } } } });
  assert.deepEqual(closed, { type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'string' } }, additionalProperties: false } }, additionalProperties: false });
  const schema = JSON.parse(read(CHART_FILES.schema));
  const spec = schema.properties.devPolicy.properties.spec;
  assert.equal(spec.additionalProperties, false);
  assert.equal(spec.properties.sidecar.additionalProperties, false);
  assert.deepEqual(spec.properties.kinds.items.enum, ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod']);
});

test('every value in values.yaml says why and gives an example', () => {
  const docs = valueDocs();
  assert.ok(docs.length > 30, `found ${docs.length} values`);
  const undocumented = docs.filter((d) => d.description.length < 15).map((d) => d.key);
  assert.deepEqual(undocumented, [], 'values without a description');
  const noExample = docs.filter((d) => !d.example).map((d) => d.key);
  assert.deepEqual(noExample, [], 'values without an `Example:` line');
  // An example must be valid YAML of the value itself, so it can be pasted.
  for (const d of docs) assert.doesNotThrow(() => parse(d.example ?? ''), `example of ${d.key}`);
});

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; additionalProperties?: unknown; items?: Schema };

/** Dotted paths of every property the schema declares, and of the objects it leaves open. */
function schemaPaths(s: Schema, prefix = ''): { declared: string[]; open: string[] } {
  const declared: string[] = [];
  const open: string[] = [];
  if (s.properties && s.additionalProperties !== false) open.push(prefix || '(root)');
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    const p = prefix ? `${prefix}.${k}` : k;
    declared.push(p);
    const sub = schemaPaths(v, p);
    declared.push(...sub.declared);
    open.push(...sub.open);
  }
  return { declared, open };
}

test('values.schema.json declares exactly the values of values.yaml, and closes every object it describes', () => {
  const schema = JSON.parse(read(CHART_FILES.schema)) as Schema;
  const { declared, open } = schemaPaths(schema);
  assert.deepEqual(open, [], 'objects with properties but without additionalProperties: false let typos through');
  const keys = valueDocs().map((d) => d.key);
  const missing = keys.filter((k) => !declared.includes(k));
  assert.deepEqual(missing, [], 'values the schema does not declare');
  // Helm passes `global` to every chart. Properties below a value (devPolicy.spec.*, resources.requests) describe it.
  const used = (p: string): boolean => keys.some((k) => k === p || k.startsWith(`${p}.`) || p.startsWith(`${k}.`));
  const unused = declared.filter((p) => p !== 'global' && !used(p));
  assert.deepEqual(unused, [], 'schema properties that are not values');
});

test('chart appVersion, package.json and the server agree on the version; the default image tag follows it', () => {
  const chart = parse(read(path.join(CHART_DIR, 'Chart.yaml'))) as { appVersion: string; version: string; kubeVersion: string };
  const pkg = JSON.parse(read(path.join(REPO, 'package.json'))) as { version: string };
  assert.equal(chart.appVersion, pkg.version);
  assert.equal(chart.appVersion, VERSION);
  const values = parse(read(CHART_FILES.values)) as { image: { tag: string } };
  assert.equal(values.image.tag, '', 'an empty tag means appVersion');
});

test('every RBAC rule is preceded by a comment that says why', () => {
  const lines = read(path.join(CHART_DIR, 'templates/rbac.yaml')).split('\n');
  const rules = lines.map((l, i) => ({ l, i })).filter(({ l }) => /^\s*- apiGroups:/.test(l));
  assert.ok(rules.length >= 6, `found ${rules.length} rules`);
  for (const { i } of rules) {
    const above = lines.slice(0, i).reverse().find((l) => l.trim() !== '' && !/^\s*\{\{-? (if|end|else)/.test(l.trim()));
    assert.match(above ?? '', /^\s*#/, `rule at templates/rbac.yaml:${i + 1} has no comment above it`);
  }
});

test('deploy/: the kustomization installs the namespace and the rendered chart, the namespace runs restricted', () => {
  const kustomization = parse(read(path.join(REPO, 'deploy/kustomization.yaml'))) as { resources: string[] };
  assert.deepEqual(kustomization.resources, ['namespace.yaml', 'devx.yaml']);
  const ns = parse(read(path.join(REPO, 'deploy/namespace.yaml'))) as { metadata: { name: string; labels: Record<string, string> } };
  assert.equal(ns.metadata.name, 'devx-system');
  assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  for (const r of kustomization.resources) assert.ok(fs.existsSync(path.join(REPO, 'deploy', r)), `deploy/${r}`);
});
