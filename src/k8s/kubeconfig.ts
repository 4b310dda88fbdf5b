// Where devx's connection to the API server comes from: kubeconfig files read the way kubectl reads them, or a pod's
// service account. devx reads them itself: @kubernetes/client-node would cost the server ~86 MB of memory and about a
// second of startup just to load (test/unit/server-imports.test.ts keeps it out of the server). The agent, its own
// process, still loads kubeconfig through that package (agent-kubeconfig.ts), for its auth providers and
// port-forwarding.
import fs from 'node:fs';
import type https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { checkExecConfig, execCredentialSource, type ExecClusterInfo } from './exec-credential.ts';
import { readKubeconfigs, type KubeconfigCluster, type KubeconfigContext, type KubeconfigUser, type MergedKubeconfig } from './kubeconfig-file.ts';

/** Where the configuration was found, for the startup log line. */
export type KubeConfigSource = 'file' | 'in-cluster' | 'default';

export interface LoadKubeConfigOptions {
  /** Path of a kubeconfig file (`--kubeconfig`). Wins over everything else. */
  path?: string;
  /** Context to use instead of the file's current context (`--context`). */
  context?: string;
  /** Where KUBECONFIG, HOME and KUBERNETES_SERVICE_HOST/PORT come from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The pod's service-account directory (default /var/run/secrets/kubernetes.io/serviceaccount). */
  serviceAccountDir?: string;
}

/** devx's connection to one API server: where it is and how to talk to it. */
export interface KubeConnection {
  /** API server URL without a trailing slash; API paths are appended to it. */
  readonly server: string;
  /**
   * Fills one request's TLS settings (ca, cert, key, servername, rejectUnauthorized) and credential headers
   * (Authorization, Impersonate-*). May run an exec plugin or re-read a token file, hence async.
   */
  applyToRequest(opts: https.RequestOptions): Promise<void>;
  /**
   * The server answered 401: forgets credentials that can be fetched again (an exec plugin's answer, a token file's
   * content), so the next request gets fresh ones. True if there was anything to forget, i.e. a retry may succeed.
   */
  unauthorized?(): boolean;
}

export interface LoadedKubeConfig {
  kubeConfig: KubeConnection;
  source: KubeConfigSource;
  /** API server URL of the chosen context. */
  server: string;
  /** Name of the context in use (`in-cluster` for a service account). */
  context: string;
  /** The context's namespace, or the pod's namespace in a cluster, when known. */
  namespace?: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
// Projected service-account tokens are rotated by the kubelet (at 80 % of their life, an hour or more); reading the
// file again once a minute, as client-go does, always sends a valid one. The same holds for a kubeconfig tokenFile.
const TOKEN_REREAD_MS = 60_000;
const CONTEXT_HINT = 'list them with `kubectl config get-contexts`';

interface Tls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  insecure: boolean;
}

interface AuthParts {
  authorization?: string;
  cert?: Buffer;
  key?: Buffer;
}

interface Auth {
  parts(): Promise<AuthParts>;
  /** Drops what can be fetched again; true if there was such a thing. */
  forget(): boolean;
}

const fixedAuth = (parts: AuthParts): Auth => ({ parts: async () => parts, forget: () => false });

function applyTls(opts: https.RequestOptions, tls: Tls, auth: AuthParts): void {
  opts.rejectUnauthorized = !tls.insecure;
  if (tls.ca && !tls.insecure) opts.ca = tls.ca;
  if (tls.servername) opts.servername = tls.servername;
  const cert = auth.cert ?? tls.cert;
  const key = auth.key ?? tls.key;
  if (cert && key) {
    opts.cert = cert;
    opts.key = key;
  }
}

function connection(server: string, tls: Tls, auth: Auth, headers: Record<string, string | string[]>): KubeConnection {
  return {
    server,
    applyToRequest: async (opts) => {
      const parts = await auth.parts();
      applyTls(opts, tls, parts);
      opts.headers = { ...opts.headers, ...headers, ...(parts.authorization ? { authorization: parts.authorization } : {}) };
    },
    unauthorized: () => auth.forget(),
  };
}

function readOrExplain(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(`cannot read ${what} ${file} (${code}): fix the path (a relative path is relative to the kubeconfig file's directory)`, { cause: err });
  }
}

function pemData(data: string, what: string): Buffer {
  const pem = Buffer.from(data, 'base64');
  if (!pem.includes('-----BEGIN')) throw new Error(`${what} is not base64 of PEM data: fix it in the kubeconfig`);
  return pem;
}

/** A PEM from `<field>-data` (base64) or from the file `<field>`. */
function pemOf(data: string | null | undefined, file: string | null | undefined, what: string): Buffer | undefined {
  if (data) return pemData(data, what);
  return file ? readOrExplain(file, what) : undefined;
}

