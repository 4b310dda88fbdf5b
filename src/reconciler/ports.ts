// What the reconciler needs from the API server, as an interface: src/k8s/reconciler-api.ts implements it with raw
// REST calls, tests may implement it in memory. Errors are thrown with the HTTP status in `status`.
import type { KubeObject } from '../core/kube.ts';
import type { WorkloadKind } from '../core/names.ts';
import type { EventSpec } from './plan.ts';

export type ApiKind = WorkloadKind | 'Secret' | 'PersistentVolumeClaim';

export interface DeleteOptions {
  /** Delete only this incarnation of the object (a precondition), never a newer one of the same name. */
  uid?: string;
  /** Delete only if unchanged since this resourceVersion (a 409 otherwise). */
  resourceVersion?: string;
  /** Default Background: the API server answers at once and the garbage collector removes dependents. */
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
}

export interface EventRecord extends EventSpec {
  /** The object the event is about (its uid, when known, makes `kubectl describe` find it). */
  regarding: { apiVersion: string; kind: string; namespace: string; name: string; uid?: string };
  /** A verb for what devx did, e.g. `CreateSecret`. */
  action: string;
}

export interface ObjectApi {
  get(kind: ApiKind, namespace: string, name: string): Promise<KubeObject | undefined>;
  list(kind: ApiKind, namespace: string, labelSelector?: string): Promise<KubeObject[]>;
  create(kind: ApiKind, obj: KubeObject): Promise<KubeObject>;
  /** PUT; the object's resourceVersion makes it conditional. */
  replace(kind: ApiKind, obj: KubeObject): Promise<KubeObject>;
  /** JSON merge patch. */
  patch(kind: ApiKind, namespace: string, name: string, patch: unknown): Promise<KubeObject>;
  /** True if something was deleted; false if it was not there. */
  delete(kind: ApiKind, namespace: string, name: string, opts?: DeleteOptions): Promise<boolean>;
  /** Names of namespaces matching a label selector. */
  namespaces(labelSelector: string): Promise<string[]>;
  /** Records an Event (events.k8s.io/v1). */
  event(e: EventRecord, reporter: { controller: string; instance: string }): Promise<void>;
}

/** HTTP status of an error thrown by an ObjectApi, if it has one. */
export function statusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | undefined)?.status;
  return typeof s === 'number' ? s : undefined;
}
