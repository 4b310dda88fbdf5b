// The server's connection to a cluster: the informer cache, webhook registration, side effects and the reconciler.
import type { Logger } from 'pino';
import { resolvePolicy, type ClusterView } from '../core/context.ts';
import { LABEL_POLICY } from '../core/names.ts';
import type { RecordSigner } from '../core/records.ts';
import { createOwnerObjects, type OwnerObjects } from '../k8s/owner-objects.ts';
import { loadRecordKey, whoAmI } from '../k8s/record-key-secret.ts';
import { hmacSigner, randomRecordKey } from '../tls/record-signer.ts';
import type { KubeObject } from '../core/kube.ts';
import { createDevWorkloads, type DevWorkloads } from '../k8s/dev-workloads.ts';
import { createDevxObjects, type DevxObjects } from '../k8s/devx-objects.ts';
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
  /** Signs and verifies devx's records, with the key in devx's namespace. */
  signer: RecordSigner;
  /** devx's own user name (its ServiceAccount), from the API server. */
  self: string | undefined;
  /** Fetches what the informers lack of a pod's owner chain, before its review is decided. */
  prefetchOwners(pod: unknown, namespace: string | undefined): Promise<void>;
  /** The reconciler, unless `--no-reconcile`. */
  reconciler?: RunningReconciler;
  stop(): Promise<void>;
}

/** The reconciler and the informers on devx's own objects; leader election unless `--no-leader-election`. */
async function startReconciler(o: { config: ServerConfig; kc: KubeConnection; view: ClusterView; workloads: DevWorkloads; devxObjects: DevxObjects; signer: RecordSigner; logger: Logger }): Promise<RunningReconciler> {
  const settings = reconcilerSettings(process.env);
  const identity = replicaIdentity(o.config.identity, process.env);
  const log = o.logger.child({ component: 'reconciler', identity });
  const devxObjects = o.devxObjects;
  const policyOf = (namespace: string): DevPolicySpec | undefined => {
    const r = resolvePolicy(o.view, namespace);
    return r.ok ? r.value.spec : undefined;
  };
  const asChange = (c: { kind: string; type: ObjectChange['type']; object: unknown }): ObjectChange => ({ kind: c.kind, type: c.type, object: c.object as KubeObject });
  const running = runReconciler({
    api: createReconcilerApi(o.kc),
    ...(o.config.leaderElection ? { leaseStore: leaseStore(o.kc, { namespace: o.config.namespace, name: o.config.leaseName }) } : {}),
    identity,
    settings,
    logger: log,
    policyOf,
    namespaceEnabled: (namespace) => o.view.namespaceLabels(namespace)?.[LABEL_POLICY] !== undefined,
    signer: o.signer,
    known: () => [...o.workloads.list().map((w) => asChange({ ...w, type: 'add' })), ...devxObjects.list().map(asChange)],
    subscribe: (cb) => {
      const offs = [o.workloads.onChange((c) => cb(asChange(c))), devxObjects.onChange((c) => cb(asChange(c)))];
      return () => offs.forEach((off) => off());
    },
  });
  return running;
}

/** The API server connection of `--kubeconfig`/`--context`, loaded once for self-managed TLS and connectCluster. */
export function loadClusterKubeConfig(config: ServerConfig): LoadedKubeConfig {
  return loadKubeConfig({ ...(config.kubeconfig ? { path: config.kubeconfig } : {}), ...(config.context ? { context: config.context } : {}) });
}

export async function connectCluster(config: ServerConfig, loaded: LoadedKubeConfig, logger: Logger): Promise<ClusterConnection> {
  const log = logger.child({ component: 'k8s' });
  log.info({ source: loaded.source, server: loaded.server, context: loaded.context }, 'connecting to the API server');
  const kc = loaded.kubeConfig;
  // Who devx is, and the key of its records: both before any review, which needs them.
  const [self, stored] = await Promise.all([whoAmI(kc), loadRecordKey(kc, config.namespace)]);
  if (stored) log.info({ self, namespace: config.namespace }, 'devx authenticates as this user; its records are signed with the key in Secret devx-records-key');
  else log.warn({ self, namespace: config.namespace }, 'namespace missing: the record key is kept in memory, so records devx writes now are not verified by other replicas or after a restart (create the namespace)');
  const signer = hmacSigner(stored ?? randomRecordKey());
  const cache = createObjectCache({ kubeConfig: kc, logger: log });
  const workloads = createDevWorkloads({ kubeConfig: kc, logger: log });
  const devxObjects = createDevxObjects({ kubeConfig: kc, logger: log });
  const owners: OwnerObjects = createOwnerObjects({
    kubeConfig: kc,
    logger: log,
    informed: (kind, ns, name) => (devxObjects.get(kind, ns, name) ?? workloads.object(kind, ns, name)) as KubeObject | undefined,
  });
  await Promise.all([cache.start(), workloads.start(), devxObjects.start(), owners.start()]);
  // One view (one parse per DevPolicy version) for admission and the reconciler.
  const view = cacheView({
    namespaceLabels: (n) => cache.namespaceLabels(n),
    devPolicy: (n) => cache.devPolicy(n),
    devWorkloadCount: (ns, exclude) => workloads.count(ns, exclude),
    isInDevMode: (kind, ns, name) => workloads.isInDevMode(kind, ns, name),
    object: owners.get,
  });
  const reconciler = config.reconcile ? await startReconciler({ config, kc, view, workloads, devxObjects, signer, logger }) : undefined;
  return {
    cache,
    workloads,
    view,
    signer,
    self,
    prefetchOwners: owners.prefetch,
    ready: () => cache.ready() && workloads.ready() && devxObjects.ready() && owners.ready(),
    register: async (opts) => {
      await registerWebhooks(loaded.kubeConfig, opts);
      log.info({ url: opts.url }, 'webhook configurations registered');
    },
    ...(reconciler ? { reconciler } : {}),
    stop: async () => {
      await reconciler?.stop();
      await Promise.all([cache.stop(), workloads.stop(), devxObjects.stop(), owners.stop()]);
    },
  };
}
