// A ClusterView over a fixed list of objects (Namespaces, DevPolicies, workloads): used by `--objects FILE`,
// `kubectl devx inject` and the tests.
import { parseDevPolicy, type PolicyParse } from '../schemas/policy.ts';
import type { ClusterView } from './context.ts';
import type { KubeObject } from './kube.ts';
import { labelsOf } from './kube.ts';
import { devModeWeight } from './duplicate.ts';
import { annotationsOf } from './kube.ts';
import { ANN_DUPLICATES, isDevEnabled } from './names.ts';

export function staticView(objects: readonly unknown[]): ClusterView {
  const namespaces = new Map<string, Record<string, string>>();
  const policies = new Map<string, PolicyParse>();
  const workloads: KubeObject[] = [];
  for (const raw of objects) {
    if (typeof raw !== 'object' || raw === null) continue;
    const obj = raw as KubeObject;
    const name = obj.metadata?.name ?? '';
    if (obj.kind === 'Namespace') namespaces.set(name, labelsOf(obj));
    else if (obj.kind === 'DevPolicy') policies.set(name, parseDevPolicy(raw));
    else workloads.push(obj);
  }
  const devMode = (w: KubeObject): boolean => isDevEnabled(labelsOf(w));
  return {
    namespaceLabels: (name) => namespaces.get(name),
    policy: (name) => policies.get(name),
    devWorkloadCount: (ns, exclude) =>
      workloads
        .filter((w) => w.metadata?.namespace === ns && devMode(w) && `${String(w.kind).toLowerCase()}/${w.metadata?.name}` !== exclude)
        .reduce((n, w) => n + devModeWeight(annotationsOf(w)), 0),
    object: (kind, ns, name) => workloads.find((o) => o.kind === kind && o.metadata?.namespace === ns && o.metadata?.name === name),
    isInDevMode: (kind, ns, name) => {
      const w = workloads.find((o) => o.kind === kind && o.metadata?.namespace === ns && o.metadata?.name === name);
      return w ? devMode(w) && annotationsOf(w)[ANN_DUPLICATES] === undefined : undefined;
    },
  };
}
