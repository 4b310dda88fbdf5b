// The objects a dev pod's owner chain passes through (src/core/owners.ts), for admission: labelled ReplicaSets (a
// Deployment in dev mode labels its template, so its ReplicaSets carry the label too), the labelled workloads, and
// devx's dev copies — all from informers. A pod can reach admission before the informer has seen the ReplicaSet the
// controller made a moment earlier, so a miss is looked up once on the API server before the review is decided, and
// kept for a short while.
import type { KubernetesObject } from '@kubernetes/client-node';
import { collectionPathOf, type KnownKind } from '../core/kinds.ts';
import type { KubeObject } from '../core/kube.ts';
import { LABEL_ENABLED } from '../core/names.ts';
import { CHAIN_KINDS, nextOwnerRef } from '../core/owners.ts';
import type { KubeConnection } from './kubeconfig.ts';
import type { Logger } from './logger.ts';
import { describeError } from './logger.ts';
import { kubeCall } from './rest.ts';
import { resilientInformer, type Backoff, type ResilientInformer } from './resilient-informer.ts';

const FETCHED_TTL_MS = 30_000;
const MAX_CHAIN = 4;

export type ObjectLookup = (kind: string, namespace: string, name: string) => KubeObject | undefined;

export interface OwnerObjects {
  start(): Promise<void>;
  ready(): boolean;
  /** From the informers, or from a recent lookup. */
  get: ObjectLookup;
  /** Looks up, on the API server, the owners of a pod that the informers do not hold yet. Never throws. */
  prefetch(pod: unknown, namespace: string | undefined): Promise<void>;
  stop(): Promise<void>;
}

function isObject(v: unknown): v is KubeObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function createOwnerObjects(o: { kubeConfig: KubeConnection; logger: Logger; informed: ObjectLookup; backoff?: Backoff }): OwnerObjects {
  const replicaSets: ResilientInformer<KubernetesObject> = resilientInformer<KubernetesObject>({
    kubeConfig: o.kubeConfig,
    kind: 'ReplicaSet (dev mode)',
    path: collectionPathOf('ReplicaSet'),
    labelSelector: `${LABEL_ENABLED}=true`,
    logger: o.logger,
    onEvent: () => undefined,
    ...(o.backoff ? { backoff: o.backoff } : {}),
  });
  const fetched = new Map<string, { obj: KubeObject; until: number }>();
  const keyOf = (kind: string, ns: string, name: string): string => `${kind}/${ns}/${name}`;

  const get: ObjectLookup = (kind, ns, name) => {
    const informed = kind === 'ReplicaSet' ? (replicaSets.cache().get(name, ns) as KubeObject | undefined) : o.informed(kind, ns, name);
    if (informed) return { ...informed, kind };
    const hit = fetched.get(keyOf(kind, ns, name));
    if (hit && hit.until > Date.now()) return hit.obj;
    return undefined;
  };

  async function lookUp(kind: string, ns: string, name: string): Promise<KubeObject | undefined> {
    // Only the kinds an owner chain passes through (never a user's ConfigMap or any other object it names).
    if (!CHAIN_KINDS.has(kind)) return undefined;
    // A list by name rather than a get: the same verb as the informers', so devx needs no other.
    const query = `fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`;
    const list = (await kubeCall(o.kubeConfig, { method: 'GET', path: `${collectionPathOf(kind as KnownKind, ns)}?${query}` })) as { items?: KubeObject[] };
    const obj = list.items?.[0];
    if (!obj) return undefined;
    const withKind = { ...obj, kind };
    for (const [k, v] of fetched) if (v.until <= Date.now()) fetched.delete(k);
    fetched.set(keyOf(kind, ns, name), { obj: withKind, until: Date.now() + FETCHED_TTL_MS });
    return withKind;
  }

  return {
    start: () => replicaSets.start(),
    ready: () => replicaSets.synced(),
    get,
    prefetch: async (pod, namespace) => {
      if (!isObject(pod) || !namespace) return;
      let obj: KubeObject = pod;
      try {
        for (let i = 0; i < MAX_CHAIN; i++) {
          const ref = nextOwnerRef(obj);
          if (!ref) return;
          const next = get(ref.kind, namespace, ref.name) ?? (await lookUp(ref.kind, namespace, ref.name));
          if (!next) return;
          obj = next;
        }
      } catch (err) {
        // Decided from what the informers hold: a pod whose owners devx cannot see is refused, never injected blindly.
        o.logger.warn({ namespace, ...describeError(err) }, 'owner lookup failed');
      }
    },
    stop: () => replicaSets.stop(),
  };
}
