// The API calls of the agent (`kubectl devx`), as the user's own kubeconfig allows them: read workloads, pods and the
// sync Secret, label and unlabel, ask what RBAC allows. Raw JSON like rest.ts, but the answers keep the `Warning`
// headers, because admission tells the user what dev mode did through them (as `kubectl label` shows).
import { loadKubeConfig, type KubeConfig } from './kubeconfig.ts';
import { KubeApiError, kubeCall, kubeCallResponse } from './rest.ts';

export { KubeApiError };
export type { KubeConfig };

export interface AgentKubeOptions {
  kubeconfig?: string;
  context?: string;
}

export interface AgentKube {
  kubeConfig: KubeConfig;
  /** Name of the context in use (names the local session directory). */
  context: string;
  /** The context's namespace, else `default` (what kubectl uses without -n). */
  namespace: string;
  server: string;
}

/** The user's kubeconfig, chosen like kubectl chooses it. Throws with a plain message when there is none. */
export function agentKube(opts: AgentKubeOptions): AgentKube {
  const loaded = loadKubeConfig({ ...(opts.kubeconfig ? { path: opts.kubeconfig } : {}), ...(opts.context ? { context: opts.context } : {}) });
  return { kubeConfig: loaded.kubeConfig, context: loaded.context, namespace: loaded.namespace || 'default', server: loaded.server };
}

/** One request; a non-2xx status becomes a KubeApiError (status, reason, message). */
export async function kubeGet(kc: KubeConfig, path: string): Promise<unknown> {
  return kubeCall(kc, { method: 'GET', path });
}

/** A JSON merge patch; returns the object as admission left it, and the warnings admission gave. */
export async function kubeMergePatch(kc: KubeConfig, path: string, patch: unknown): Promise<{ object: unknown; warnings: string[] }> {
  const res = await kubeCallResponse(kc, { method: 'PATCH', path, body: patch, contentType: 'application/merge-patch+json' });
  return { object: res.body, warnings: res.warnings };
}

export interface AccessQuestion {
  namespace: string;
  verb: string;
  /** API group; `` for the core group. */
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
}

/** SelfSubjectAccessReview: may the current user do this? (Every authenticated user may ask.) */
export async function mayI(kc: KubeConfig, q: AccessQuestion): Promise<unknown> {
  return kubeCall(kc, {
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: q } },
  });
}

/** SelfSubjectReview: who the API server takes the current user for (every authenticated user may ask, since
 * Kubernetes 1.28). Duplicate mode names a developer's copy after that user. */
export async function whoAmI(kc: KubeConfig): Promise<unknown> {
  return kubeCall(kc, {
    method: 'POST',
    path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
}
