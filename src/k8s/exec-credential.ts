// Credentials from a kubeconfig exec plugin (client.authentication.k8s.io v1 and v1beta1), run the way kubectl runs
// it: the command with its args and env plus KUBERNETES_EXEC_INFO, stdin closed (a server has no terminal to hand
// over), stdout an ExecCredential. The answer is kept until its expirationTimestamp (for ever without one) or until
// the API server rejects it, and requests that need it at the same time share one run.
import { spawn } from 'node:child_process';
import { z } from 'zod';
import type { KubeconfigExec } from './kubeconfig-file.ts';

export const EXEC_API_VERSIONS: readonly string[] = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 1024 * 1024;

export interface ExecCredential {
  token?: string;
  /** PEM client certificate and key, when the plugin answers with those instead of a token. */
  cert?: Buffer;
  key?: Buffer;
}

/** What KUBERNETES_EXEC_INFO tells a plugin about the cluster when it sets provideClusterInfo. */
export interface ExecClusterInfo {
  server: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  /** Base64 of the CA bundle, as in a kubeconfig. */
  'certificate-authority-data'?: string;
}

export interface ExecPluginOptions {
  exec: KubeconfigExec;
  /** The kubeconfig user the plugin belongs to, for messages. */
  user: string;
  cluster: ExecClusterInfo;
  /** Kill the plugin after this long (default 60 s). */
  timeoutMs?: number;
}

const ExecCredentialSchema = z.object({
  apiVersion: z.string(),
  kind: z.literal('ExecCredential'),
  status: z
    .object({
      token: z.string().nullish(),
      clientCertificateData: z.string().nullish(),
      clientKeyData: z.string().nullish(),
      expirationTimestamp: z.string().nullish(),
    })
    .nullish(),
});

function execInfo(opts: ExecPluginOptions): string {
  const spec = { interactive: false, ...(opts.exec.provideClusterInfo ? { cluster: opts.cluster } : {}) };
  return JSON.stringify({ apiVersion: opts.exec.apiVersion, kind: 'ExecCredential', spec });
}

function envOf(opts: ExecPluginOptions): NodeJS.ProcessEnv {
  const extra = Object.fromEntries((opts.exec.env ?? []).map((e) => [e.name, e.value]));
  return { ...process.env, ...extra, KUBERNETES_EXEC_INFO: execInfo(opts) };
}

function who(opts: ExecPluginOptions): string {
  return `exec plugin "${opts.exec.command}" of kubeconfig user "${opts.user}"`;
}

function startError(opts: ExecPluginOptions, err: NodeJS.ErrnoException): Error {
  if (err.code !== 'ENOENT') return new Error(`${who(opts)} could not be started: ${err.message}`, { cause: err });
  const hint = opts.exec.installHint?.trim() || 'install it, or put it on the PATH of devx-webhook';
  return new Error(`${who(opts)} was not found: ${hint}`, { cause: err });
}

/** Runs the plugin once; resolves with its stdout. */
function runPlugin(opts: ExecPluginOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.exec.command, opts.exec.args ?? [], { env: envOf(opts), stdio: ['ignore', 'pipe', 'pipe'] });
    // Not spawn's own `timeout`: its timer outlives a command that could not be started.
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(0, MAX_OUTPUT)));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-2000)));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(startError(opts, e));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${who(opts)} failed (${code === null ? `killed by ${signal}` : `exit code ${code}`})${err.trim() ? `: ${err.trim()}` : ''}`));
    });
  });
}

interface Cached {
  credential: ExecCredential;
  /** ms since the epoch; undefined: valid until devx restarts. */
  expiresAt?: number;
}

function parseCredential(opts: ExecPluginOptions, stdout: string): Cached {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new Error(`${who(opts)} did not print an ExecCredential as JSON`);
  }
  const parsed = ExecCredentialSchema.safeParse(doc);
  if (!parsed.success) throw new Error(`${who(opts)} printed something that is not an ExecCredential`);
  if (parsed.data.apiVersion !== opts.exec.apiVersion) {
    throw new Error(`${who(opts)} answered with apiVersion ${parsed.data.apiVersion}, but the kubeconfig asks for ${opts.exec.apiVersion}`);
  }
  const s = parsed.data.status ?? {};
  const expiresAt = s.expirationTimestamp ? Date.parse(s.expirationTimestamp) : undefined;
  if (Number.isNaN(expiresAt)) throw new Error(`${who(opts)} printed an invalid expirationTimestamp: ${s.expirationTimestamp}`);
  const withExpiry = (credential: ExecCredential): Cached => (expiresAt === undefined ? { credential } : { credential, expiresAt });
  if (s.token) return withExpiry({ token: s.token });
  if (s.clientCertificateData && s.clientKeyData) return withExpiry({ cert: Buffer.from(s.clientCertificateData), key: Buffer.from(s.clientKeyData) });
  throw new Error(`${who(opts)} printed neither status.token nor status.clientCertificateData and clientKeyData`);
}

/** Checks what can be checked before the first run, so a kubeconfig devx cannot use fails at startup. */
export function checkExecConfig(exec: KubeconfigExec, user: string): void {
  if (!EXEC_API_VERSIONS.includes(exec.apiVersion)) {
    throw new Error(
      `kubeconfig user "${user}": exec plugin apiVersion ${exec.apiVersion} is not supported (use ${EXEC_API_VERSIONS.join(' or ')}; ` +
        'a current version of the plugin writes those)',
    );
  }
  if (exec.interactiveMode === 'Always') {
    throw new Error(`kubeconfig user "${user}": exec plugin "${exec.command}" needs a terminal (interactiveMode: Always), which devx-webhook does not have: use a token or a plugin that runs without one`);
  }
}

export interface ExecCredentialSource {
  /** The current credential, from the plugin's last answer or a new run once that expired or was forgotten. */
  get(): Promise<ExecCredential>;
  /** Forgets the last answer (the API server rejected it); true: the next get() runs the plugin again. */
  forget(): boolean;
}

export function execCredentialSource(opts: ExecPluginOptions): ExecCredentialSource {
  let cached: Cached | undefined;
  let running: Promise<ExecCredential> | undefined;
  return {
    get: () => {
      if (cached && (cached.expiresAt === undefined || Date.now() < cached.expiresAt)) return Promise.resolve(cached.credential);
      running ??= runPlugin(opts)
        .then((stdout) => {
          cached = parseCredential(opts, stdout);
          return cached.credential;
        })
        .finally(() => (running = undefined));
      return running;
    },
    forget: () => {
      cached = undefined;
      return true;
    },
  };
}
