// Where devx's connection to the API server comes from. This folder is the only one that imports
// @kubernetes/client-node; the rest of the server passes the KubeConfig around as an opaque value.
import fs from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

export type { KubeConfig };

/** Where the configuration was found, for the startup log line. */
export type KubeConfigSource = 'file' | 'in-cluster' | 'default';

export interface LoadKubeConfigOptions {
  /** Path of a kubeconfig file (`--kubeconfig`). Wins over everything else. */
  path?: string;
  /** Context to use instead of the file's current context (`--context`). */
  context?: string;
}

export interface LoadedKubeConfig {
  kubeConfig: KubeConfig;
  source: KubeConfigSource;
  /** API server URL of the chosen context. */
  server: string;
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function isInCluster(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) && fs.existsSync(SERVICE_ACCOUNT_TOKEN);
}

/**
 * Loads the client configuration like kubectl does, in this order: an explicit path; $KUBECONFIG; in-cluster
 * (service-account token) when running in a pod; ~/.kube/config. Throws with a plain message when nothing usable is
 * found or the requested context does not exist — this runs at startup, where throwing is the right thing.
 */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): LoadedKubeConfig {
  const { kubeConfig: kc, source } = loadFrom(opts.path);
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) throw new Error(`kubeconfig has no context named "${opts.context}"`);
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  // loadFromDefault() falls back to an unauthenticated http://localhost:8080 when it finds nothing at all.
  if (!cluster || (cluster.name === 'cluster' && cluster.server === 'http://localhost:8080')) {
    throw new Error('no usable kubeconfig: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config or run in a pod');
  }
  return { kubeConfig: kc, source, server: cluster.server };
}

function loadFrom(path: string | undefined): { kubeConfig: KubeConfig; source: KubeConfigSource } {
  const kc = new KubeConfig();
  if (path) {
    kc.loadFromFile(path);
    return { kubeConfig: kc, source: 'file' };
  }
  if (!process.env.KUBECONFIG && isInCluster(process.env)) {
    kc.loadFromCluster();
    return { kubeConfig: kc, source: 'in-cluster' };
  }
  kc.loadFromDefault();
  return { kubeConfig: kc, source: process.env.KUBECONFIG ? 'file' : 'default' };
}

/** The configuration of a pod's service account (for an explicit choice; loadKubeConfig detects it by itself). */
export function inClusterKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromCluster();
  return kc;
}
