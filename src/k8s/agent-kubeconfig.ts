// The agent's kubeconfig, through @kubernetes/client-node: the agent (its own process) needs the package anyway for
// port-forwarding, and with it gets every auth provider kubectl users may have. The server never imports this file
// (it reads kubeconfig with kubeconfig.ts); the choice of file and context follows the same order and messages.
import fs from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { isInCluster, type KubeConfigSource, type KubeConnection, type LoadKubeConfigOptions } from './kubeconfig.ts';

export type { KubeConfig };

export interface LoadedAgentKubeConfig {
  kubeConfig: KubeConfig;
  source: KubeConfigSource;
  /** API server URL of the chosen context. */
  server: string;
}

function loadFrom(path: string | undefined): { kubeConfig: KubeConfig; source: KubeConfigSource } {
  const kc = new KubeConfig();
  if (path) {
    if (!fs.existsSync(path)) throw new Error(`cannot read kubeconfig ${path} (ENOENT): pass --kubeconfig with a readable file`);
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

/**
 * Loads the user's kubeconfig like kubectl does: an explicit path; $KUBECONFIG; in-cluster; ~/.kube/config. Throws
 * with a plain message when nothing usable is found or the requested context does not exist.
 */
export function loadAgentKubeConfig(opts: Pick<LoadKubeConfigOptions, 'path' | 'context'> = {}): LoadedAgentKubeConfig {
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

const connections = new WeakMap<KubeConfig, KubeConnection>();

/** The agent's KubeConfig as the connection rest.ts sends requests with (client-node fills in the credentials). */
export function connectionOf(kc: KubeConfig): KubeConnection {
  let conn = connections.get(kc);
  if (!conn) {
    const server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '');
    conn = { server, applyToRequest: (opts) => kc.applyToHTTPSOptions(opts) };
    connections.set(kc, conn);
  }
  return conn;
}
