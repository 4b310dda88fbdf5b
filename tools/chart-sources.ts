// The parts of charts/devx that are generated from devx's own code, so the chart cannot drift from it:
// - templates/webhooks.yaml: webhookConfigurations() of src/k8s/register-webhooks.ts (the very function the server
//   registers itself with in the end-to-end tests), with its endpoint, CA bundle, namespaces and timeout templated;
// - templates/admission-policies.yaml: admissionPolicies() of src/k8s/admission-policies.ts (the ValidatingAdmission-
//   Policies the end-to-end tests check on a real API server), with the release's namespace, ServiceAccount and names
//   templated and the ServiceAccount's policies behind serviceAccountPolicy.enabled;
// - crds/devpolicies.dev.x.yaml: a copy of deploy/crds (generated from zod by `npm run generate`);
// - values.schema.json's devPolicy.spec: the DevPolicy CRD schema, closed (additionalProperties: false);
// - README.md's values table: the comments of values.yaml.
// `node tools/generate-chart.ts` writes them (and deploy/devx.yaml); test/unit/chart.test.ts fails on a drift.
import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, parse, parseDocument, stringify, type Document, type YAMLMap } from 'yaml';
import { admissionPolicies, admissionPolicyObjects } from '../src/k8s/admission-policies.ts';
import { webhookConfigurations } from '../src/k8s/register-webhooks.ts';

export const REPO = path.resolve(import.meta.dirname, '..');
export const CHART_DIR = path.join(REPO, 'charts/devx');
export const CHART_FILES = {
  webhooks: path.join(CHART_DIR, 'templates/webhooks.yaml'),
  admissionPolicies: path.join(CHART_DIR, 'templates/admission-policies.yaml'),
  crd: path.join(CHART_DIR, 'crds/devpolicies.dev.x.yaml'),
  schema: path.join(CHART_DIR, 'values.schema.json'),
  values: path.join(CHART_DIR, 'values.yaml'),
  readme: path.join(CHART_DIR, 'README.md'),
};
export const SOURCE_CRD = path.join(REPO, 'deploy/crds/devpolicies.dev.x.yaml');
export const GENERATE_COMMAND = 'node tools/generate-chart.ts';

// Stand-ins for what the template decides; each is replaced by template text after serialising.
const M = {
  namespace: 'HELM_RELEASE_NAMESPACE',
  service: 'HELM_SERVICE_NAME',
  excluded: 'HELM_EXCLUDED_NAMESPACES',
  timeout: 'HELM_TIMEOUT_SECONDS',
  caBundle: 'HELM_CA_BUNDLE',
  annotations: 'HELM_ANNOTATIONS',
  releaseLabels: 'HELM_RELEASE_LABELS',
  fullname: 'HELM_FULLNAME',
  serviceAccount: 'HELM_SERVICE_ACCOUNT',
};

type Webhook = { clientConfig: Record<string, unknown>; namespaceSelector?: { matchExpressions?: Array<{ operator: string; values?: unknown }> }; timeoutSeconds?: unknown };

// Reading order of a webhook's fields in the template (any field not named here follows, in the function's order).
const FIELD_ORDER = ['name', 'clientConfig', 'rules', 'namespaceSelector', 'objectSelector', 'failurePolicy', 'sideEffects', 'reinvocationPolicy', 'matchPolicy', 'timeoutSeconds', 'admissionReviewVersions'];

function templatedWebhook(w: Webhook): Record<string, unknown> {
  w.timeoutSeconds = M.timeout;
  w.clientConfig.caBundle = M.caBundle;
  for (const e of w.namespaceSelector?.matchExpressions ?? []) if (e.operator === 'NotIn') e.values = M.excluded;
  const entries = Object.entries(w);
  const rank = (k: string): number => (FIELD_ORDER.includes(k) ? FIELD_ORDER.indexOf(k) : FIELD_ORDER.length);
  return Object.fromEntries(entries.sort(([a], [b]) => rank(a) - rank(b)));
}

