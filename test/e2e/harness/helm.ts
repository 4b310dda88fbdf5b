// The real helm (built from Go modules by `npm run real-parts`) against charts/devx, and what the chart tests need
// around it: rendering to objects, a kubeconfig that authenticates as the chart's ServiceAccount (a token from the
// TokenRequest API, like the pod would get), and pointing the chart's webhook configurations at a devx running on
// loopback (the API server here has no route to a Service: no kubelet, no pod network).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { CHART_DIR } from '../../../tools/chart-sources.ts';
import { helmEnv, kubeVersionFlag } from '../../../tools/render-deploy.ts';
import type { ControlPlane } from './control-plane.ts';
import { runToEnd, type RunResult } from './processes.ts';
import { requireRealParts } from './real-parts.ts';

export { CHART_DIR };
export const CI_DIR = path.join(CHART_DIR, 'ci');

export type HelmResult = RunResult;

export interface HelmOptions {
  /** Cluster to talk to (install, uninstall); rendering and linting need none. */
  kubeconfig?: string;
  timeoutMs?: number;
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-helm-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

/** Runs helm with its caches in a scratch directory (never the user's home) and returns whatever it printed. */
export function helm(args: string[], opts: HelmOptions = {}): Promise<HelmResult> {
  const bin = requireRealParts(['helm']).helm;
  const env = { ...helmEnv(scratch), ...(opts.kubeconfig ? { KUBECONFIG: opts.kubeconfig } : {}) };
  return runToEnd(bin, args, { env, timeoutMs: opts.timeoutMs ?? 120_000 });
}

/** The scenario values files under charts/devx/ci, by file name. */
export function scenarioFiles(): string[] {
  return fs
    .readdirSync(CI_DIR)
    .filter((f) => f.endsWith('-values.yaml'))
    .sort();
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Values files (absolute, or names under charts/devx/ci). */
  valuesFiles?: string[];
  /** `--set` pairs. */
  set?: string[];
  includeCrds?: boolean;
}

export function templateArgs(opts: RenderOptions = {}): string[] {
  const args = ['template', opts.release ?? 'devx', CHART_DIR, '--namespace', opts.namespace ?? 'devx-system', kubeVersionFlag()];
  for (const f of opts.valuesFiles ?? []) args.push('-f', path.isAbsolute(f) ? f : path.join(CI_DIR, f));
  for (const s of opts.set ?? []) args.push('--set', s);
  if (opts.includeCrds) args.push('--include-crds');
  return args;
}

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };

