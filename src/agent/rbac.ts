// Messages for what RBAC does not allow: which verb on which resource is missing, and the Role that would grant it,
// so the user can forward one line to whoever administers the cluster. Pure.
import type { AccessQuestion } from '../k8s/agent-api.ts';

/** A verb on a resource (API group `` for the core group), as an access review asks about it. */
export type Permission = AccessQuestion;

/** `pods/portforward`, `deployments.apps`, `secrets`: the resource as `kubectl create role --resource` takes it. */
export function resourceText(p: Pick<Permission, 'group' | 'resource' | 'subresource'>): string {
  const base = p.group ? `${p.resource}.${p.group}` : p.resource;
  return p.subresource ? `${base}/${p.subresource}` : base;
}

/**
 * "you may not …: RBAC verb(s) … on … missing in namespace …; ask for: kubectl create role …". `missing` are the
 * permissions the access review denied, in one namespace (on one resource, or several: then the Role suggested
 * grants each verb on each of them).
 */
export function forbiddenMessage(what: string, missing: readonly Permission[]): string {
  const first = missing[0];
  if (!first) return `${what}: forbidden`;
  const verbs = [...new Set(missing.map((p) => p.verb))];
  const resources = [...new Set(missing.map(resourceText))];
  const named = first.name && resources.length === 1 ? ` --resource-name=${first.name}` : '';
  const verbWord = verbs.length > 1 ? 'verbs' : 'verb';
  const plural = verbs.length > 1 || resources.length > 1;
  return (
    `${what}: RBAC ${verbWord} ${verbs.map((v) => `"${v}"`).join(' and ')} on ${resources.map((r) => `"${r}"`).join(' and ')} ${plural ? 'are' : 'is'} not granted to you ` +
    `in namespace ${first.namespace}. Ask a cluster admin for a Role with it, e.g.\n` +
    `  kubectl create role devx-sync -n ${first.namespace} --verb=${verbs.join(',')} --resource=${resources.join(',')}${named}\n` +
    `  kubectl create rolebinding devx-sync -n ${first.namespace} --role=devx-sync --user=<you>`
  );
}

/** The permissions a port-forward needs: `create` (SPDY, and WebSocket since 1.35) and `get` (the WebSocket GET). */
export function portForwardPermissions(namespace: string): Permission[] {
  return ['get', 'create'].map((verb) => ({ verb, group: '', resource: 'pods', subresource: 'portforward', namespace }));
}

/** The permissions a terminal in a pod needs: `create` on pods/exec (and `get`, which a WebSocket upgrade is). */
export function execPermissions(namespace: string): Permission[] {
  return ['get', 'create'].map((verb) => ({ verb, group: '', resource: 'pods', subresource: 'exec', namespace }));
}
