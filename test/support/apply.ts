// What the tests do to a cluster that devx itself never does: apply YAML files of CRDs and DevPolicies (waiting for
// each CRD to be Established), delete objects, and remove devx's webhook configurations again. Built on devx's own apply.
import fs from 'node:fs';
import { err, ok } from '../../src/core/result.ts';
import { applyObject, objectPath, type ApplyOptions, type ObjectRef } from '../../src/k8s/apply.ts';
import type { KubeConnection } from '../../src/k8s/kubeconfig.ts';
import { WEBHOOK_CONFIGURATION_NAME } from '../../src/k8s/register-webhooks.ts';
import { KubeApiError, kubeCall, kubeRequest } from '../../src/k8s/rest.ts';
import { parseYamlDocuments } from '../../src/schemas/yaml-documents.ts';
import { pollUntil } from '../../src/wait.ts';

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
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 404) return false;
    throw e;
  }
}

/** Deletes both of devx's webhook configurations; missing ones are fine. */
export async function unregisterWebhooks(kc: KubeConnection): Promise<void> {
  const metadata = { name: WEBHOOK_CONFIGURATION_NAME };
  const apiVersion = 'admissionregistration.k8s.io/v1';
  await Promise.all([
    deleteObject(kc, { apiVersion, kind: 'MutatingWebhookConfiguration', metadata }),
    deleteObject(kc, { apiVersion, kind: 'ValidatingWebhookConfiguration', metadata }),
  ]);
}