/** A bearer token read from a file that may be replaced (rotated) while devx runs. */
function tokenFromFile(file: string, what: string): Auth {
  const initial = readOrExplain(file, what).toString('utf8').trim();
  if (!initial) throw new Error(`${what} ${file} is empty`);
  let token = initial;
  let readAt = Date.now();
  const parts = async (): Promise<AuthParts> => {
    if (Date.now() - readAt >= TOKEN_REREAD_MS) {
      // A failed read (the file being swapped) keeps the last token; the next request tries again.
      const fresh = await fs.promises.readFile(file, 'utf8').then((t) => t.trim(), () => '');
      if (fresh) {
        token = fresh;
        readAt = Date.now();
      }
    }
    return { authorization: `Bearer ${token}` };
  };
  return {
    parts,
    forget: () => {
      readAt = 0;
      return true;
    },
  };
}

function serverUrl(raw: string | null | undefined, cluster: string): string {
  const hint = `fix the server of cluster "${cluster}" in the kubeconfig`;
  if (!raw) throw new Error(`kubeconfig cluster "${cluster}" has no server: ${hint}`);
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`kubeconfig cluster "${cluster}" has an invalid server URL ${raw}: ${hint}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`kubeconfig cluster "${cluster}" has a server URL that is not https: ${raw}: ${hint}`);
  return withScheme.replace(/\/+$/, '');
}

function clusterTls(c: KubeconfigCluster, name: string): Tls {
  if (c['proxy-url']) throw new Error(`kubeconfig cluster "${name}" sets proxy-url, which devx-webhook does not support: remove it, or reach the API server directly`);
  const what = `the certificate-authority of kubeconfig cluster "${name}"`;
  const ca = c['insecure-skip-tls-verify'] ? undefined : pemOf(c['certificate-authority-data'], c['certificate-authority'], what);
  return {
    insecure: c['insecure-skip-tls-verify'] === true,
    ...(ca ? { ca } : {}),
    ...(c['tls-server-name'] ? { servername: c['tls-server-name'] } : {}),
  };
}

function clientCertificate(u: KubeconfigUser, name: string): { cert?: Buffer; key?: Buffer } {
  const cert = pemOf(u['client-certificate-data'], u['client-certificate'], `the client-certificate of kubeconfig user "${name}"`);
  const key = pemOf(u['client-key-data'], u['client-key'], `the client-key of kubeconfig user "${name}"`);
  if (Boolean(cert) !== Boolean(key)) throw new Error(`kubeconfig user "${name}" has a client certificate without its key or a key without its certificate: set both`);
  return cert && key ? { cert, key } : {};
}

function impersonation(u: KubeconfigUser): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  if (u.as) headers['impersonate-user'] = u.as;
  if (u['as-uid']) headers['impersonate-uid'] = u['as-uid'];
  if (u['as-groups']?.length) headers['impersonate-group'] = u['as-groups'];
  for (const [k, v] of Object.entries(u['as-user-extra'] ?? {})) headers[`impersonate-extra-${encodeURIComponent(k)}`] = v;
  return headers;
}

function execInfoCluster(server: string, c: KubeconfigCluster, tls: Tls): ExecClusterInfo {
  return {
    server,
    ...(c['tls-server-name'] ? { 'tls-server-name': c['tls-server-name'] } : {}),
    ...(tls.insecure ? { 'insecure-skip-tls-verify': true } : {}),
    ...(tls.ca ? { 'certificate-authority-data': tls.ca.toString('base64') } : {}),
  };
}

/** How requests authenticate as `u`: a token, a token file, basic auth or an exec plugin (client certificates aside). */
function userAuth(u: KubeconfigUser, name: string, cluster: ExecClusterInfo): Auth {
  const provider = u['auth-provider'];
  if (provider) {
    throw new Error(
      `kubeconfig user "${name}" uses auth-provider "${provider.name}", which devx-webhook does not support: ` +
        'use an exec credential plugin (e.g. kubelogin, gke-gcloud-auth-plugin, kubelogin for Azure), a token or a client certificate',
    );
  }
  if (u.exec) {
    checkExecConfig(u.exec, name);
    const credential = execCredentialSource({ exec: u.exec, user: name, cluster });
    return {
      parts: async () => {
        const c = await credential.get();
        return c.token ? { authorization: `Bearer ${c.token}` } : { ...(c.cert && c.key ? { cert: c.cert, key: c.key } : {}) };
      },
      forget: credential.forget,
    };
  }
  if (u.token) return fixedAuth({ authorization: `Bearer ${u.token}` });
  if (u.tokenFile) return tokenFromFile(u.tokenFile, `the tokenFile of kubeconfig user "${name}"`);
  if (u.username || u.password) return fixedAuth({ authorization: `Basic ${Buffer.from(`${u.username ?? ''}:${u.password ?? ''}`).toString('base64')}` });
  return fixedAuth({});
}

interface Selected {
  contextName: string;
  clusterName: string;
  cluster: KubeconfigCluster;
  userName?: string;
  user?: KubeconfigUser;
  namespace?: string;
}

function contextNamed(merged: MergedKubeconfig, wanted: string | undefined): { name: string; context: KubeconfigContext } {
  const names = [...merged.contexts.keys()];
  const known = names.length > 0 ? `one of ${names.join(', ')}` : 'none are defined';
  const name = wanted ?? merged.currentContext;
  if (!name) throw new Error(`kubeconfig ${merged.files.join(':')} has no current-context: pass --context (${known}) or run \`kubectl config use-context NAME\``);
  const context = merged.contexts.get(name)?.value;
  if (!context) throw new Error(`kubeconfig has no context named "${name}": pass --context with ${known} (${CONTEXT_HINT})`);
  return { name, context };
}

