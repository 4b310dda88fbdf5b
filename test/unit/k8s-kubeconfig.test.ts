// devx's own kubeconfig reader against a small HTTPS server on loopback that reports how it was called (bearer
// token, client certificate, SNI, impersonation): certificate and key data and files, paths relative to the
// kubeconfig, token, tokenFile, basic auth, exec plugins (token or client certificate, kept until expiry or a 401),
// context selection, $KUBECONFIG merging, in-cluster service accounts, and the messages for what devx cannot use.
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
import { kubeCall, kubeRequest } from '../../src/k8s/rest.ts';
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
const load = (file: string, opts: LoadKubeConfigOptions = {}): LoadedKubeConfig => loadKubeConfig({ path: file, env: {}, ...opts });

describe('credentials and TLS', () => {
  test('client certificate and key as data, CA as data', async () => {
    const loaded = load(simple({ 'client-certificate-data': b64(alice.certPem), 'client-key-data': b64(alice.keyPem) }));
    assert.equal(loaded.server, url);
    assert.equal(loaded.source, 'file');
    assert.equal(loaded.context, 'main');
    const seen = await ask(loaded);
    assert.equal(seen.clientCN, 'alice');
    assert.equal(seen.authorization, null);
  });

  test('certificate, key and CA as files, relative to the kubeconfig file', async () => {
    const d = dir('files');
    fs.mkdirSync(path.join(d, 'pki'));
    fs.writeFileSync(path.join(d, 'pki/ca.crt'), ca.certPem);
    fs.writeFileSync(path.join(d, 'pki/alice.crt'), alice.certPem);
    fs.writeFileSync(path.join(d, 'pki/alice.key'), alice.keyPem);
    const file = writeKubeconfig(path.join(d, 'config'), {
      clusters: { test: { server: url, 'certificate-authority': 'pki/ca.crt' } },
      users: { alice: { 'client-certificate': 'pki/alice.crt', 'client-key': './pki/alice.key' } },
      contexts: { main: { cluster: 'test', user: 'alice', namespace: 'team-a' } },
      current: 'main',
    });
    const loaded = load(file);
    assert.equal(loaded.namespace, 'team-a');
    assert.equal((await ask(loaded)).clientCN, 'alice');
  });

  test('token, tokenFile (relative, trimmed) and username/password', async () => {
    assert.equal((await ask(load(simple({ token: 'tok-123' })))).authorization, 'Bearer tok-123');

    const d = dir('token-file');
    fs.writeFileSync(path.join(d, 'token'), 'from-file\n');
    const file = writeKubeconfig(path.join(d, 'config'), {
      clusters: { test: { server: url, 'certificate-authority-data': b64(ca.certPem) } },
      users: { u: { tokenFile: 'token' } },
      contexts: { main: { cluster: 'test', user: 'u' } },
      current: 'main',
    });
    assert.equal((await ask(load(file))).authorization, 'Bearer from-file');

    // Rotated, and the old token refused: read again at once rather than a minute later.
    fs.writeFileSync(path.join(d, 'token'), 'stale');
    const rotating = load(file);
    fs.writeFileSync(path.join(d, 'token'), 'rotated');
    assert.equal((await ask(rotating)).authorization, 'Bearer rotated');

    const basic = await ask(load(simple({ username: 'bob', password: 's3cret' })));
    assert.equal(basic.authorization, `Basic ${b64('bob:s3cret')}`);
  });

  test('impersonation (as, as-groups) is sent as headers', async () => {
    const seen = await ask(load(simple({ token: 't', as: 'jane', 'as-groups': ['dev', 'ops'] })));
    assert.equal(seen.impersonateUser, 'jane');
    assert.equal(seen.impersonateGroup, 'dev, ops');
  });

  test('the server certificate is verified: unknown CA fails, insecure-skip-tls-verify does not check', async () => {
    const noCa = load(simple({ token: 't' }, { 'certificate-authority-data': null }));
    await assert.rejects(ask(noCa), /self-signed|unable to verify|self signed/i);
    const insecure = load(simple({ token: 't' }, { 'certificate-authority-data': null, 'insecure-skip-tls-verify': true }));
    assert.equal((await ask(insecure)).authorization, 'Bearer t');
  });

  test('tls-server-name is the name sent (SNI) and the name checked', async () => {
    const seen = await ask(load(simple({ token: 't' }, { 'tls-server-name': 'api.test' })));
    assert.equal(seen.servername, 'api.test');
    await assert.rejects(ask(load(simple({ token: 't' }, { 'tls-server-name': 'wrong.test' }))), /wrong\.test|altnames/);
  });
});

