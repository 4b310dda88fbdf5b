// The server's connection to a cluster: the informer cache, webhook registration, side effects and the reconciler.
import type { Logger } from 'pino';
import { resolvePolicy, type ClusterView } from '../core/context.ts';
import type { KubeObject } from '../core/kube.ts';
import type { SideEffect } from '../core/result.ts';
import { createDevWorkloads, type DevWorkloads } from '../k8s/dev-workloads.ts';
import { createDevxObjects, type DevxObjects } from '../k8s/devx-objects.ts';
import { runEffects } from '../k8s/effects.ts';
import { loadKubeConfig, type KubeConnection, type LoadedKubeConfig } from '../k8s/kubeconfig.ts';
import { leaseStore } from '../k8s/lease.ts';
import { createObjectCache, type ObjectCache } from '../k8s/object-cache.ts';
import { createReconcilerApi } from '../k8s/reconciler-api.ts';
import { registerWebhooks, type WebhookConfigOptions } from '../k8s/register-webhooks.ts';
import type { ObjectChange } from '../reconciler/reconciler.ts';
import { runReconciler, type RunningReconciler } from '../reconciler/run.ts';
import { reconcilerSettings, replicaIdentity } from '../reconciler/settings.ts';
import type { DevPolicySpec } from '../schemas/policy.ts';
import type { ServerConfig } from '../schemas/server-config.ts';
import { cacheView } from './cluster-view.ts';

export interface ClusterConnection {
  cache: ObjectCache;
  workloads: DevWorkloads;
  /** What admission reviews and the reconciler read: the cache and the dev-mode workloads. */
  view: ClusterView;
  /** Both informer sets have listed at least once. */
  ready(): boolean;
  register(opts: WebhookConfigOptions & { url: string }): Promise<void>;
  runEffects(effects: SideEffect[]): void;
  /** The reconciler, unless `--no-reconcile`. */
  reconciler?: RunningReconciler;
  stop(): Promise<void>;
}

interface ReconcilerParts {
  running: RunningReconciler;
  devxObjects: DevxObjects;
}

/** The reconciler and the informers on devx's own objects; leader election unless `--no-leader-election`. */
async function startReconciler(o: { config: ServerConfig; kc: KubeConnection; view: ClusterView; workloads: DevWorkloads; logger: Logger }): Promise<ReconcilerParts> {
  const settings = reconcilerSettings(process.env);
  const identity = replicaIdentity(o.config.identity, process.env);
  const log = o.logger.child({ component: 'reconciler', identity });
  const devxObjects = createDevxObjects({ kubeConfig: o.kc, logger: log });
  await devxObjects.start();
  const policyOf = (namespace: string): DevPolicySpec | undefined => {
    const r = resolvePolicy(o.view, namespace);
    return r.ok ? r.spec : undefined;
  };
  const asChange = (c: { kind: string; type: ObjectChange['type']; object: unknown }): ObjectChange => ({ kind: c.kind, type: c.type, object: c.object as KubeObject });
  const running = runReconciler({
    api: createReconcilerApi(o.kc),
    ...(o.config.leaderElection ? { leaseStore: leaseStore(o.kc, { namespace: o.config.namespace, name: o.config.leaseName }) } : {}),
    identity,
    settings,
    logger: log,
    policyOf,
    known: () => [...o.workloads.list().map((w) => asChange({ ...w, type: 'add' })), ...devxObjects.list().map(asChange)],
    subscribe: (cb) => {
      const offs = [o.workloads.onChange((c) => cb(asChange(c))), devxObjects.onChange((c) => cb(asChange(c)))];
      return () => offs.forEach((off) => off());
    },
  });
  return { running, devxObjects };
}

/** The API server connection of `--kubeconfig`/`--context`, loaded once for self-managed TLS and connectCluster. */
export function loadClusterKubeConfig(config: ServerConfig): LoadedKubeConfig {
  return loadKubeConfig({ ...(config.kubeconfig ? { path: config.kubeconfig } : {}), ...(config.context ? { context: config.context } : {}) });
}

export async function connectCluster(config: ServerConfig, loaded: LoadedKubeConfig, logger: Logger): Promise<ClusterConnection> {
  const log = logger.child({ component: 'k8s' });
  log.info({ source: loaded.source, server: loaded.server, context: loaded.context }, 'connecting to the API server');
  const cache = createObjectCache({ kubeConfig: loaded.kubeConfig, logger: log });
  const workloads = createDevWorkloads({ kubeConfig: loaded.kubeConfig, logger: log });
  await Promise.all([cache.start(), workloads.start()]);
  // One view (one parse per DevPolicy version) for admission and the reconciler.
  const view = cacheView({
    namespaceLabels: (n) => cache.namespaceLabels(n),
    devPolicy: (n) => cache.devPolicy(n),
    devWorkloadCount: (ns, exclude) => workloads.count(ns, exclude),
    isInDevMode: (kind, ns, name) => workloads.isInDevMode(kind, ns, name),
  });
  const parts = config.reconcile ? await startReconciler({ config, kc: loaded.kubeConfig, view, workloads, logger }) : undefined;
  return {
    cache,
    workloads,
    view,
    ready: () => cache.ready() && workloads.ready(),
    register: async (opts) => {
      await registerWebhooks(loaded.kubeConfig, opts);
      log.info({ url: opts.url }, 'webhook configurations registered');
    },
    runEffects: (effects) => runEffects(loaded.kubeConfig, effects, log),
    ...(parts ? { reconciler: parts.running } : {}),
    stop: async () => {
      await parts?.running.stop();
      await Promise.all([cache.stop(), workloads.stop(), parts?.devxObjects.stop()]);
    },
  };
}
