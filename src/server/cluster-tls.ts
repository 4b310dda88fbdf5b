// Self-managed TLS with a cluster: the CA Secret and devx's webhook configurations. Loaded only in cluster mode.
import { secretCaStore } from '../k8s/ca-secret.ts';
import type { KubeConnection } from '../k8s/kubeconfig.ts';
import { patchCaBundles } from '../k8s/register-webhooks.ts';
import type { ServerConfig } from '../schemas/server-config.ts';
import type { ClusterTls } from '../tls/provider.ts';

/** The CA Secret and devx's webhook configurations, for self-managed TLS (and a CA file's bundle when registering). */
export function clusterTls(config: ServerConfig, kubeConfig: KubeConnection): ClusterTls {
  return {
    store: secretCaStore(kubeConfig, { namespace: config.namespace, name: config.caSecretName }),
    publisher: { publish: (desired) => patchCaBundles(kubeConfig, desired) },
    registering: Boolean(config.registerUrl),
  };
}

