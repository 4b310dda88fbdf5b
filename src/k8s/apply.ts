// Server-side apply of arbitrary objects (a YAML file of CRDs, DevPolicies, webhook configurations…), like
// `kubectl apply --server-side --force-conflicts`: idempotent, and fields devx stops setting are removed again.
// Resource names are found through API discovery, so CRD-defined kinds work once their CRD is established.
import fs from 'node:fs';
import type { KubeConnection } from './kubeconfig.ts';
import { parseYamlDocuments } from '../schemas/yaml-documents.ts';
import { err, ok } from '../core/result.ts';
import { pollUntil, pollValue } from '../wait.ts';
import { KubeApiError, kubeCall, kubeRequest } from './rest.ts';

/** The identifying part of any Kubernetes object. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

export interface ApplyOptions {
  /** Owner of the applied fields (default `devx`). */
  fieldManager?: string;
  /** Namespace for namespaced objects that name none (default `default`). */
  namespace?: string;
  /** How long to wait for a kind to appear in discovery, e.g. right after its CRD (default 30 s). */
  discoveryTimeoutMs?: number;
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

const CRD_API = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

/** The objects of a (multi-document) YAML text; empty documents are skipped, anything else must be an object. */
export function parseManifests(text: string): ObjectRef[] {
  return parseYamlDocuments(text, 'invalid YAML').map(asObjectRef);
}

function asObjectRef(value: unknown): ObjectRef {
  const o = value as Partial<ObjectRef> | undefined;
  if (typeof o?.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
    throw new Error(`not a Kubernetes object (apiVersion, kind and metadata.name are required): ${JSON.stringify(value).slice(0, 200)}`);
  }
  return o as ObjectRef;
}

function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

async function discover(kc: KubeConnection, apiVersion: string, kind: string): Promise<ApiResource | undefined> {
  const res = await kubeRequest(kc, { method: 'GET', path: groupVersionPath(apiVersion) });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`discovery of ${apiVersion}: HTTP ${res.status}`);
  const list = res.body as { resources?: ApiResource[] };
  return list.resources?.find((r) => r.kind === kind && !r.name.includes('/'));
}

/** The REST resource of a kind, waiting up to `timeoutMs` for it to appear (a CRD that is being established). */
export async function resourceFor(kc: KubeConnection, ref: { apiVersion: string; kind: string }, timeoutMs = 30_000): Promise<ApiResource> {
  const found = await pollValue(() => discover(kc, ref.apiVersion, ref.kind), { timeoutMs, intervalMs: 200 });
  if (!found) throw new Error(`the API server does not serve ${ref.kind} in ${ref.apiVersion} (is its CRD installed?)`);
  return found;
}

/** API path of one object. */
export async function objectPath(kc: KubeConnection, obj: ObjectRef, opts: ApplyOptions = {}): Promise<string> {
  const resource = await resourceFor(kc, obj, opts.discoveryTimeoutMs);
  const ns = resource.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata.namespace ?? opts.namespace ?? 'default')}` : '';
  return `${groupVersionPath(obj.apiVersion)}${ns}/${resource.name}/${encodeURIComponent(obj.metadata.name)}`;
}

/** Server-side applies one object (forcing ownership of conflicting fields) and returns it as stored. */
export async function applyObject<T extends ObjectRef>(kc: KubeConnection, obj: T, opts: ApplyOptions = {}): Promise<T> {
  const path = await objectPath(kc, obj, opts);
  const manager = encodeURIComponent(opts.fieldManager ?? 'devx');
  return (await kubeCall(kc, {
    method: 'PATCH',
    path: `${path}?fieldManager=${manager}&force=true`,
    body: obj,
    contentType: 'application/apply-patch+yaml',
  })) as T;
}

/** Applies objects in order; waits for every applied CRD to be Established before returning. */
export async function applyObjects(kc: KubeConnection, objects: ObjectRef[], opts: ApplyOptions = {}): Promise<ObjectRef[]> {
  const applied: ObjectRef[] = [];
  for (const obj of objects) applied.push(await applyObject(kc, obj, opts));
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name);
  for (const name of crds) await waitForCrdEstablished(kc, name, opts.discoveryTimeoutMs);
  return applied;
}

/** Applies every object of a YAML file (e.g. `deploy/crds/devpolicies.yaml`). */
export async function applyFile(kc: KubeConnection, file: string, opts: ApplyOptions = {}): Promise<ObjectRef[]> {
  return applyObjects(kc, parseManifests(fs.readFileSync(file, 'utf8')), opts);
}

/** Deletes an object; true if it existed. */
export async function deleteObject(kc: KubeConnection, obj: ObjectRef, opts: ApplyOptions = {}): Promise<boolean> {
  try {
    await kubeCall(kc, { method: 'DELETE', path: await objectPath(kc, obj, { ...opts, discoveryTimeoutMs: 0 }) });
    return true;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return false;
    throw err;
  }
}

function isEstablished(crd: unknown): boolean {
  const conditions = (crd as { status?: { conditions?: Array<{ type?: string; status?: string }> } }).status?.conditions ?? [];
  return conditions.some((c) => c.type === 'Established' && c.status === 'True');
}

/** Waits until the CRD `name` (e.g. `devpolicies.dev.x`) is Established, i.e. its kind is served. */
export async function waitForCrdEstablished(kc: KubeConnection, name: string, timeoutMs = 30_000): Promise<void> {
  const established = await pollUntil({
    timeoutMs,
    intervalMs: 100,
    look: async () => {
      const res = await kubeRequest(kc, { method: 'GET', path: `${CRD_API}/${encodeURIComponent(name)}` });
      return res.status === 200 && isEstablished(res.body) ? ok() : err(`HTTP ${res.status}`);
    },
  });
  if (!established.ok) throw new Error(`CustomResourceDefinition ${name} not Established after ${timeoutMs} ms (${established.error})`);
}
