// devx's admission webhook configurations (DESIGN §7): one pure function builds them, so the server (registering
// itself with a URL and its own CA), the Helm chart (a Service reference) and the tests share one definition; and
// registration is a server-side apply, so running it again changes nothing and a rotated CA simply replaces the
// caBundle.
//
// Failure policy — the rule is "with devx down, nothing outside dev mode is affected":
// - The validating webhook sees only objects that carry one of devx's marks (matchConditions, evaluated by the API
//   server), so it too may fail closed.
// - Every mutating webhook that may fail closed carries objectSelector `dev.x/enabled=true`. The API server matches an
//   objectSelector against the old and the new object, so an UPDATE that adds or removes the label is still sent,
//   while objects that never carry the label never reach devx. Those get `Fail`: a workload in (or entering, or
//   leaving) dev mode must not be admitted half-done, e.g. with replicas back at 3 but the dev template still in.
// - The scale subresource is the exception: a Scale object carries no labels, so no objectSelector can tell a dev
//   workload from any other. Its webhook matches every Deployment/StatefulSet scale in a dev-enabled namespace and
//   therefore uses `Ignore`; a scale that slips through while devx is down is repaired by the reconciler.
import type { V1MutatingWebhook, V1RuleWithOperations, V1ValidatingWebhook } from '@kubernetes/client-node';
import { LABEL_ENABLED, LABEL_POLICY } from '../core/names.ts';
import type { KubeConnection } from './kubeconfig.ts';
import { applyObject } from './apply.ts';
import { KubeApiError, kubeCall, kubeFind } from './rest.ts';

export const WEBHOOK_CONFIGURATION_NAME = 'devx';
/** Always excluded, whatever the caller passes: devx must never be able to block the control plane's own pods. */
export const ALWAYS_EXCLUDED_NAMESPACES = ['kube-system'];

export const PATHS = { mutatePods: '/mutate/pods', mutateWorkloads: '/mutate/workloads', validate: '/validate' } as const;

/** Where the API server reaches devx: a URL (devx outside the cluster, tests) or a Service (in-cluster, Helm). */
export type WebhookEndpoint = { url: string } | { service: { namespace: string; name: string; port?: number } };

export type WebhookConfigOptions = WebhookEndpoint & {
  /** PEM of the CA(s) that signed devx's serving certificate; several concatenated during a CA rotation. */
  caBundlePem: string;
  /** Namespaces devx never sees (its own namespace belongs here); kube-system is always added. */
  excludedNamespaces: string[];
  /** API server's wait for an answer (default 5 s; at most 30). */
  timeoutSeconds?: number;
};

export interface MutatingWebhookConfiguration {
  apiVersion: 'admissionregistration.k8s.io/v1';
  kind: 'MutatingWebhookConfiguration';
  metadata: { name: string; labels: Record<string, string> };
  webhooks: V1MutatingWebhook[];
}

export interface ValidatingWebhookConfiguration {
  apiVersion: 'admissionregistration.k8s.io/v1';
  kind: 'ValidatingWebhookConfiguration';
  metadata: { name: string; labels: Record<string, string> };
  webhooks: V1ValidatingWebhook[];
}

export interface WebhookConfigurations {
  mutating: MutatingWebhookConfiguration;
  validating: ValidatingWebhookConfiguration;
}

const CREATE_UPDATE = ['CREATE', 'UPDATE'];
const WORKLOAD_RULES: V1RuleWithOperations[] = [
  { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments', 'statefulsets', 'daemonsets'], operations: CREATE_UPDATE, scope: 'Namespaced' },
  { apiGroups: ['batch'], apiVersions: ['v1'], resources: ['jobs', 'cronjobs'], operations: CREATE_UPDATE, scope: 'Namespaced' },
];
const METADATA_LABELS = { 'app.kubernetes.io/name': 'devx', 'app.kubernetes.io/component': 'webhook' };

function clientConfig(opts: WebhookConfigOptions, path: string): V1MutatingWebhook['clientConfig'] {
  const caBundle = Buffer.from(opts.caBundlePem).toString('base64');
  if ('url' in opts) return { url: `${opts.url.replace(/\/+$/, '')}${path}`, caBundle };
  const { namespace, name, port } = opts.service;
  return { service: { namespace, name, path, port: port ?? 443 }, caBundle };
}

function excluded(opts: WebhookConfigOptions): string[] {
  return [...new Set([...ALWAYS_EXCLUDED_NAMESPACES, ...opts.excludedNamespaces])].sort();
}

/** Namespaces that bound a DevPolicy, minus the excluded ones. */
function devNamespaces(opts: WebhookConfigOptions): V1MutatingWebhook['namespaceSelector'] {
  return {
    matchExpressions: [
      { key: LABEL_POLICY, operator: 'Exists' },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded(opts) },
    ],
  };
}

