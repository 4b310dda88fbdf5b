// A ClusterView over the informer cache. DevPolicies are parsed once per object version, not once per review.
import type { ClusterView } from '../core/context.ts';
import type { KubeObject } from '../core/kube.ts';
import { parseDevPolicy, type PolicyParse } from '../schemas/policy.ts';

export interface CacheReader {
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined;
  devPolicy(name: string): unknown;
  devWorkloadCount?(namespace: string, exclude: string): number | undefined;
  isInDevMode?(kind: string, namespace: string, name: string): boolean | undefined;
  object?(kind: string, namespace: string, name: string): KubeObject | undefined;
}

export function cacheView(cache: CacheReader): ClusterView {
  const parsed = new WeakMap<object, PolicyParse>();
  const view: ClusterView = {
    namespaceLabels: (name) => cache.namespaceLabels(name) as Record<string, string> | undefined,
    policy: (name) => {
      const raw = cache.devPolicy(name);
      if (typeof raw !== 'object' || raw === null) return undefined;
      let p = parsed.get(raw);
      if (!p) {
        p = parseDevPolicy(raw);
        parsed.set(raw, p);
      }
      return p;
    },
  };
  if (cache.devWorkloadCount) view.devWorkloadCount = (ns, exclude) => cache.devWorkloadCount?.(ns, exclude);
  if (cache.object) view.object = (kind, ns, name) => cache.object?.(kind, ns, name);
  if (cache.isInDevMode) view.isInDevMode = (kind, ns, name) => cache.isInDevMode?.(kind, ns, name);
  return view;
}
