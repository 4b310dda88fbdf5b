// An in-memory view of the cluster objects admission decisions depend on: Namespaces (for their labels) and
// DevPolicies (raw; devx parses them with zod where they are used). Kept current by informers that restart
// themselves, so an API server outage or a CRD that is not installed yet only delays updates; it never crashes.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeConnection } from './kubeconfig.ts';
import type { Logger } from './logger.ts';
import { pollCondition } from '../wait.ts';
import { resilientInformer } from './resilient-informer.ts';
import type { Backoff, ChangeType, ResilientInformer } from './resilient-informer.ts';

export const DEVPOLICY_GROUP = 'dev.x';
export const DEVPOLICY_VERSION = 'v1alpha1';
export const DEVPOLICY_PLURAL = 'devpolicies';

export interface ObjectCacheOptions {
  kubeConfig: KubeConnection;
  logger: Logger;
  /** Restart delays of the informers after an error (defaults: 500 ms doubling up to 30 s). */
  backoff?: Backoff;
}

export interface CacheChange {
  kind: 'Namespace' | 'DevPolicy';
  type: ChangeType;
  name: string;
}

export interface ObjectCache {
  /** Starts the informers; resolves after their first attempt (use ready()/waitUntilReady() for the data). */
  start(): Promise<void>;
  /** True once every informer has listed its objects at least once. */
  ready(): boolean;
  /** Resolves true once ready(), or false after `timeoutMs`. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  /** Labels of a namespace, or undefined if the namespace is not (yet) known. */
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined;
  /** The DevPolicy object as the API server returned it, or undefined. */
  devPolicy(name: string): unknown;
  /** Names of all known DevPolicies. */
  devPolicyNames(): string[];
  /** Called after every add, update or delete seen by an informer; returns a function that unsubscribes. */
  onChange(cb: (change: CacheChange) => void): () => void;
  stop(): Promise<void>;
}

interface NamespaceLike extends KubernetesObject {
  metadata?: { name?: string; labels?: Record<string, string> };
}

/** Creates the cache; nothing talks to the API server before start(). */
export function createObjectCache(opts: ObjectCacheOptions): ObjectCache {
  const listeners = new Set<(change: CacheChange) => void>();
  const emit = (kind: CacheChange['kind']) => (type: ChangeType, obj: KubernetesObject): void => {
    const change: CacheChange = { kind, type, name: obj.metadata?.name ?? '' };
    opts.logger.debug(change, 'cache change');
    for (const cb of listeners) cb(change);
  };
  const namespaces: ResilientInformer<NamespaceLike> = resilientInformer<NamespaceLike>({
    kubeConfig: opts.kubeConfig,
    kind: 'Namespace',
    path: '/api/v1/namespaces',
    logger: opts.logger,
    onEvent: emit('Namespace'),
    backoff: opts.backoff,
  });
  const policies: ResilientInformer<KubernetesObject> = resilientInformer<KubernetesObject>({
    kubeConfig: opts.kubeConfig,
    kind: 'DevPolicy',
    path: `/apis/${DEVPOLICY_GROUP}/${DEVPOLICY_VERSION}/${DEVPOLICY_PLURAL}`,
    logger: opts.logger,
    onEvent: emit('DevPolicy'),
    backoff: opts.backoff,
    notFoundHint: `the DevPolicy CRD (${DEVPOLICY_PLURAL}.${DEVPOLICY_GROUP}) is not installed: apply deploy/crds`,
  });
  const informers = [namespaces, policies];
  const ready = (): boolean => informers.every((i) => i.synced());

  return {
    start: async () => {
      await Promise.all(informers.map((i) => i.start()));
    },
    ready,
    waitUntilReady: (timeoutMs) => pollCondition(ready, { timeoutMs, intervalMs: 50 }),
    namespaceLabels: (name) => {
      const ns = namespaces.cache().get(name);
      return ns ? (ns.metadata?.labels ?? {}) : undefined;
    },
    devPolicy: (name) => policies.cache().get(name),
    devPolicyNames: () => policies.cache().list().map((p) => p.metadata?.name ?? ''),
    onChange: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    stop: async () => {
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