/** Every namespace but the excluded ones: the validating webhook must see a dev label where no policy allows it. */
function allButExcluded(opts: WebhookConfigOptions): V1MutatingWebhook['namespaceSelector'] {
  return { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded(opts) }] };
}

const devObjects = { matchLabels: { [LABEL_ENABLED]: 'true' } };

function common(opts: WebhookConfigOptions): Pick<V1MutatingWebhook, 'sideEffects' | 'admissionReviewVersions' | 'timeoutSeconds' | 'matchPolicy'> {
  return { sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: opts.timeoutSeconds ?? 5, matchPolicy: 'Equivalent' };
}

function mutatingWebhooks(opts: WebhookConfigOptions): V1MutatingWebhook[] {
  const base = { ...common(opts), reinvocationPolicy: 'IfNeeded' };
  return [
    {
      ...base,
      // Pod CREATE of a labelled pod: the injection itself.
      name: 'pods.dev.x',
      clientConfig: clientConfig(opts, PATHS.mutatePods),
      rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'], scope: 'Namespaced' }],
      namespaceSelector: devNamespaces(opts),
      objectSelector: devObjects,
      failurePolicy: 'Fail',
    },
    {
      ...base,
      // Workloads entering, in, or leaving dev mode (old or new object labelled), and bare pods labelled later.
      name: 'workloads.dev.x',
      clientConfig: clientConfig(opts, PATHS.mutateWorkloads),
      rules: [
        ...WORKLOAD_RULES,
        { apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['UPDATE'], scope: 'Namespaced' },
      ],
      namespaceSelector: devNamespaces(opts),
      objectSelector: devObjects,
      failurePolicy: 'Fail',
    },
    {
      ...base,
      // `kubectl scale` / HPA on a workload in dev mode: answered with a warning only (the reconciler records the count
      // and pins the replicas back to 1). Unselectable by label (see the file comment), hence Ignore.
      name: 'scale.dev.x',
      clientConfig: clientConfig(opts, PATHS.mutateWorkloads),
      rules: [{ apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments/scale', 'statefulsets/scale'], operations: ['UPDATE'], scope: 'Namespaced' }],
      namespaceSelector: devNamespaces(opts),
      // Explicitly empty (every object): what the API server stores anyway, so applied and stored objects are equal.
      objectSelector: {},
      failurePolicy: 'Ignore',
    },
  ];
}

/** CEL: an object (or what it was) carries a mark of devx's — a `dev.x/` label or annotation, devx's managed-by
 * label, or the dev label on a pod template. Only those reach the validating webhook (DESIGN §10). */
function marked(o: 'object' | 'oldObject'): string {
  const meta = `${o}.metadata`;
  const template = (path: string): string => `(has(${o}.spec) && has(${o}.spec.${path}.metadata) && has(${o}.spec.${path}.metadata.labels) && 'dev.x/enabled' in ${o}.spec.${path}.metadata.labels)`;
  return [
    `(has(${meta}.annotations) && ${meta}.annotations.exists(k, k.startsWith('dev.x/')))`,
    `(has(${meta}.labels) && ${meta}.labels.exists(k, k.startsWith('dev.x/') || (k == 'app.kubernetes.io/managed-by' && ${meta}.labels[k] == 'devx')))`,
    `(has(${o}.spec) && has(${o}.spec.template) && ${template('template')})`,
    `(has(${o}.spec) && has(${o}.spec.jobTemplate) && has(${o}.spec.jobTemplate.spec) && has(${o}.spec.jobTemplate.spec.template) && ${template('jobTemplate.spec.template')})`,
  ].join(' || ');
}

export const DEVX_MARKED_CONDITION = `(object != null && (${marked('object')})) || (oldObject != null && (${marked('oldObject')}))`;

function validatingWebhooks(opts: WebhookConfigOptions): V1ValidatingWebhook[] {
  return [
    {
      ...common(opts),
      // The policy's denials, and devx's records: who may write a `dev.x/` record, the dev label on pod templates,
      // devx's sync Secrets. Every kind where such a mark can appear, in every namespace (a forged record must be
      // refused before a namespace is ever opted in); only objects that carry a mark are sent (matchConditions), so
      // `Fail` affects nothing outside dev mode.
      name: 'validate.dev.x',
      clientConfig: clientConfig(opts, PATHS.validate),
      rules: [
        ...WORKLOAD_RULES,
        { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['replicasets'], operations: CREATE_UPDATE, scope: 'Namespaced' },
        { apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'replicationcontrollers', 'secrets'], operations: CREATE_UPDATE, scope: 'Namespaced' },
      ],
      namespaceSelector: allButExcluded(opts),
      objectSelector: {},
      matchConditions: [{ name: 'carries-devx-marks', expression: DEVX_MARKED_CONDITION }],
      failurePolicy: 'Fail',
    },
  ];
}

/** Both webhook configurations as plain objects (for the API server, the Helm chart and tests). */
export function webhookConfigurations(opts: WebhookConfigOptions): WebhookConfigurations {
  const metadata = { name: WEBHOOK_CONFIGURATION_NAME, labels: METADATA_LABELS };
  return {
    mutating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata,
      webhooks: mutatingWebhooks(opts),
    },
    validating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata,
      webhooks: validatingWebhooks(opts),
    },
  };
}

