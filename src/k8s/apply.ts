// Server-side apply of arbitrary objects (devx's webhook configurations; the tests' CRDs and DevPolicies), like
// `kubectl apply --server-side --force-conflicts`: idempotent, and fields devx stops setting are removed again.
// Resource names are found through API discovery, so CRD-defined kinds work once their CRD is established.
import type { KubeConnection } from './kubeconfig.ts';
import { pollValue } from '../wait.ts';
import { kubeCall, kubeRequest } from './rest.ts';

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
