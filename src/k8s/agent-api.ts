// The API calls of the agent (`kubectl devx`), as the user's own kubeconfig allows them: read workloads, pods and the
// sync Secret, label and unlabel, ask what RBAC allows. Raw JSON like rest.ts, but the answers keep the `Warning`
// headers, because admission tells the user what dev mode did through them (as `kubectl label` shows).
import { connectionOf, loadAgentKubeConfig, type KubeConfig } from './agent-kubeconfig.ts';
import { KubeApiError, kubeRequest, type KubeRequest, type KubeResponse } from './rest.ts';

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
  const loaded = loadAgentKubeConfig({ ...(opts.kubeconfig ? { path: opts.kubeconfig } : {}), ...(opts.context ? { context: opts.context } : {}) });
  const kc = loaded.kubeConfig;
  const context = kc.getCurrentContext();
  const namespace = kc.getContextObject(context)?.namespace || 'default';
  return { kubeConfig: kc, context, namespace, server: loaded.server };
}

/** An answer with its admission warnings (the `Warning` headers). */
export type KubeAnswer = KubeResponse;

/** One request; any status comes back as an answer. */
export function kubeAsk(kc: KubeConfig, req: KubeRequest): Promise<KubeAnswer> {
  return kubeRequest(connectionOf(kc), req);
}

/** One request; a non-2xx status becomes a KubeApiError (status, reason, message). */
export async function kubeGet(kc: KubeConfig, path: string): Promise<unknown> {
  const req: KubeRequest = { method: 'GET', path };
  const res = await kubeAsk(kc, req);
  if (res.status < 200 || res.status >= 300) throw new KubeApiError(req, res);
  return res.body;
}

/** A JSON merge patch; returns the object as admission left it, and the warnings admission gave. */
export async function kubeMergePatch(kc: KubeConfig, path: string, patch: unknown): Promise<{ object: unknown; warnings: string[] }> {
  const req: KubeRequest = { method: 'PATCH', path, body: patch, contentType: 'application/merge-patch+json' };
  const res = await kubeAsk(kc, req);
  if (res.status < 200 || res.status >= 300) throw new KubeApiError(req, res);
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
  const req: KubeRequest = {
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: q } },
  };
  const res = await kubeAsk(kc, req);
  if (res.status < 200 || res.status >= 300) throw new KubeApiError(req, res);
  return res.body;
}