/** Creates or updates both configurations (server-side apply; idempotent) and returns them as stored. */
export async function registerWebhooks(kc: KubeConnection, opts: WebhookConfigOptions): Promise<WebhookConfigurations> {
  const wanted = webhookConfigurations(opts);
  const [mutating, validating] = await Promise.all([
    applyObject(kc, wanted.mutating, { fieldManager: 'devx-webhook' }),
    applyObject(kc, wanted.validating, { fieldManager: 'devx-webhook' }),
  ]);
  return { mutating, validating };
}

const CONFIGURATION_PATHS = [
  '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
  '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
];

interface StoredConfiguration {
  metadata?: { resourceVersion?: string };
  webhooks?: Array<{ name?: string; clientConfig?: { caBundle?: string } }>;
}

type JsonPatchOp = { op: 'test' | 'replace' | 'add'; path: string; value: unknown };

/** The JSON patch that sets each webhook's caBundle to `desired(current)`, guarded by the resourceVersion (a
 * concurrent writer makes the `test` fail instead of being overwritten), plus the bundles that result. */
function caBundleOps(config: StoredConfiguration, desired: (currentPem: string) => string): { ops: JsonPatchOp[]; bundles: string[] } {
  const ops: JsonPatchOp[] = [];
  const bundles: string[] = [];
  (config.webhooks ?? []).forEach((webhook, i) => {
    const encoded = webhook.clientConfig?.caBundle;
    const current = encoded ? Buffer.from(encoded, 'base64').toString('utf8') : '';
    const next = desired(current);
    bundles.push(next);
    if (next === current) return;
    ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: webhook.name });
    ops.push({ op: encoded === undefined ? 'add' : 'replace', path: `/webhooks/${i}/clientConfig/caBundle`, value: Buffer.from(next).toString('base64') });
  });
  if (ops.length > 0) ops.unshift({ op: 'test', path: '/metadata/resourceVersion', value: config.metadata?.resourceVersion });
  return { ops, bundles };
}

/** A changed object between our read and our patch: 409 Conflict, or 422 from the failed `test` operation. */
function raced(err: unknown): boolean {
  return err instanceof KubeApiError && (err.status === 409 || err.status === 422);
}

/** Sets the caBundle of one configuration; the bundles it now holds, or undefined when it does not exist. */
async function patchOne(kc: KubeConnection, path: string, desired: (currentPem: string) => string): Promise<string[] | undefined> {
  for (let attempt = 1; ; attempt++) {
    const config = (await kubeFind(kc, { method: 'GET', path })) as StoredConfiguration | undefined;
    if (config === undefined) return undefined;
    const { ops, bundles } = caBundleOps(config, desired);
    if (ops.length === 0) return bundles;
    try {
      const body = { method: 'PATCH' as const, path: `${path}?fieldManager=devx-webhook`, body: ops, contentType: 'application/json-patch+json' };
      await kubeCall(kc, body);
      return bundles;
    } catch (err) {
      if (!raced(err) || attempt >= 5) throw err;
    }
  }
}

/**
 * Rewrites the caBundle of every webhook in devx's own configurations (`MutatingWebhookConfiguration devx`,
 * `ValidatingWebhookConfiguration devx`) to `desired(current)` — nothing else in them is touched — and returns the
 * distinct bundles now in place, concatenated (a certificate may repeat), or undefined when neither configuration
 * exists yet.
 * For self-managed TLS during a CA rotation, `desired` appends the new CA, so old and new overlap.
 *
 * RBAC: get and patch on both configuration kinds, resourceNames `devx`.
 */
export async function patchCaBundles(kc: KubeConnection, desired: (currentPem: string) => string): Promise<string | undefined> {
  const results = await Promise.all(CONFIGURATION_PATHS.map((p) => patchOne(kc, `${p}/${WEBHOOK_CONFIGURATION_NAME}`, desired)));
  const bundles = results.flatMap((r) => r ?? []);
  if (results.every((r) => r === undefined)) return undefined;
  return [...new Set(bundles)].join('');
}