/** charts/devx/templates/webhooks.yaml as it must be (`build` is replaceable only to prove the template follows it). */
export function renderWebhooksTemplate(build: typeof webhookConfigurations = webhookConfigurations): string {
  const { mutating, validating } = build({
    service: { namespace: M.namespace, name: M.service, port: 443 },
    caBundlePem: '',
    excludedNamespaces: [M.namespace],
  });
  const docs = [mutating, validating].map((cfg) => {
    const copy = structuredClone(cfg) as unknown as { metadata: { name: string; labels: Record<string, string> }; webhooks: Webhook[] };
    const metadata = { name: copy.metadata.name, [M.annotations]: 'x', labels: { ...copy.metadata.labels, [M.releaseLabels]: 'x' } };
    return stringify({ ...copy, metadata, webhooks: copy.webhooks.map(templatedWebhook) }, { lineWidth: 0, aliasDuplicateObjects: false });
  });
  const body = templateNames(docs.join('---\n'))
    .replaceAll(`values: ${M.excluded}`, 'values: {{ include "devx.excludedNamespaces" . }}')
    .replaceAll(`timeoutSeconds: ${M.timeout}`, 'timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}')
    .replace(/^( *)caBundle: HELM_CA_BUNDLE$/gm, '$1{{- with include "devx.caBundle" . }}\n$1caBundle: {{ . }}\n$1{{- end }}')
    .replace(/^( *)HELM_ANNOTATIONS: x$/gm, '$1{{- with include "devx.webhookAnnotations" . }}\n$1annotations:\n$1  {{- . | nindent 4 }}\n$1{{- end }}');
  assertTemplated(body, 'webhookConfigurations()');
  return (
    `# Generated from webhookConfigurations() in src/k8s/register-webhooks.ts by \`${GENERATE_COMMAND}\`; do not edit.\n` +
    '# The same function registers devx in the end-to-end tests; only the endpoint (this release\'s Service), the CA\n' +
    '# bundle (per tls.mode), the excluded namespaces and the timeout come from the chart.\n' +
    body
  );
}

/** Template text for the markers of names and labels that every generated template shares. */
function templateNames(text: string): string {
  return text
    .replaceAll(M.namespace, '{{ .Release.Namespace }}')
    .replaceAll(M.service, '{{ include "devx.fullname" . }}')
    .replaceAll(M.fullname, '{{ include "devx.fullname" . }}')
    .replaceAll(M.serviceAccount, '{{ include "devx.serviceAccountName" . }}')
    .replace(/^( *)HELM_RELEASE_LABELS: x$/gm, '$1{{- include "devx.releaseLabels" . | nindent 4 }}');
}

function assertTemplated(body: string, fn: string): void {
  const leftover = Object.values(M).find((m) => body.includes(m));
  if (leftover) throw new Error(`${fn} changed shape: ${leftover} was not templated`);
}

/** charts/devx/templates/admission-policies.yaml as it must be (`build` is replaceable only to prove the template
 * follows it). */
export function renderAdmissionPoliciesTemplate(build: typeof admissionPolicies = admissionPolicies): string {
  const policies = build({ namespace: M.namespace, serviceAccount: M.serviceAccount, name: M.fullname });
  const doc = (o: { metadata: { name: string; labels: Record<string, string> } }): string => {
    const metadata = { ...o.metadata, labels: { ...o.metadata.labels, [M.releaseLabels]: 'x' } };
    return stringify({ ...o, metadata }, { lineWidth: 0, aliasDuplicateObjects: false });
  };
  const always = admissionPolicyObjects({ ...policies, serviceAccount: [] }).map(doc);
  const serviceAccount = policies.serviceAccount.flatMap((p) => [p.policy, p.binding]).map(doc);
  const body = templateNames(
    [
      always.join('---\n'),
      '{{- if .Values.serviceAccountPolicy.enabled }}\n',
      serviceAccount.map((d) => `---\n${d}`).join(''),
      '{{- end }}\n',
    ].join(''),
  );
  assertTemplated(body, 'admissionPolicies()');
  return (
    `# Generated from admissionPolicies() in src/k8s/admission-policies.ts by \`${GENERATE_COMMAND}\`; do not edit.\n` +
    '# ValidatingAdmissionPolicies the API server enforces itself (read that file for the why of every expression):\n' +
    '# setting dev.x/policy=NAME on a Namespace needs the verb "use" on devpolicies.dev.x/NAME (the ClusterRole\n' +
    '# <fullname>-policy-user grants it), and what devx\'s own ServiceAccount may write is narrowed to namespaces with\n' +
    '# dev.x/policy and objects with devx\'s marks. test/e2e/admission-policies.test.ts checks both on a real API server.\n' +
    body
  );
}

/** charts/devx/crds/devpolicies.dev.x.yaml: Helm installs crds/ before the templates (so the optional default
 * DevPolicy can be created in the same release) and never deletes it (so uninstalling keeps users' policies). */
export function renderChartCrd(): string {
  return fs.readFileSync(SOURCE_CRD, 'utf8');
}

type JsonSchema = { [key: string]: unknown; properties?: Record<string, JsonSchema>; items?: JsonSchema; additionalProperties?: unknown; anyOf?: JsonSchema[] };

/** The CRD's OpenAPI schema as a JSON schema for values: Kubernetes extensions and defaults dropped, objects closed. */
export function closedSchema(s: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'default') continue;
    out[k] = v;
  }
  if (s.properties) {
    out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, closedSchema(v)]));
    out.additionalProperties = false;
  } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    out.additionalProperties = closedSchema(s.additionalProperties as JsonSchema);
  }
  if (s.items) out.items = closedSchema(s.items);
  if (s.anyOf) out.anyOf = s.anyOf.map(closedSchema);
  return out;
}