function userNamed(merged: MergedKubeconfig, contextName: string, userName: string | null | undefined): { userName?: string; user?: KubeconfigUser } {
  if (!userName) return {};
  const user = merged.users.get(userName)?.value;
  if (!user) throw new Error(`kubeconfig context "${contextName}" names user "${userName}", which the kubeconfig does not define: fix the context`);
  return { userName, user };
}

function selectContext(merged: MergedKubeconfig, wanted: string | undefined): Selected {
  const { name: contextName, context } = contextNamed(merged, wanted);
  const clusterName = context.cluster ?? '';
  const cluster = merged.clusters.get(clusterName)?.value;
  if (!cluster) throw new Error(`kubeconfig context "${contextName}" names cluster "${clusterName}", which the kubeconfig does not define: fix the context`);
  return { contextName, clusterName, cluster, ...userNamed(merged, contextName, context.user), ...(context.namespace ? { namespace: context.namespace } : {}) };
}

function fromKubeconfig(files: string[], source: KubeConfigSource, context: string | undefined): LoadedKubeConfig {
  const s = selectContext(readKubeconfigs(files), context);
  const server = serverUrl(s.cluster.server, s.clusterName);
  const tls = clusterTls(s.cluster, s.clusterName);
  const user = s.user ?? {};
  const userName = s.userName ?? '';
  const withCert = { ...tls, ...clientCertificate(user, userName) };
  const auth = userAuth(user, userName, execInfoCluster(server, s.cluster, tls));
  return {
    kubeConfig: connection(server, withCert, auth, impersonation(user)),
    source,
    server,
    context: s.contextName,
    ...(s.namespace ? { namespace: s.namespace } : {}),
  };
}

function inClusterServer(env: NodeJS.ProcessEnv): string {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  return `https://${net.isIPv6(host) ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT}`;
}

/** Running in a pod with a service account: the API server's address in the environment and a token mounted. */
export function isInCluster(env: NodeJS.ProcessEnv, serviceAccountDir = SERVICE_ACCOUNT_DIR): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) && fs.existsSync(path.join(serviceAccountDir, 'token'));
}

function fromServiceAccount(env: NodeJS.ProcessEnv, dir: string): LoadedKubeConfig {
  const server = inClusterServer(env);
  const ca = readOrExplain(path.join(dir, 'ca.crt'), 'the service account CA');
  const auth = tokenFromFile(path.join(dir, 'token'), 'the service account token');
  const namespace = fs.existsSync(path.join(dir, 'namespace')) ? fs.readFileSync(path.join(dir, 'namespace'), 'utf8').trim() : '';
  return { kubeConfig: connection(server, { ca, insecure: false }, auth, {}), source: 'in-cluster', server, context: 'in-cluster', ...(namespace ? { namespace } : {}) };
}

type Located = { source: 'file' | 'default'; files: string[] } | { source: 'in-cluster' };

function locate(opts: LoadKubeConfigOptions, env: NodeJS.ProcessEnv, serviceAccountDir: string): Located {
  if (opts.path) return { source: 'file', files: [opts.path] };
  if (env.KUBECONFIG) {
    const files = [...new Set(env.KUBECONFIG.split(path.delimiter).filter(Boolean))].filter((f) => fs.existsSync(f));
    if (files.length === 0) throw new Error(`KUBECONFIG=${env.KUBECONFIG} names no file that exists: fix KUBECONFIG or pass --kubeconfig`);
    return { source: 'file', files };
  }
  if (isInCluster(env, serviceAccountDir)) return { source: 'in-cluster' };
  const home = path.join(env.HOME || os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return { source: 'default', files: [home] };
  throw new Error('no usable kubeconfig: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config or run in a pod');
}

/**
 * Loads the client configuration like kubectl does, in this order: an explicit path; $KUBECONFIG (a list, merged);
 * in-cluster (service-account token) when running in a pod; ~/.kube/config. Throws with a plain message that says
 * what to do when nothing usable is found, a file is malformed, the requested context does not exist, or the user's
 * authentication is something devx cannot do — this runs at startup, where throwing is the right thing.
 */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): LoadedKubeConfig {
  const env = opts.env ?? process.env;
  const serviceAccountDir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const found = locate(opts, env, serviceAccountDir);
  if (found.source !== 'in-cluster') return fromKubeconfig(found.files, found.source, opts.context);
  if (opts.context) throw new Error(`kubeconfig has no context named "${opts.context}": running in a pod with its service account, there are no contexts; drop --context`);
  return fromServiceAccount(env, serviceAccountDir);
}
