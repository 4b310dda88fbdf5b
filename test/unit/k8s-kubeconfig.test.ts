// What devx adds to client-node's KubeConfig, against a small HTTPS server on loopback that reports how it was called:
// the choice of file and context (and the messages when none is usable), and that devx's requests carry what the
// KubeConfig says (client certificate, token, in-cluster service account). The auth methods themselves are
// client-node's, tested there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { stringify } from 'yaml';
import { loadKubeConfig, type LoadKubeConfigOptions, type LoadedKubeConfig } from '../../src/k8s/kubeconfig.ts';
import { kubeCall } from '../../src/k8s/rest.ts';
import { generateCA, issueCertificate, type KeyPairPem } from '../../src/tls/pki.ts';

interface Seen {
  authorization: string | null;
  /** CN of a client certificate the server could verify. */
  clientCN: string | null;
  servername: string | null;
  impersonateUser: string | null;
  impersonateGroup: string | null;
}

let tmp: string;
let ca: KeyPairPem;
let alice: KeyPairPem;
let server: https.Server;
let url: string;

const b64 = (s: string): string => Buffer.from(s).toString('base64');

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-kubeconfig-'));
  const notBefore = new Date(Date.now() - 60_000);
  const validityMs = 24 * 3600_000;
  ca = generateCA({ commonName: 'test-ca', notBefore, validityMs });
  // No DNS name but api.test: a server name check against anything else fails.
  const serving = issueCertificate(ca, { commonName: 'api', usage: 'server', dnsNames: ['api.test'], ipAddresses: ['127.0.0.1'], notBefore, validityMs });
  alice = issueCertificate(ca, { commonName: 'alice', usage: 'client', notBefore, validityMs });
  server = https.createServer({ cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const socket = req.socket as TLSSocket;
    const header = (name: string): string | null => (req.headers[name] as string | undefined) ?? null;
    const seen: Seen = {
      authorization: header('authorization'),
      clientCN: socket.authorized ? String(socket.getPeerCertificate().subject?.CN ?? '') : null,
      servername: (socket as TLSSocket & { servername?: string | false }).servername || null,
      impersonateUser: header('impersonate-user'),
      impersonateGroup: header('impersonate-group'),
    };
    // A credential the server no longer accepts (revoked, or rotated away).
    res.writeHead(seen.authorization === 'Bearer stale' ? 401 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(seen));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  fs.rmSync(tmp, { recursive: true, force: true });
});

