// The reconciler's access to the API server (src/reconciler/ports.ts ObjectApi) over raw JSON requests: reads are
// always fresh GETs (never a cache), so a decision rests on what the API server holds right now.
import { randomBytes } from 'node:crypto';
import type { KubeConnection } from './kubeconfig.ts';
import { collectionPathOf } from '../core/kinds.ts';
import type { KubeObject } from '../core/kube.ts';
import type { ApiKind, DeleteOptions, ObjectApi } from '../reconciler/ports.ts';
import { microTime } from '../reconciler/lease-decision.ts';
import { KubeApiError, kubeCall, kubeFind } from './rest.ts';

const enc = encodeURIComponent;

function collectionPath(kind: ApiKind, namespace: string): string {
  return collectionPathOf(kind, namespace);
}

function objectPath(kind: ApiKind, namespace: string, name: string): string {
  return `${collectionPath(kind, namespace)}/${enc(name)}`;
}

function nsOf(obj: KubeObject): string {
  return obj.metadata?.namespace ?? '';
}

const NOTE_LIMIT = 1024;

function deleteBody(opts: DeleteOptions): { body: Record<string, unknown>; guarded: boolean } {
  const preconditions = { ...(opts.uid ? { uid: opts.uid } : {}), ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}) };
  const guarded = Object.keys(preconditions).length > 0;
  return { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: opts.propagationPolicy ?? 'Background', ...(guarded ? { preconditions } : {}) }, guarded };
}

function eventName(object: string): string {
  const unique = `${Date.now().toString(16)}${randomBytes(4).toString('hex')}`;
  return `${object.slice(0, 253 - unique.length - 1)}.${unique}`;
}

export function createReconcilerApi(kc: KubeConnection): ObjectApi {
  return {
    get: async (kind, namespace, name) => (await kubeFind(kc, { method: 'GET', path: objectPath(kind, namespace, name) })) as KubeObject | undefined,
    list: async (kind, namespace, labelSelector) => {
      const query = labelSelector ? `?labelSelector=${enc(labelSelector)}` : '';
      const list = (await kubeCall(kc, { method: 'GET', path: `${collectionPath(kind, namespace)}${query}` })) as { items?: KubeObject[] };
      return list.items ?? [];
    },
    create: async (kind, obj) => (await kubeCall(kc, { method: 'POST', path: collectionPath(kind, nsOf(obj)), body: obj })) as KubeObject,
    replace: async (kind, obj) => (await kubeCall(kc, { method: 'PUT', path: objectPath(kind, nsOf(obj), obj.metadata?.name ?? ''), body: obj })) as KubeObject,
    patch: async (kind, namespace, name, patch) =>
      (await kubeCall(kc, { method: 'PATCH', path: objectPath(kind, namespace, name), body: patch, contentType: 'application/merge-patch+json' })) as KubeObject,
    delete: async (kind, namespace, name, opts: DeleteOptions = {}) => {
      const { body, guarded } = deleteBody(opts);
      try {
        await kubeCall(kc, { method: 'DELETE', path: objectPath(kind, namespace, name), body });
        return true;
      } catch (err) {
        // 404: already gone. 409 on a precondition: the name now belongs to a newer object, or the object changed
        // since it was looked at; either way not deleted, and the caller looks again.
        if (err instanceof KubeApiError && (err.status === 404 || (err.status === 409 && guarded))) return false;
        throw err;
      }
    },
    namespaces: async (labelSelector) => {
      const list = (await kubeCall(kc, { method: 'GET', path: `/api/v1/namespaces?labelSelector=${enc(labelSelector)}` })) as { items?: KubeObject[] };
      return (list.items ?? []).map((n) => n.metadata?.name ?? '').filter(Boolean);
    },
    event: async (e, reporter) => {
      const note = e.note.length > NOTE_LIMIT ? `${e.note.slice(0, NOTE_LIMIT - 3)}...` : e.note;
      await kubeCall(kc, {
        method: 'POST',
        path: `/apis/events.k8s.io/v1/namespaces/${enc(e.regarding.namespace)}/events`,
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          // As client-go names them: `<object>.<unique hex>` (a generateName ending in "." is refused since 1.3x).
          metadata: { name: eventName(e.regarding.name), namespace: e.regarding.namespace },
          eventTime: microTime(new Date()),
          reportingController: reporter.controller,
          reportingInstance: reporter.instance.slice(0, 128),
          action: e.action,
          reason: e.reason,
          type: e.type,
          note,
          regarding: e.regarding,
        },
      });
    },
  };
}