export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${d.errors[0]?.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

const renders = new Map<string, Promise<HelmResult>>();

/**
 * `helm template` to text and objects; throws with helm's message when rendering fails. Each set of arguments is
 * rendered once per test process (the chart and its values files do not change while tests run); the objects are
 * parsed afresh for every caller, so a test may change them.
 */
export async function renderChart(opts: RenderOptions = {}): Promise<{ text: string; objects: K8sObject[] }> {
  const args = templateArgs(opts);
  const key = args.join('\0');
  let rendered = renders.get(key);
  if (!rendered) {
    rendered = helm(args);
    renders.set(key, rendered);
  }
  const r = await rendered;
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${r.stderr}`);
  return { text: r.stdout, objects: parseObjects(r.stdout) };
}

export function find(objects: K8sObject[], kind: string, name?: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

/**
 * A kubeconfig for `namespace/serviceAccount`: a token minted with the TokenRequest API (`kubectl create token`),
 * the control plane's CA and address. Whatever uses it is authorized exactly as a pod of that ServiceAccount.
 */
export async function serviceAccountKubeconfig(cp: ControlPlane, namespace: string, serviceAccount: string): Promise<string> {
  const r = await cp.kubectl(['create', 'token', serviceAccount, '--duration=2h'], { namespace });
  if (r.code !== 0) throw new Error(`kubectl create token ${namespace}/${serviceAccount}: ${r.stderr}`);
  const file = path.join(cp.dir, `sa-${namespace}-${serviceAccount}.kubeconfig`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'cp', cluster: { server: cp.server, 'certificate-authority-data': Buffer.from(cp.ca.certPem).toString('base64') } }],
    users: [{ name: serviceAccount, user: { token: r.stdout.trim() } }],
    contexts: [{ name: serviceAccount, context: { cluster: 'cp', user: serviceAccount, namespace } }],
    'current-context': serviceAccount,
  };
  fs.writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

/**
 * Points every webhook of the chart's two configurations (name `devx`) from the Service at `baseUrl` (devx on
 * loopback), keeping the path and everything else the chart set. The only change the tests make to them.
 */
export async function pointWebhooksAt(cp: ControlPlane, baseUrl: string): Promise<void> {
  for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
    const got = await cp.kubectl(['get', kind, 'devx', '-o', 'json']);
    if (got.code !== 0) throw new Error(`kubectl get ${kind} devx: ${got.stderr}`);
    const webhooks = (JSON.parse(got.stdout) as { webhooks: Array<{ clientConfig: { service?: { path?: string }; url?: string } }> }).webhooks;
    const patch = webhooks.flatMap((w, i) => {
      const p = w.clientConfig.service?.path ?? new URL(w.clientConfig.url ?? 'https://x/').pathname;
      return [
        ...(w.clientConfig.service ? [{ op: 'remove', path: `/webhooks/${i}/clientConfig/service` }] : []),
        { op: 'add', path: `/webhooks/${i}/clientConfig/url`, value: `${baseUrl}${p}` },
      ];
    });
    const r = await cp.kubectl(['patch', kind, 'devx', '--type=json', '-p', JSON.stringify(patch)]);
    if (r.code !== 0) throw new Error(`pointing ${kind} devx at ${baseUrl}: ${r.stderr}`);
  }
}

/** Undoes pointWebhooksAt: the chart's Service again (before a `helm upgrade`, whose patch would add it next to the
 * URL, which the API server refuses). */
export async function pointWebhooksAtService(cp: ControlPlane, service: { namespace: string; name: string }): Promise<void> {
  for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
    const got = await cp.kubectl(['get', kind, 'devx', '-o', 'json']);
    if (got.code !== 0) throw new Error(`kubectl get ${kind} devx: ${got.stderr}`);
    const webhooks = (JSON.parse(got.stdout) as { webhooks: Array<{ clientConfig: { url?: string } }> }).webhooks;
    const patch = webhooks.flatMap((w, i) =>
      w.clientConfig.url
        ? [
            { op: 'remove', path: `/webhooks/${i}/clientConfig/url` },
            { op: 'add', path: `/webhooks/${i}/clientConfig/service`, value: { ...service, path: new URL(w.clientConfig.url).pathname, port: 443 } },
          ]
        : [],
    );
    if (patch.length === 0) continue;
    const r = await cp.kubectl(['patch', kind, 'devx', '--type=json', '-p', JSON.stringify(patch)]);
    if (r.code !== 0) throw new Error(`pointing ${kind} devx back at its Service: ${r.stderr}`);
  }
}

/**
 * A control plane with the chart installed as a cluster admin would (its namespace under Pod Security `restricted`,
 * `helm install` with `valuesFiles`), and a kubeconfig with a token of the chart's ServiceAccount — what devx runs as in
 * the tests that check its rights.
 */
export async function installedChart(opts: { namespace: string; serviceAccount: string; valuesFiles?: string[]; extraApiServerFlags?: string[] }): Promise<{ cp: ControlPlane; saKubeconfig: string }> {
  const { startControlPlane } = await import('./control-plane.ts');
  const cp = await startControlPlane({ extraApiServerFlags: opts.extraApiServerFlags ?? [] });
  await cp.createNamespace(opts.namespace, { 'pod-security.kubernetes.io/enforce': 'restricted' });
  const values = (opts.valuesFiles ?? []).flatMap((f) => ['-f', f]);
  const installed = await helm(['install', 'devx', CHART_DIR, '--namespace', opts.namespace, ...values], { kubeconfig: cp.kubeconfigPath });
  if (installed.code !== 0) throw new Error(`helm install: ${installed.stderr}`);
  return { cp, saKubeconfig: await serviceAccountKubeconfig(cp, opts.namespace, opts.serviceAccount) };
}
