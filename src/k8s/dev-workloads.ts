// The workloads in dev mode, cluster-wide: what maxWorkloads counts, and what tells a scale request (whose Scale
// object has no labels) that its Deployment or StatefulSet is in dev mode. Only labelled objects are watched.
import type { KubernetesObject } from '@kubernetes/client-node';
import { collectionPathOf } from '../core/kinds.ts';
import { devModeWeight } from '../core/duplicate.ts';
import { ANN_COPY_OF, ANN_DUPLICATES, LABEL_ENABLED, WORKLOAD_KINDS } from '../core/names.ts';
import type { KubeConnection } from './kubeconfig.ts';
import type { Logger } from './logger.ts';
import { resilientInformer, type Backoff, type ChangeType, type ResilientInformer } from './resilient-informer.ts';

/** A copy devx makes (a Job's or a DaemonSet's dev copy) carries this annotation and is not a workload of its own. */
export { ANN_COPY_OF };


const SELECTOR = `${LABEL_ENABLED}=true`;

type Obj = KubernetesObject & { metadata?: { annotations?: Record<string, string>; ownerReferences?: unknown[] } };

export interface DevWorkloads {
  start(): Promise<void>;
  ready(): boolean;
  /** Dev-mode workloads in a namespace other than `exclude` (`<kind>/<name>`, kind lowercase); one in duplicate mode
   * counts once per copy. */
  count(namespace: string, exclude: string): number | undefined;
  /** Whether `kind/namespace/name` is in dev mode with its own pods (not duplicate mode, which leaves the workload as
   * it is); undefined before the first list. */
  isInDevMode(kind: string, namespace: string, name: string): boolean | undefined;
  /** A labelled object of one of the six kinds, as the informer holds it. */
  object(kind: string, namespace: string, name: string): KubernetesObject | undefined;
  /** Every dev-mode workload known, as `{kind, object}`. */
  list(): Array<{ kind: string; object: KubernetesObject }>;
  /**
   * Called for every add, update or delete of a labelled object of the six kinds, copies and pods made from labelled
   * templates included (`delete` also when the label goes: the object leaves the watched set). Returns a function
   * that unsubscribes.
   */
  onChange(cb: (change: DevWorkloadChange) => void): () => void;
  stop(): Promise<void>;
}

export interface DevWorkloadChange {
  kind: string;
  type: ChangeType;
  object: KubernetesObject;
}

/** Bare pods count; pods a controller made from a labelled template belong to their workload. */
function isWorkload(kind: string, obj: Obj): boolean {
  if (obj.metadata?.annotations?.[ANN_COPY_OF]) return false;
  return kind !== 'Pod' || (obj.metadata?.ownerReferences ?? []).length === 0;
}

export function createDevWorkloads(opts: { kubeConfig: KubeConnection; logger: Logger; backoff?: Backoff }): DevWorkloads {
  const informers = new Map<string, ResilientInformer<Obj>>();
  const listeners = new Set<(change: DevWorkloadChange) => void>();
  const emit = (kind: string) => (type: ChangeType, object: Obj): void => {
    for (const cb of listeners) cb({ kind, type, object });
  };
  for (const kind of WORKLOAD_KINDS) {
    informers.set(
      kind,
      resilientInformer<Obj>({
        kubeConfig: opts.kubeConfig,
        kind: `${kind} (dev mode)`,
        path: collectionPathOf(kind),
        labelSelector: SELECTOR,
        logger: opts.logger,
        onEvent: emit(kind),
        ...(opts.backoff ? { backoff: opts.backoff } : {}),
      }),
    );
  }
  const all = [...informers.values()];
  const ready = (): boolean => all.every((i) => i.synced());
  const list = (): Array<{ kind: string; object: KubernetesObject }> =>
    [...informers].flatMap(([kind, inf]) => inf.cache().list().filter((o) => isWorkload(kind, o)).map((object) => ({ kind, object })));
  return {
    start: async () => {
      await Promise.all(all.map((i) => i.start()));
    },
    ready,
    count: (namespace, exclude) => {
      if (!ready()) return undefined;
      const counted = list().filter((w) => w.object.metadata?.namespace === namespace && `${w.kind.toLowerCase()}/${w.object.metadata?.name}` !== exclude);
      return counted.reduce((n, w) => n + devModeWeight((w.object as Obj).metadata?.annotations ?? {}), 0);
    },
    isInDevMode: (kind, namespace, name) => {
      const inf = informers.get(kind);
      if (!inf?.synced()) return undefined;
      const obj = inf.cache().get(name, namespace);
      return obj !== undefined && obj.metadata?.annotations?.[ANN_DUPLICATES] === undefined;
    },
    object: (kind, namespace, name) => informers.get(kind)?.cache().get(name, namespace),
    list,
    onChange: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    stop: async () => {
      await Promise.all(all.map((i) => i.stop()));
    },
  };
}
