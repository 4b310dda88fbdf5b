// The objects an informer has seen, by namespace and name, and which change each list or watch event is. A re-list
// replaces the whole set: objects that are gone become deletes, and objects whose resourceVersion did not move
// produce no event at all (a re-list after an outage reports only what really changed meanwhile).
import type { KubernetesObject } from '@kubernetes/client-node';

export type ChangeType = 'add' | 'update' | 'delete';

/** What callers read from an informer. */
export interface InformerCache<T extends KubernetesObject> {
  /** A namespaced object needs its namespace; a cluster-scoped one is found by name alone. */
  get(name: string, namespace?: string): T | undefined;
  /** Every object, or those of one namespace. */
  list(namespace?: string): T[];
}

export interface InformerStore<T extends KubernetesObject> extends InformerCache<T> {
  /** Stores `obj`; `add` if it is new, `update` if its resourceVersion changed, undefined if nothing did. */
  upsert(obj: T): 'add' | 'update' | undefined;
  /** Forgets `obj`; false when it was not known. */
  remove(obj: T): boolean;
  /** Makes the store hold exactly `items`; returns the changes that amounts to, deletes first. */
  replace(items: readonly T[]): Array<[ChangeType, T]>;
}

const nsOf = (obj: KubernetesObject): string => obj.metadata?.namespace ?? '';
const nameOf = (obj: KubernetesObject): string => obj.metadata?.name ?? '';

function sameVersion(a: KubernetesObject, b: KubernetesObject): boolean {
  const v = a.metadata?.resourceVersion;
  return v !== undefined && v !== null && v === b.metadata?.resourceVersion;
}

export function informerStore<T extends KubernetesObject>(): InformerStore<T> {
  const byNamespace = new Map<string, Map<string, T>>();

  const upsert = (obj: T): 'add' | 'update' | undefined => {
    let objects = byNamespace.get(nsOf(obj));
    if (!objects) byNamespace.set(nsOf(obj), (objects = new Map()));
    const known = objects.get(nameOf(obj));
    if (known && sameVersion(known, obj)) return undefined;
    objects.set(nameOf(obj), obj);
    return known ? 'update' : 'add';
  };

  const remove = (obj: T): boolean => {
    const objects = byNamespace.get(nsOf(obj));
    if (!objects?.delete(nameOf(obj))) return false;
    if (objects.size === 0) byNamespace.delete(nsOf(obj));
    return true;
  };

  const list = (namespace?: string): T[] => {
    if (namespace) return [...(byNamespace.get(namespace)?.values() ?? [])];
    return [...byNamespace.values()].flatMap((objects) => [...objects.values()]);
  };

  const replace = (items: readonly T[]): Array<[ChangeType, T]> => {
    const keep = new Set(items.map((o) => `${nsOf(o)}/${nameOf(o)}`));
    const changes: Array<[ChangeType, T]> = [];
    for (const old of list()) {
      if (!keep.has(`${nsOf(old)}/${nameOf(old)}`) && remove(old)) changes.push(['delete', old]);
    }
    for (const obj of items) {
      const type = upsert(obj);
      if (type) changes.push([type, obj]);
    }
    return changes;
  };

  return {
    get: (name, namespace) => byNamespace.get(namespace ?? '')?.get(name),
    list,
    upsert,
    remove,
    replace,
  };
}