describe('exec credential plugins', () => {
  /** A plugin in its own directory: counts its runs, records KUBERNETES_EXEC_INFO, prints the file named by $1. */
  function plugin(): { dir: string; runs: () => number; info: () => { spec?: { interactive?: boolean; cluster?: { server?: string } } } } {
    const d = dir('exec');
    fs.writeFileSync(
      path.join(d, 'plugin.sh'),
      '#!/bin/sh\necho run >> "$PLUGIN_DIR/runs"\nprintf \'%s\' "$KUBERNETES_EXEC_INFO" > "$PLUGIN_DIR/info.json"\n' +
        '[ -n "$FAIL" ] && { echo "$FAIL" >&2; exit 3; }\ncat "$PLUGIN_DIR/$1"\n',
      { mode: 0o755 },
    );
    return {
      dir: d,
      runs: () => (fs.existsSync(path.join(d, 'runs')) ? fs.readFileSync(path.join(d, 'runs'), 'utf8').trim().split('\n').length : 0),
      info: () => JSON.parse(fs.readFileSync(path.join(d, 'info.json'), 'utf8')),
    };
  }

  function execKubeconfig(d: string, exec: Record<string, unknown>): string {
    return writeKubeconfig(path.join(d, 'config'), {
      clusters: { test: { server: url, 'certificate-authority-data': b64(ca.certPem) } },
      // A relative command with a slash is relative to the kubeconfig's directory.
      users: { u: { exec: { command: './plugin.sh', env: [{ name: 'PLUGIN_DIR', value: d }], ...exec } } },
      contexts: { main: { cluster: 'test', user: 'u' } },
      current: 'main',
    });
  }

  const credential = (apiVersion: string, status: Record<string, unknown>): string => JSON.stringify({ apiVersion, kind: 'ExecCredential', status });
  const V1 = 'client.authentication.k8s.io/v1';
  const V1BETA1 = 'client.authentication.k8s.io/v1beta1';

  test('a token is used until its expirationTimestamp, and the plugin learns about the cluster', async () => {
    const p = plugin();
    fs.writeFileSync(path.join(p.dir, 'cred.json'), credential(V1, { token: 'exec-token', expirationTimestamp: new Date(Date.now() + 3600_000).toISOString() }));
    const loaded = load(execKubeconfig(p.dir, { apiVersion: V1, args: ['cred.json'], provideClusterInfo: true }));
    assert.equal(p.runs(), 0, 'nothing runs before the first request');
    const [a, b] = await Promise.all([ask(loaded), ask(loaded)]);
    assert.equal(a.authorization, 'Bearer exec-token');
    assert.equal(b.authorization, 'Bearer exec-token');
    assert.equal((await ask(loaded)).authorization, 'Bearer exec-token');
    assert.equal(p.runs(), 1, 'one run for concurrent and later requests');
    assert.equal(p.info().spec?.interactive, false);
    assert.equal(p.info().spec?.cluster?.server, url);
  });

  test('an expired credential runs the plugin again; no expiry means it is kept', async () => {
    const p = plugin();
    fs.writeFileSync(path.join(p.dir, 'expired.json'), credential(V1, { token: 'old', expirationTimestamp: new Date(Date.now() - 1000).toISOString() }));
    const expiring = load(execKubeconfig(p.dir, { apiVersion: V1, args: ['expired.json'] }));
    await ask(expiring);
    await ask(expiring);
    assert.equal(p.runs(), 2);

    const q = plugin();
    fs.writeFileSync(path.join(q.dir, 'forever.json'), credential(V1, { token: 'forever' }));
    const forever = load(execKubeconfig(q.dir, { apiVersion: V1, args: ['forever.json'] }));
    await ask(forever);
    await ask(forever);
    assert.equal(q.runs(), 1);
    assert.equal(q.info().spec?.cluster, undefined, 'no cluster info unless provideClusterInfo');
  });

  test('a credential the server rejects (401) is fetched again once, and the request retried', async () => {
    const p = plugin();
    fs.writeFileSync(path.join(p.dir, 'cred.json'), credential(V1, { token: 'stale' }));
    const loaded = load(execKubeconfig(p.dir, { apiVersion: V1, args: ['cred.json'] }));
    const first = await kubeRequest(loaded.kubeConfig, { method: 'GET', path: '/whoami' });
    assert.equal(first.status, 401, 'retried once with the same stale answer, still 401');
    assert.equal(p.runs(), 2);
    fs.writeFileSync(path.join(p.dir, 'cred.json'), credential(V1, { token: 'fresh' }));
    assert.equal((await ask(loaded)).authorization, 'Bearer fresh');
    assert.equal(p.runs(), 3);
    assert.equal((await ask(loaded)).authorization, 'Bearer fresh');
    assert.equal(p.runs(), 3, 'kept while it works');
  });

  test('a client certificate from the plugin (v1beta1)', async () => {
    const p = plugin();
    fs.writeFileSync(path.join(p.dir, 'cert.json'), credential(V1BETA1, { clientCertificateData: alice.certPem, clientKeyData: alice.keyPem }));
    const seen = await ask(load(execKubeconfig(p.dir, { apiVersion: V1BETA1, args: ['cert.json'] })));
    assert.equal(seen.clientCN, 'alice');
    assert.equal(seen.authorization, null);
  });

  test('failures say what went wrong', async () => {
    const p = plugin();
    const missing = load(execKubeconfig(p.dir, { apiVersion: V1, command: 'devx-no-such-plugin', installHint: 'install it with: brew install devx-plugin' }));
    await assert.rejects(ask(missing), /exec plugin "devx-no-such-plugin" of kubeconfig user "u" was not found: install it with: brew install devx-plugin/);

    const failing = load(execKubeconfig(p.dir, { apiVersion: V1, args: ['none.json'], env: [{ name: 'PLUGIN_DIR', value: p.dir }, { name: 'FAIL', value: 'login required' }] }));
    await assert.rejects(ask(failing), /failed \(exit code 3\): login required/);

    fs.writeFileSync(path.join(p.dir, 'beta.json'), credential(V1BETA1, { token: 't' }));
    await assert.rejects(ask(load(execKubeconfig(p.dir, { apiVersion: V1, args: ['beta.json'] }))), /answered with apiVersion client\.authentication\.k8s\.io\/v1beta1/);

    fs.writeFileSync(path.join(p.dir, 'empty.json'), credential(V1, {}));
    await assert.rejects(ask(load(execKubeconfig(p.dir, { apiVersion: V1, args: ['empty.json'] }))), /printed neither status\.token nor/);

    assert.throws(() => load(execKubeconfig(p.dir, { apiVersion: 'client.authentication.k8s.io/v1alpha1' })), /v1alpha1 is not supported/);
    assert.throws(() => load(execKubeconfig(p.dir, { apiVersion: V1, interactiveMode: 'Always' })), /needs a terminal/);
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
    assert.equal((await ask(load(file))).authorization, 'Bearer token-a');
    const b = load(file, { context: 'ctx-b' });
    assert.equal(b.context, 'ctx-b');
    assert.equal(b.namespace, 'bee');
    assert.equal((await ask(b)).authorization, 'Bearer token-b');
    assert.throws(() => load(file, { context: 'nope' }), /no context named "nope": pass --context with one of ctx-a, ctx-b/);
  });

  test('no current-context, a context naming an unknown cluster or user', () => {
    const d = dir('broken-contexts');
    const noCurrent = writeKubeconfig(path.join(d, 'a'), { clusters: { test: { server: url } }, contexts: { only: { cluster: 'test' } } });
    assert.throws(() => load(noCurrent), /has no current-context: pass --context \(one of only\)/);
    const badCluster = writeKubeconfig(path.join(d, 'b'), { clusters: { test: { server: url } }, contexts: { c: { cluster: 'other' } }, current: 'c' });
    assert.throws(() => load(badCluster), /context "c" names cluster "other", which the kubeconfig does not define/);
    const badUser = writeKubeconfig(path.join(d, 'c'), { clusters: { test: { server: url } }, contexts: { c: { cluster: 'test', user: 'ghost' } }, current: 'c' });
    assert.throws(() => load(badUser), /names user "ghost"/);
    const noServer = writeKubeconfig(path.join(d, 'd'), { clusters: { test: {} }, contexts: { c: { cluster: 'test' } }, current: 'c' });
    assert.throws(() => load(noServer), /cluster "test" has no server/);
  });

  test('what devx cannot use fails at load with what to do instead', () => {
    assert.throws(
      () => load(simple({ 'auth-provider': { name: 'oidc', config: { 'client-id': 'x' } } })),
      /user "u" uses auth-provider "oidc", which devx-webhook does not support: use an exec credential plugin/,
    );
    assert.throws(() => load(simple({ token: 't' }, { 'proxy-url': 'http://proxy:3128' })), /proxy-url.*not support/);
    assert.throws(() => load(simple({ 'client-certificate-data': b64(alice.certPem) })), /set both/);
    assert.throws(() => load(simple({ 'client-certificate': '/nonexistent/alice.crt', 'client-key': '/nonexistent/alice.key' })), /cannot read the client-certificate of kubeconfig user "u" \/nonexistent\/alice\.crt \(ENOENT\)/);
    assert.throws(() => load(simple({ token: 't' }, { 'certificate-authority-data': b64('not a pem') })), /not base64 of PEM/);
  });

  test('a missing, unparsable or malformed file', () => {
    const d = dir('bad-files');
    assert.throws(() => load(path.join(d, 'missing')), /cannot read kubeconfig .*missing \(ENOENT\): pass --kubeconfig/);
    fs.writeFileSync(path.join(d, 'yaml'), 'clusters: [unclosed\n');
    assert.throws(() => load(path.join(d, 'yaml')), /is not valid YAML/);
    fs.writeFileSync(path.join(d, 'shape'), stringify({ clusters: 'not a list' }));
    assert.throws(() => load(path.join(d, 'shape')), /is malformed: clusters: .*fix the file/);
  });

  test('$KUBECONFIG: files merged in order, the first wins; relative paths stay relative to their own file', async () => {
    const da = dir('merge-a');
    const db = dir('merge-b');
    const a = writeKubeconfig(path.join(da, 'config'), {
      clusters: { shared: { server: url, 'certificate-authority-data': b64(ca.certPem) } },
      users: { alice: { token: 'token-a' } },
      contexts: { 'ctx-a': { cluster: 'shared', user: 'alice' } },
      current: 'ctx-a',
    });
    fs.writeFileSync(path.join(db, 'ca.crt'), ca.certPem);
    fs.writeFileSync(path.join(db, 'token'), 'token-b');
    const b = writeKubeconfig(path.join(db, 'config'), {
      clusters: { shared: { server: 'https://192.0.2.1:1' }, b: { server: url, 'certificate-authority': 'ca.crt' } },
      users: { alice: { token: 'ignored' }, bob: { tokenFile: 'token' } },
      contexts: { 'ctx-b': { cluster: 'b', user: 'bob' } },
      current: 'ctx-b',
    });
    const env = { KUBECONFIG: [a, path.join(da, 'missing'), b].join(path.delimiter) };
    const first = loadKubeConfig({ env });
    assert.equal(first.context, 'ctx-a', 'current-context of the first file');
    assert.equal((await ask(first)).authorization, 'Bearer token-a', 'cluster and user of the first file');
    const second = loadKubeConfig({ env, context: 'ctx-b' });
    assert.equal((await ask(second)).authorization, 'Bearer token-b');
    assert.throws(() => loadKubeConfig({ env: { KUBECONFIG: path.join(da, 'nothing-here') } }), /names no file that exists/);
  });

  test('precedence: --kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config', () => {
    const home = dir('home');
    writeKubeconfig(path.join(home, '.kube/config'), { clusters: { h: { server: 'https://home.test' } }, contexts: { h: { cluster: 'h' } }, current: 'h' });
    const other = writeKubeconfig(path.join(dir('env'), 'config'), { clusters: { e: { server: 'https://env.test' } }, contexts: { e: { cluster: 'e' } }, current: 'e' });
    const explicit = writeKubeconfig(path.join(dir('explicit'), 'config'), { clusters: { x: { server: 'https://explicit.test/' } }, contexts: { x: { cluster: 'x' } }, current: 'x' });
    const sa = dir('sa');
    fs.writeFileSync(path.join(sa, 'token'), 'sa-token');
    fs.writeFileSync(path.join(sa, 'ca.crt'), ca.certPem);
    const pod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443', HOME: home };
    const from = (opts: LoadKubeConfigOptions): string => {
      const l = loadKubeConfig({ serviceAccountDir: sa, ...opts });
      return `${l.source} ${l.server}`;
    };
    assert.equal(from({ path: explicit, env: { ...pod, KUBECONFIG: other } }), 'file https://explicit.test', 'a trailing slash is dropped');
    assert.equal(from({ env: { ...pod, KUBECONFIG: other } }), 'file https://env.test');
    assert.equal(from({ env: pod }), 'in-cluster https://10.0.0.1:443');
    assert.equal(from({ env: { HOME: home } }), 'default https://home.test');
    assert.throws(() => from({ env: { HOME: dir('empty-home') } }), /no usable kubeconfig: pass --kubeconfig, set KUBECONFIG/);
  });
});