let counter = 0;
/** A fresh directory under the test's temp dir. */
function dir(name: string): string {
  const d = path.join(tmp, `${++counter}-${name}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

interface KubeconfigSpec {
  clusters?: Record<string, Record<string, unknown>>;
  users?: Record<string, Record<string, unknown>>;
  contexts?: Record<string, Record<string, unknown>>;
  current?: string;
}

function writeKubeconfig(file: string, spec: KubeconfigSpec): string {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: Object.entries(spec.clusters ?? {}).map(([name, cluster]) => ({ name, cluster })),
    users: Object.entries(spec.users ?? {}).map(([name, user]) => ({ name, user })),
    contexts: Object.entries(spec.contexts ?? {}).map(([name, context]) => ({ name, context })),
    ...(spec.current ? { 'current-context': spec.current } : {}),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, stringify(doc));
  return file;
}

/** One cluster (the test server, CA inline), one user, one context. */
function simple(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return writeKubeconfig(path.join(dir('simple'), 'config'), {
    clusters: { test: { server: url, 'certificate-authority-data': b64(ca.certPem), ...cluster } },
    users: { u: user },
    contexts: { main: { cluster: 'test', user: 'u' } },
    current: 'main',
  });
}

const ask = async (loaded: LoadedKubeConfig): Promise<Seen> => (await kubeCall(loaded.kubeConfig, { method: 'GET', path: '/whoami' })) as Seen;
const load = (file: string, opts: LoadKubeConfigOptions = {}): LoadedKubeConfig => loadKubeConfig({ path: file, ...opts });

const ENV_KEYS = ['KUBECONFIG', 'HOME', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'] as const;

/** Runs `fn` with these environment variables (the others of ENV_KEYS unset), then restores them. */
function withEnv<T>(env: Partial<Record<(typeof ENV_KEYS)[number], string>>, fn: () => T): T {
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) {
    if (env[k] === undefined) delete process.env[k];
    else process.env[k] = env[k];
  }
  try {
    return fn();
  } finally {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

describe('requests carry what the kubeconfig says', () => {
  test('client certificate and key as data, CA as data; a token', async () => {
    const cert = await ask(load(simple({ 'client-certificate-data': b64(alice.certPem), 'client-key-data': b64(alice.keyPem) })));
    assert.equal(cert.clientCN, 'alice');
    assert.equal(cert.authorization, null);
    assert.equal((await ask(load(simple({ token: 'sa-token' })))).authorization, 'Bearer sa-token');
  });

  test('the server certificate is verified against the kubeconfig CA', async () => {
    const other = generateCA({ commonName: 'other-ca', notBefore: new Date(Date.now() - 60_000), validityMs: 3600_000 });
    await assert.rejects(ask(load(simple({ token: 't' }, { 'certificate-authority-data': b64(other.certPem) }))));
  });
});

describe('choosing the file and the context', () => {
  function twoContexts(): string {
    return writeKubeconfig(path.join(dir('contexts'), 'config'), {
      clusters: { test: { server: url, 'certificate-authority-data': b64(ca.certPem) } },
      users: { a: { token: 'token-a' }, b: { token: 'token-b' } },
      contexts: { 'ctx-a': { cluster: 'test', user: 'a' }, 'ctx-b': { cluster: 'test', user: 'b', namespace: 'bee' } },
      current: 'ctx-a',
    });
  }

  test('the current context, or the one asked for; a missing one names the choices', async () => {
    const file = twoContexts();
    const a = load(file);
    assert.deepEqual({ source: a.source, server: a.server, context: a.context }, { source: 'file', server: url, context: 'ctx-a' });
    assert.equal((await ask(a)).authorization, 'Bearer token-a');
    const b = load(file, { context: 'ctx-b' });
    assert.equal(b.context, 'ctx-b');
    assert.equal(b.namespace, 'bee');
    assert.equal((await ask(b)).authorization, 'Bearer token-b');
    assert.throws(() => load(file, { context: 'nope' }), /no context named "nope": pass --context with one of ctx-a, ctx-b/);
  });

  test('a missing or unparsable file', () => {
    const d = dir('bad-files');
    assert.throws(() => load(path.join(d, 'missing')), /cannot read kubeconfig .*missing \(ENOENT\): pass --kubeconfig/);
    fs.writeFileSync(path.join(d, 'yaml'), 'clusters: [unclosed\n');
    assert.throws(() => load(path.join(d, 'yaml')), /kubeconfig .*yaml is not usable/);
  });

  test('precedence: --kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config; nothing at all says what to do', () => {
    const home = dir('home');
    writeKubeconfig(path.join(home, '.kube/config'), { clusters: { h: { server: 'https://home.test' } }, users: { u: {} }, contexts: { h: { cluster: 'h', user: 'u' } }, current: 'h' });
    const other = writeKubeconfig(path.join(dir('env'), 'config'), { clusters: { e: { server: 'https://env.test' } }, users: { u: {} }, contexts: { e: { cluster: 'e', user: 'u' } }, current: 'e' });
    const explicit = writeKubeconfig(path.join(dir('explicit'), 'config'), { clusters: { x: { server: 'https://explicit.test/' } }, users: { u: {} }, contexts: { x: { cluster: 'x', user: 'u' } }, current: 'x' });
    const prefix = serviceAccount();
    const pod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443', HOME: home };
    const from = (env: Parameters<typeof withEnv>[0], opts: LoadKubeConfigOptions = {}): string =>
      withEnv(env, () => {
        const l = loadKubeConfig({ inClusterPathPrefix: prefix, ...opts });
        return `${l.source} ${l.server}`;
      });
    assert.equal(from({ ...pod, KUBECONFIG: other }, { path: explicit }), 'file https://explicit.test', 'a trailing slash is dropped');
    assert.equal(from({ ...pod, KUBECONFIG: other }), 'file https://env.test');
    assert.equal(from(pod), 'in-cluster https://10.0.0.1:443');
    assert.equal(from({ HOME: home }), 'default https://home.test');
    assert.throws(() => from({ HOME: dir('empty-home') }), /no usable kubeconfig: pass --kubeconfig, set KUBECONFIG/);
  });
});

/** A service-account directory under a fresh prefix (client-node's loadFromCluster(pathPrefix)). */
function serviceAccount(): string {
  const prefix = dir('pod');
  const sa = path.join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
  fs.mkdirSync(sa, { recursive: true });
  fs.writeFileSync(path.join(sa, 'token'), 'first-token');
  fs.writeFileSync(path.join(sa, 'ca.crt'), ca.certPem);
  fs.writeFileSync(path.join(sa, 'namespace'), 'devx-system');
  return prefix;
}

describe('in a pod', () => {
  test('the service account token, CA and namespace; the server from KUBERNETES_SERVICE_HOST/PORT', async () => {
    const prefix = serviceAccount();
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(url).port };
    const loaded = withEnv(env, () => loadKubeConfig({ inClusterPathPrefix: prefix }));
    assert.equal(loaded.source, 'in-cluster');
    assert.equal(loaded.server, url);
    assert.equal(loaded.namespace, 'devx-system');
    assert.equal((await ask(loaded)).authorization, 'Bearer first-token');
    assert.throws(() => withEnv(env, () => loadKubeConfig({ inClusterPathPrefix: prefix, context: 'x' })), /no context named "x"/);
  });
});
