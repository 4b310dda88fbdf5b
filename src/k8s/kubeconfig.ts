// Where devx's connection to the API server comes from, for the server and the agent alike: @kubernetes/client-node's
// KubeConfig (kubeconfig files and $KUBECONFIG merged as kubectl does, a pod's service account with its rotating
// token, client certificates, tokens, exec plugins, auth providers, proxies). devx only chooses the source and the
// context, and says plainly what to do when none is usable.
import fs from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export type { KubeConfig };

/** devx's connection to one API server: client-node's KubeConfig, its current context the one in use. */
export type KubeConnection = KubeConfig;

/** Where the configuration was found, for the startup log line. */
export type KubeConfigSource = 'file' | 'in-cluster' | 'default';

export interface LoadKubeConfigOptions {
  /** Path of a kubeconfig file (`--kubeconfig`). Wins over everything else. */
  path?: string;
  /** Context to use instead of the file's current context (`--context`). */
  context?: string;
  /** Prefix of the pod's service-account directory (tests; client-node's `loadFromCluster(pathPrefix)`). */
  inClusterPathPrefix?: string;
}

export interface LoadedKubeConfig {
  kubeConfig: KubeConnection;
  source: KubeConfigSource;
  /** API server URL of the chosen context, without a trailing slash. */
  server: string;
  /** Name of the context in use (`inClusterContext` for a service account). */
  context: string;
  /** The context's namespace, or the pod's namespace in a cluster, when known. */
  namespace?: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const NO_KUBECONFIG = 'no usable kubeconfig: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config or run in a pod';

/** Running in a pod with a service account: the API server's address in the environment and a token mounted. */
function isInCluster(prefix: string): boolean {
  const env = process.env;
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) && fs.existsSync(path.join(prefix, SERVICE_ACCOUNT_DIR, 'token'));
}

function readable(file: string): void {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(`cannot read kubeconfig ${file} (${code}): pass --kubeconfig with a readable file`, { cause: err });
  }
}

function loadSource(kc: KubeConfig, opts: LoadKubeConfigOptions): KubeConfigSource {
  const prefix = opts.inClusterPathPrefix ?? '';
  if (opts.path) {
    readable(opts.path);
    kc.loadFromFile(opts.path);
    return 'file';
  }
  if (!process.env.KUBECONFIG && isInCluster(prefix)) {
    kc.loadFromCluster(prefix);
    return 'in-cluster';
  }
  kc.loadFromDefault();
  return process.env.KUBECONFIG ? 'file' : 'default';
}

/** Loads the KubeConfig from its source; anything client-node throws (YAML, a missing $KUBECONFIG file) is wrapped. */
function loadFrom(kc: KubeConfig, opts: LoadKubeConfigOptions): KubeConfigSource {
  try {
    return loadSource(kc, opts);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('cannot read kubeconfig')) throw err;
    const where = opts.path ?? process.env.KUBECONFIG ?? '~/.kube/config';
    throw new Error(`kubeconfig ${where} is not usable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function useContext(kc: KubeConfig, context: string | undefined): void {
  if (!context) return;
  if (!kc.getContextObject(context)) {
    const names = kc.getContexts().map((c) => c.name);
    const known = names.length > 0 ? `one of ${names.join(', ')}` : 'none are defined';
    throw new Error(`kubeconfig has no context named "${context}": pass --context with ${known} (list them with \`kubectl config get-contexts\`)`);
  }
  kc.setCurrentContext(context);
}

/** The current cluster's server; throws when there is none (or only client-node's http://localhost:8080 fallback). */
function serverOf(kc: KubeConfig, source: KubeConfigSource): string {
  const cluster = kc.getCurrentCluster();
  // loadFromDefault() falls back to an unauthenticated http://localhost:8080 when it finds nothing at all.
  const fallback = source === 'default' && cluster?.name === 'cluster' && cluster.server === 'http://localhost:8080';
  if (cluster?.server && !fallback) return cluster.server.replace(/\/+$/, '');
  const names = kc.getContexts().map((c) => c.name);
  if (names.length > 0 && !kc.getContextObject(kc.getCurrentContext())) {
    throw new Error(`kubeconfig has no usable current-context: pass --context (one of ${names.join(', ')}) or run \`kubectl config use-context NAME\``);
  }
  throw new Error(NO_KUBECONFIG);
}

/**
 * Loads the client configuration like kubectl does, in this order: an explicit path; $KUBECONFIG (a list, merged);
 * in-cluster (service-account token) when running in a pod; ~/.kube/config. Throws with a plain message that says
 * what to do when nothing usable is found, a file cannot be read, or the requested context does not exist — this
 * runs at startup, where throwing is the right thing.
 */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): LoadedKubeConfig {
  const kc = new KubeConfig();
  const source = loadFrom(kc, opts);
  useContext(kc, opts.context);
  const server = serverOf(kc, source);
  const context = kc.getCurrentContext();
  const namespace = kc.getContextObject(context)?.namespace?.trim();
  return { kubeConfig: kc, source, server, context, ...(namespace ? { namespace } : {}) };
}