function crdSpecSchema(): JsonSchema {
  const crd = parse(renderChartCrd()) as { spec: { versions: Array<{ schema: { openAPIV3Schema: JsonSchema } }> } };
  const spec = crd.spec.versions[0]?.schema.openAPIV3Schema.properties?.spec;
  if (!spec) throw new Error(`${SOURCE_CRD} has no spec schema`);
  return { ...closedSchema(spec), $comment: `generated from ${path.relative(REPO, SOURCE_CRD)} by ${GENERATE_COMMAND}` };
}

/** values.schema.json with devPolicy.spec replaced by the CRD's schema; everything else is written by hand. */
export function renderValuesSchema(current = fs.readFileSync(CHART_FILES.schema, 'utf8')): string {
  const schema = JSON.parse(current) as JsonSchema;
  const devPolicy = schema.properties?.devPolicy;
  if (!devPolicy?.properties) throw new Error('values.schema.json: properties.devPolicy.properties is missing');
  devPolicy.properties.spec = crdSpecSchema();
  return `${JSON.stringify(schema, null, 2)}\n`;
}

export interface ValueDoc {
  /** Dotted path, e.g. `tls.certManager.issuerRef`. */
  key: string;
  /** The comment above the key, without `#` and the Example line. */
  description: string;
  /** The `Example:` line, or undefined when there is none. */
  example: string | undefined;
  /** Compact YAML of the default; undefined for maps documented key by key. */
  default: string | undefined;
}

function commentOf(raw: string | null | undefined): string {
  // The first key's comment also holds the file header; a blank line separates the two.
  const text = (raw ?? '').split(/\n\s*\n/).pop() ?? '';
  return text
    .split('\n')
    .map((l) => l.replace(/^ ?/, ''))
    .join('\n')
    .trim();
}

/** A key's comment: above the key, or (for a map's first key) on the map node in the yaml library's model. */
function keyComment(map: YAMLMap, i: number): string {
  const pair = map.items[i];
  const raw = (pair && isScalar(pair.key) ? pair.key.commentBefore : undefined) ?? (i === 0 ? map.commentBefore : undefined);
  return commentOf(raw);
}

function keyName(prefix: string, key: unknown): string {
  return `${prefix}${isScalar(key) ? String(key.value) : String(key)}`;
}

function walk(map: YAMLMap, prefix: string, out: ValueDoc[]): void {
  for (const [i, pair] of map.items.entries()) {
    const key = keyName(prefix, pair.key);
    const comment = keyComment(map, i);
    const lines = comment.split('\n');
    const exampleLine = lines.find((l) => l.startsWith('Example:'));
    const description = lines.filter((l) => l !== exampleLine).join(' ').replace(/\s+/g, ' ').trim();
    // A map whose keys are documented one by one is a section, not a value; free-form maps ({} or a documented
    // default like resources) are values.
    if (isMap(pair.value) && pair.value.items.length > 0 && !comment) {
      walk(pair.value as YAMLMap, `${key}.`, out);
      continue;
    }
    const value: unknown = (pair.value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? null;
    out.push({ key, description, example: exampleLine?.replace(/^Example:\s*/, ''), default: JSON.stringify(value) });
  }
}

/** Every value of values.yaml with its documentation (a section map without a comment is walked into). */
export function valueDocs(text = fs.readFileSync(CHART_FILES.values, 'utf8')): ValueDoc[] {
  const doc: Document = parseDocument(text);
  if (!isMap(doc.contents)) throw new Error('values.yaml is not a map');
  const out: ValueDoc[] = [];
  walk(doc.contents, '', out);
  return out;
}

const TABLE_BEGIN = '<!-- values table: generated from values.yaml, do not edit -->';
const TABLE_END = '<!-- end of values table -->';

function cell(s: string): string {
  return s.replaceAll('|', '\\|');
}

export function renderValuesTable(docs = valueDocs()): string {
  const rows = docs.map((d) => `| \`${d.key}\` | \`${cell(d.default ?? '')}\` | ${cell(d.description)}${d.example ? `<br>Example: \`${cell(d.example)}\`` : ''} |`);
  return [TABLE_BEGIN, '', '| Value | Default | What it is for |', '|---|---|---|', ...rows, '', TABLE_END].join('\n');
}

/** README.md with its values table replaced. */
export function renderReadme(current = fs.readFileSync(CHART_FILES.readme, 'utf8')): string {
  const start = current.indexOf(TABLE_BEGIN);
  const end = current.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`charts/devx/README.md needs the markers ${TABLE_BEGIN} … ${TABLE_END}`);
  return current.slice(0, start) + renderValuesTable() + current.slice(end + TABLE_END.length);
}