describe('in a pod', () => {
  function serviceAccount(): string {
    const sa = dir('serviceaccount');
    fs.writeFileSync(path.join(sa, 'token'), 'first-token\n');
    fs.writeFileSync(path.join(sa, 'ca.crt'), ca.certPem);
    fs.writeFileSync(path.join(sa, 'namespace'), 'devx-system');
    return sa;
  }
  const podEnv = (): NodeJS.ProcessEnv => ({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(url).port });

  test('the service account token, CA and namespace; the server from KUBERNETES_SERVICE_HOST/PORT', async () => {
    const sa = serviceAccount();
    const loaded = loadKubeConfig({ env: podEnv(), serviceAccountDir: sa });
    assert.equal(loaded.source, 'in-cluster');
    assert.equal(loaded.server, url);
    assert.equal(loaded.namespace, 'devx-system');
    assert.equal((await ask(loaded)).authorization, 'Bearer first-token');
    assert.throws(() => loadKubeConfig({ env: podEnv(), serviceAccountDir: sa, context: 'x' }), /no context named "x"/);
    const v6 = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa });
    assert.equal(v6.server, 'https://[fd00::1]:443');
  });

  test('a rotated token is read again (about once a minute)', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const sa = serviceAccount();
    const loaded = loadKubeConfig({ env: podEnv(), serviceAccountDir: sa });
    fs.writeFileSync(path.join(sa, 'token'), 'second-token');
    assert.equal((await ask(loaded)).authorization, 'Bearer first-token', 'not read again on every request');
    t.mock.timers.tick(61_000);
    assert.equal((await ask(loaded)).authorization, 'Bearer second-token');
    // While the kubelet swaps the file, a failed read keeps the last token.
    fs.rmSync(path.join(sa, 'token'));
    t.mock.timers.tick(61_000);
    assert.equal((await ask(loaded)).authorization, 'Bearer second-token');
  });
});
