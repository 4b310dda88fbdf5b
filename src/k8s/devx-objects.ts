// Informers on the objects devx itself makes: sync Secrets, workdir claims and dev copies (Jobs and Deployments).
// Their changes (e.g. someone deletes a sync Secret or a copy) wake the reconciler for the workload they belong to at
// once, instead of at the next resync. Only devx's objects are watched (label selectors), never all Secrets.
import type { KubernetesObject } from '@kubernetes/client-node';
import { collectionPathOf } from '../core/kinds.ts';
import { LABEL_COPY } from '../core/names.ts';
import { SYNC_SECRET_SELECTOR } from '../reconciler/sync-secret-object.ts';
import { WORKDIR_VOLUME_SELECTOR } from '../reconciler/workdir-volume-object.ts';
import type { KubeConnection } from './kubeconfig.ts';
import type { Logger } from './logger.ts';
import { resilientInformer, type Backoff, type ChangeType, type ResilientInformer } from './resilient-informer.ts';

type WatchedKind = 'Secret' | 'PersistentVolumeClaim' | 'Job' | 'Deployment';

const WATCHED: Array<{ kind: WatchedKind; selector: string }> = [
  { kind: 'Secret', selector: SYNC_SECRET_SELECTOR },
  { kind: 'PersistentVolumeClaim', selector: WORKDIR_VOLUME_SELECTOR },
  { kind: 'Job', selector: LABEL_COPY },
  { kind: 'Deployment', selector: LABEL_COPY },
];

export interface DevxObjectChange {
  kind: WatchedKind;
  type: ChangeType;
  object: KubernetesObject;
}

export interface DevxObjects {
  start(): Promise<void>;
  ready(): boolean;
  /** A dev copy (Job or Deployment) by name, as the informer holds it. */
  get(kind: string, namespace: string, name: string): KubernetesObject | undefined;
  /** Every sync Secret, workdir claim and dev copy known. */
  list(): DevxObjectChange[];
  onChange(cb: (change: DevxObjectChange) => void): () => void;
  stop(): Promise<void>;
}

export function createDevxObjects(opts: { kubeConfig: KubeConnection; logger: Logger; backoff?: Backoff }): DevxObjects {
  const listeners = new Set<(change: DevxObjectChange) => void>();
  const informers = WATCHED.map(({ kind, selector }) => ({
    kind,
    informer: resilientInformer<KubernetesObject>({
      kubeConfig: opts.kubeConfig,
      kind: `${kind} (devx)`,
      path: collectionPathOf(kind),
      labelSelector: selector,
      logger: opts.logger,
      onEvent: (type, object) => {
        for (const cb of listeners) cb({ kind, type, object });
      },
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
    }) as ResilientInformer<KubernetesObject>,
  }));
  return {
    start: async () => {
      await Promise.all(informers.map((i) => i.informer.start()));
    },
    ready: () => informers.every((i) => i.informer.synced()),
    get: (kind, namespace, name) => informers.find((i) => i.kind === kind)?.informer.cache().get(name, namespace),
    list: () => informers.flatMap(({ kind, informer }) => informer.cache().list().map((object) => ({ kind, type: 'add' as const, object }))),
    onChange: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    stop: async () => {
      await Promise.all(informers.map((i) => i.informer.stop()));
    },
  };
}
