// The server's connection to a cluster: the informer cache, webhook registration and side effects.
import type { Logger } from 'pino';
import type { SideEffect } from '../core/result.ts';
import { createDevWorkloads, type DevWorkloads } from '../k8s/dev-workloads.ts';
import { runEffects } from '../k8s/effects.ts';
import { loadKubeConfig } from '../k8s/kubeconfig.ts';
import { createObjectCache, type ObjectCache } from '../k8s/object-cache.ts';
import { registerWebhooks, type WebhookConfigOptions } from '../k8s/register-webhooks.ts';
import type { ServerConfig } from '../schemas/server-config.ts';

export interface ClusterConnection {
  cache: ObjectCache;
  workloads: DevWorkloads;
  /** Both informer sets have listed at least once. */
  ready(): boolean;
  register(opts: WebhookConfigOptions & { url: string }): Promise<void>;
  runEffects(effects: SideEffect[]): void;
  stop(): Promise<void>;
}

export async function connectCluster(config: ServerConfig, logger: Logger): Promise<ClusterConnection> {
  const loaded = loadKubeConfig({ ...(config.kubeconfig ? { path: config.kubeconfig } : {}), ...(config.context ? { context: config.context } : {}) });
  const log = logger.child({ component: 'k8s' });
  log.info({ source: loaded.source, server: loaded.server }, 'connecting to the API server');
  const cache = createObjectCache({ kubeConfig: loaded.kubeConfig, logger: log });
  const workloads = createDevWorkloads({ kubeConfig: loaded.kubeConfig, logger: log });
  await Promise.all([cache.start(), workloads.start()]);
  return {
    cache,
    workloads,
    ready: () => cache.ready() && workloads.ready(),
    register: async (opts) => {
      await registerWebhooks(loaded.kubeConfig, opts);
      log.info({ url: opts.url }, 'webhook configurations registered');
    },
    runEffects: (effects) => runEffects(loaded.kubeConfig, effects, log),
    stop: async () => {
      await Promise.all([cache.stop(), workloads.stop()]);
    },
  };
}
