// devx-webhook's TLS on the real control plane (etcd, kube-apiserver, kube-controller-manager from Go modules):
// self-managed TLS with its CA in a Secret shared by replicas, the Secret deleted and regenerated with the caBundle
// overlapping, certificate rotation under a load of admission reviews through the real API server and straight to
// devx (zero failures allowed), and certificate files replaced on disk without a restart.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { requestFor } from '../../src/core/preview.ts';
import { secretCaStore } from '../../src/k8s/ca-secret.ts';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.ts';
import { patchCaBundles } from '../../src/k8s/register-webhooks.ts';
import { mergeCaBundle } from '../../src/tls/decisions.ts';
import { generateCA, issueCertificate } from '../../src/tls/pki.ts';
import { CaStoreUnavailableError } from '../../src/tls/serving.ts';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { applyPolicy, eventually, installCrd, REPO, startDevx, type DevxServer } from './harness/devx.ts';

const NS = 'devx-system';
const LOAD_NS = 'tls-load';
const MUTATING = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/devx';
const VALIDATING = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/devx';

let cp: ControlPlane;
const running = new Set<DevxServer>();

before(async () => {
  cp = await startControlPlane();
  await installCrd(cp);
  await applyPolicy(cp);
  await cp.createNamespace(NS);
  await cp.createNamespace(LOAD_NS, { 'dev.x/policy': 'default' });
});

after(async () => {
  await Promise.all([...running].map((d) => d.stop()));
  await cp?.stop();
});

async function devx(name: string, args: string[], register = true): Promise<DevxServer> {
  // Admission only: these tests are about TLS, and a reconciler would only add load to two shared cores.
  const d = await startDevx(cp, { name, register, args: ['--no-reconcile', ...args], timeoutMs: 60_000 });
  running.add(d);
  return d;
}

async function stop(d: DevxServer): Promise<void> {
  await d.stop();
  running.delete(d);
}

// --- what the cluster and devx say ------------------------------------------------------------------------------

const certsIn = (pem: string): X509Certificate[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
const fpsIn = (pem: string): Set<string> => new Set(certsIn(pem).map((c) => c.fingerprint256));
const fp = (pem: string): string => new X509Certificate(pem).fingerprint256;

async function getObject(apiPath: string): Promise<any> {
  const r = await cp.request('GET', apiPath);
  if (r.status !== 200) throw new Error(`GET ${apiPath}: HTTP ${r.status}: ${r.body}`);
  return JSON.parse(r.body);
}

/** The CA Secret, decoded; undefined when it does not exist. */
async function caSecret(name = 'devx-webhook-ca'): Promise<{ crt: string; key: string; resourceVersion: string } | undefined> {
  const r = await cp.request('GET', `/api/v1/namespaces/${NS}/secrets/${name}`);
  if (r.status === 404) return undefined;
  const s = JSON.parse(r.body);
  const dec = (k: string): string => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8');
  return { crt: dec('ca.crt'), key: dec('ca.key'), resourceVersion: s.metadata.resourceVersion };
}

/** The caBundle of every webhook in both configurations, decoded. */
async function webhookBundles(): Promise<string[]> {
  const configs = await Promise.all([getObject(MUTATING), getObject(VALIDATING)]);
  return configs.flatMap((c) => c.webhooks.map((w: any) => Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8')));
}

async function everyBundleHolds(...pems: string[]): Promise<boolean> {
  const bundles = await webhookBundles();
  return bundles.length === 4 && bundles.every((b) => pems.every((p) => fpsIn(b).has(fp(p))));
}

/** The certificate devx presents on a new connection (not verified: that is what the caller checks). */
function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert) resolve(cert);
      else reject(new Error('no peer certificate'));
    });
    socket.on('error', reject);
  });
}

const signedBy = (leaf: X509Certificate, caPem: string): boolean => leaf.checkIssued(new X509Certificate(caPem)) && leaf.verify(new X509Certificate(caPem).publicKey);

function labelledPod(name: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: LOAD_NS, labels: { app: 'tls-load', 'dev.x/enabled': 'true' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } };
}

const hasSidecar = (pod: any): boolean => (pod?.spec?.containers ?? []).some((c: any) => c.name === 'devx-sync');

/** A labelled pod created as a server-side dry run: the API server calls devx's mutating and validating webhooks. */
async function dryRunThroughApiServer(): Promise<string | undefined> {
  const r = await cp.request('POST', `/api/v1/namespaces/${LOAD_NS}/pods?dryRun=All`, labelledPod(`dry-${randomUUID().slice(0, 8)}`));
  if (r.status !== 201) return `dry-run create: HTTP ${r.status}: ${r.body.slice(0, 300)}`;
  return hasSidecar(JSON.parse(r.body)) ? undefined : 'dry-run create: admitted without injection';
}

/** dryRunThroughApiServer() one after another until stop(): the failures, and how many reviews there were. */
function dryRunLoad(): { failures: string[]; reviews: () => number; stop: () => Promise<void> } {
  const failures: string[] = [];
  let reviews = 0;
  let loading = true;
  const load = (async () => {
    while (loading) {
      const err = await dryRunThroughApiServer();
      reviews += 1;
      if (err) failures.push(err);
    }
  })();
  return {
    failures,
    reviews: () => reviews,
    stop: async () => {
      loading = false;
      await load;
    },
  };
}

/** A real labelled pod, created (admitted through devx) and deleted again. */
async function createAndDelete(i: number): Promise<string | undefined> {
  const name = `real-${i}-${randomUUID().slice(0, 6)}`;
  const r = await cp.request('POST', `/api/v1/namespaces/${LOAD_NS}/pods`, labelledPod(name));
  if (r.status !== 201) return `create: HTTP ${r.status}: ${r.body.slice(0, 300)}`;
  if (!hasSidecar(JSON.parse(r.body))) return 'create: admitted without injection';
  const d = await cp.request('DELETE', `/api/v1/namespaces/${LOAD_NS}/pods/${name}?gracePeriodSeconds=0`);
  return d.status === 200 ? undefined : `delete: HTTP ${d.status}`;
}

interface DirectResult {
  error?: string;
  served?: X509Certificate;
}

/** An AdmissionReview POSTed straight to devx, trusting `ca` (what the webhook configuration says). */
function directReview(o: { port: number; ca: string; agent: https.Agent | false }): Promise<DirectResult> {
  const uid = randomUUID();
  const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: requestFor({ object: labelledPod('direct') as any, namespace: LOAD_NS, uid }) });
  return new Promise((resolve) => {
    const req = https.request(
      { host: '127.0.0.1', port: o.port, path: '/mutate/pods', method: 'POST', ca: o.ca, agent: o.agent, timeout: 10_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const served = (res.socket as tls.TLSSocket).getPeerX509Certificate();
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          const review = res.statusCode === 200 ? JSON.parse(text) : undefined;
          const ok = review?.response?.uid === uid && review.response.allowed === true && typeof review.response.patch === 'string';
          resolve(ok ? { ...(served ? { served } : {}) } : { error: `direct review: HTTP ${res.statusCode}: ${text.slice(0, 300)}` });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: `direct review: ${err.message}` }));
    req.end(body);
  });
}

// --- the tests ----------------------------------------------------------------------------------------------------

describe('devx-webhook TLS on the real API server', () => {
  let first: DevxServer;
  let second: DevxServer;

  test('self-managed: the CA Secret is created, the webhook configurations trust it, the served certificate chains to it', async () => {
    assert.equal(await caSecret(), undefined);
    first = await devx('devx-a', ['--cert-validity', '2m', '--ca-validity', '5m']);
    const secret = await caSecret();
    assert.ok(secret, 'Secret devx-system/devx-webhook-ca exists');
    const ca = new X509Certificate(secret.crt);
    assert.equal(ca.ca, true);
    assert.ok(ca.checkPrivateKey((await import('node:crypto')).createPrivateKey(secret.key)));
    const labels = (await getObject(`/api/v1/namespaces/${NS}/secrets/devx-webhook-ca`)).metadata.labels;
    assert.equal(labels['app.kubernetes.io/name'], 'devx');
    assert.ok(await everyBundleHolds(secret.crt), 'every webhook trusts the CA');
    const served = await servedCertificate(first.port);
    assert.ok(signedBy(served, secret.crt));
    assert.equal(served.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(served.checkHost('devx.devx-system.svc'), 'devx.devx-system.svc');
    assert.equal(await dryRunThroughApiServer(), undefined, 'the API server reaches devx through TLS');
    assert.equal(first.logs().filter((l) => l.msg === 'CA generated').length, 1);
  });

  test('a second process reuses the CA in the Secret; two processes starting together on an empty Secret agree on one CA', async () => {
    const before = await caSecret();
    assert.ok(before);
    second = await devx('devx-b', ['--cert-validity', '2m', '--ca-validity', '5m'], false);
    assert.ok(signedBy(await servedCertificate(second.port), before.crt), 'served from the shared CA');
    assert.equal(second.logs().filter((l) => l.msg === 'CA generated').length, 0, 'the second process made no CA');
    assert.equal((await caSecret())?.resourceVersion, before.resourceVersion, 'the Secret was not rewritten');

    // Race: both find no Secret `race-ca`; exactly one CA is written and both serve from it.
    const args = ['--cert-validity', '2m', '--ca-validity', '5m', '--ca-secret-name', 'race-ca'];
    const [r1, r2] = await Promise.all([devx('race-1', args, false), devx('race-2', args, false)]);
    try {
      const race = await caSecret('race-ca');
      assert.ok(race);
      for (const r of [r1, r2]) assert.ok(signedBy(await servedCertificate(r.port), race.crt), `${r.process.name} serves from the stored CA`);
      const generated = [...r1.logs(), ...r2.logs()].filter((l) => l.msg === 'CA generated').length;
      assert.equal(generated, 1, 'one CA generated between the two');
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal((await caSecret('race-ca'))?.resourceVersion, race.resourceVersion, 'and nobody rewrites it afterwards');
    } finally {
      await Promise.all([stop(r1), stop(r2)]);
    }
  });

  test('the CA Secret deleted: a new CA, the caBundle holds old and new, both processes switch, no review fails', async () => {
    const old = await caSecret();
    assert.ok(old);
    const load = dryRunLoad();
    try {
      const del = await cp.request('DELETE', `/api/v1/namespaces/${NS}/secrets/devx-webhook-ca`);
      assert.equal(del.status, 200);
      // ca-validity 5m: the Secret is read every 3 s.
      const fresh = await eventually('a new CA Secret', async () => {
        const s = await caSecret();
        return s && fp(s.crt) !== fp(old.crt) ? s : undefined;
      }, 30_000);
      await eventually('old and new CA in every caBundle', () => everyBundleHolds(old.crt, fresh.crt), 30_000);
      // Both processes switch once the new CA has been in the bundle for the propagation delay (10 s).
      for (const d of [first, second]) {
        await eventually(`${d.process.name} serving from the new CA`, async () => signedBy(await servedCertificate(d.port), fresh.crt), 40_000);
      }
      assert.ok(await everyBundleHolds(old.crt, fresh.crt), 'the old CA stays trusted until it expires');
      assert.equal((await caSecret())?.resourceVersion, fresh.resourceVersion, 'the two processes did not fight over the Secret');
      const reasons = [...first.logs(), ...second.logs()].filter((l) => l.msg === 'CA generated').map((l) => l.reason);
      assert.deepEqual(reasons.slice(1), ['the CA Secret does not exist']);
    } finally {
      await load.stop();
    }
    console.log(`# Secret deleted: ${load.reviews()} reviews through the API server during the CA change, ${load.failures.length} failed`);
    assert.deepEqual(load.failures, []);
    assert.ok(load.reviews() > 10, `${load.reviews()} reviews`);
    await Promise.all([stop(first), stop(second)]);
  });

  test('rotation under load: 6 s serving certificates, a 40 s CA; zero failed reviews through the API server and direct', async () => {
    const d = await devx('devx-rotation', ['--cert-validity', '6s', '--ca-validity', '40s', '--ca-secret-name', 'rotation-ca']);
    const rotationCas = new Map<string, string>(); // sha256 → PEM of every CA the Secret held
    const bundleSnapshots: Array<Set<string>> = [];
    let trusted = (await webhookBundles())[0] ?? '';
    let watching = true;
    // What a client of the webhook configuration trusts: refreshed from the API server, as it is by kube-apiserver.
    const watcher = (async () => {
      while (watching) {
        try {
          const bundles = await webhookBundles();
          trusted = bundles[0] ?? trusted;
          bundleSnapshots.push(fpsIn(trusted));
          const s = await caSecret('rotation-ca');
          if (s) rotationCas.set(fp(s.crt), s.crt);
        } catch {
          // the next round will do
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    const counts = { apiDryRun: 0, apiCreateDelete: 0, direct: 0, directKeepAlive: 0 };
    const failures: string[] = [];
    const served = new Map<string, string>(); // serving certificate sha256 → issuer
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const started = Date.now();
    const done = (): boolean => {
      const issuers = new Set(served.values());
      return (Date.now() - started > 45_000 && issuers.size >= 2 && served.size >= 4) || Date.now() - started > 120_000;
    };
    const loop = async (kind: keyof typeof counts, once: (i: number) => Promise<string | undefined>): Promise<void> => {
      for (let i = 0; !done(); i++) {
        const err = await once(i);
        counts[kind] += 1;
        if (err) failures.push(`${kind}: ${err}`);
      }
    };
    const direct = (agent: https.Agent | false) => async (): Promise<string | undefined> => {
      const r = await directReview({ port: d.port, ca: trusted, agent });
      if (r.served) served.set(r.served.fingerprint256, r.served.issuer);
      return r.error;
    };
    try {
      await Promise.all([
        loop('apiDryRun', () => dryRunThroughApiServer()),
        loop('apiDryRun', () => dryRunThroughApiServer()),
        loop('apiCreateDelete', (i) => createAndDelete(i)),
        loop('direct', direct(false)),
        loop('directKeepAlive', direct(keepAlive)),
      ]);
    } finally {
      watching = false;
      await watcher;
      keepAlive.destroy();
    }
    const seconds = Math.round((Date.now() - started) / 1000);
    const logs = d.logs();
    const issued = logs.filter((l) => l.msg === 'serving certificate issued');
    const renewals = issued.filter((l) => l.why === 'renewal time').length;
    const caSwitches = issued.filter((l) => l.why === 'new CA').length;
    const casGenerated = logs.filter((l) => l.msg === 'CA generated').length;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(
      `# rotation under load (${seconds} s): ${total} reviews (${JSON.stringify(counts)}), ${failures.length} failed; ` +
        `devx issued ${issued.length} serving certificates (${renewals} renewals, ${caSwitches} switches to a new CA), generated ${casGenerated} CAs; ` +
        `clients saw ${served.size} serving certificates from ${new Set(served.values()).size} CAs`,
    );
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed reviews`);
    assert.ok(counts.apiDryRun > 50 && counts.apiCreateDelete > 10 && counts.direct > 50, JSON.stringify(counts));
    assert.ok(renewals >= 2, `at least two serving renewals (${renewals})`);
    assert.ok(caSwitches >= 1 && casGenerated >= 2, `at least one CA rotation (${caSwitches} switches, ${casGenerated} CAs)`);
    assert.ok(new Set(served.values()).size >= 2, 'direct clients saw certificates from two CAs');
    // Overlap: at some moment the bundle held two of the rotation's CAs; the first one, expired, is gone at the end.
    const rotationFps = [...rotationCas.keys()];
    assert.ok(rotationFps.length >= 2, `the Secret held ${rotationFps.length} CAs`);
    assert.ok(bundleSnapshots.some((s) => rotationFps.filter((f) => s.has(f)).length >= 2), 'old and new CA overlapped in the caBundle');
    const firstCa = new X509Certificate(rotationCas.get(rotationFps[0] as string) as string);
    assert.ok(firstCa.validToDate.getTime() < Date.now(), 'the first CA has expired by now');
    await eventually('the expired CA dropped from every caBundle', async () => (await webhookBundles()).every((b) => !fpsIn(b).has(firstCa.fingerprint256)), 10_000);
    await stop(d);
  });

  test('files: new certificate files are served without a restart, through the API server too', async () => {
    const dir = path.join(cp.dir, 'files-certs');
    const made = spawnSync(process.execPath, [path.join(REPO, 'src/cli/devx-webhook.ts'), 'certs', '--out', dir, '--ip', '127.0.0.1', '--validity', '1d'], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const file = (n: string): string => path.join(dir, n);
    const d = await devx('devx-files', ['--tls-cert-file', file('tls.crt'), '--tls-key-file', file('tls.key'), '--tls-ca-file', file('ca.crt')]);
    const caPem = fs.readFileSync(file('ca.crt'), 'utf8');
    assert.ok(await everyBundleHolds(caPem), 'registered with ca.crt as the caBundle');
    const before = await servedCertificate(d.port);
    assert.equal(before.fingerprint256, fp(fs.readFileSync(file('tls.crt'), 'utf8')));
    assert.equal(await dryRunThroughApiServer(), undefined);

    const load = dryRunLoad();
    try {
      // A renewal as cert-manager does it: same CA, new key and certificate, written next to the old and renamed over.
      const now = new Date(Date.now() - 60_000);
      const renewed = issueCertificate({ certPem: caPem, keyPem: fs.readFileSync(file('ca.key'), 'utf8') }, { commonName: 'renewed', ipAddresses: ['127.0.0.1'], usage: 'server', notBefore: now, validityMs: 86_400_000 });
      fs.writeFileSync(file('tls.key.new'), renewed.keyPem);
      fs.writeFileSync(file('tls.crt.new'), renewed.certPem);
      fs.renameSync(file('tls.key.new'), file('tls.key'));
      fs.renameSync(file('tls.crt.new'), file('tls.crt'));
      await eventually('the renewed certificate served', async () => (await servedCertificate(d.port)).fingerprint256 === fp(renewed.certPem), 15_000);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await load.stop();
    }
    assert.ok(d.process.running(), 'no restart');
    assert.equal(d.logs().filter((l) => l.msg === 'devx-webhook listening').length, 1, 'started once');
    assert.ok(d.logs().some((l) => l.msg === 'serving certificate reloaded from files'));
    assert.equal(await dryRunThroughApiServer(), undefined, 'the API server trusts the renewed certificate');
    console.log(`# files: ${load.reviews()} reviews through the API server while the files were replaced, ${load.failures.length} failed`);
    assert.deepEqual(load.failures, []);
    await stop(d);
  });

  test('the adapters on the real API server: CA Secret writes that lose a race return false; caBundle patches touch nothing else', async () => {
    const kc = loadKubeConfig({ path: cp.kubeconfigPath }).kubeConfig;
    const now = new Date(Date.now() - 60_000);
    const ca = (cn: string) => generateCA({ commonName: cn, notBefore: now, validityMs: 3_600_000 });
    const store = secretCaStore(kc, { namespace: NS, name: 'adapter-ca' });
    assert.equal(await store.read(), undefined);
    assert.equal(await store.write(ca('one'), undefined), true, 'created');
    const stored = await store.read();
    assert.ok(stored?.version);
    assert.equal(await store.write(ca('two'), undefined), false, 'create when it exists: AlreadyExists');
    assert.equal(await store.write(ca('three'), stored.version), true, 'update with the version read');
    assert.equal(await store.write(ca('four'), stored.version), false, 'update with a stale version: Conflict');
    assert.equal(new X509Certificate((await store.read())?.data['ca.crt'] ?? '').subject, 'CN=three');
    await assert.rejects(secretCaStore(kc, { namespace: 'no-such-ns', name: 'x' }).write(ca('five'), undefined), CaStoreUnavailableError);

    const strip = (o: any): any => ({ ...o, metadata: { ...o.metadata, resourceVersion: '', generation: 0, managedFields: [] }, webhooks: o.webhooks.map((w: any) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle: '' } })) });
    const before = await Promise.all([getObject(MUTATING), getObject(VALIDATING)]);
    const extra = ca('extra').certPem;
    const result = await patchCaBundles(kc, (current) => mergeCaBundle(current, extra, new Date()));
    assert.ok(result !== undefined && fpsIn(result).has(fp(extra)));
    assert.ok(await everyBundleHolds(extra), 'every webhook got the new CA');
    const afterPatch = await Promise.all([getObject(MUTATING), getObject(VALIDATING)]);
    assert.deepEqual(afterPatch.map(strip), before.map(strip), 'nothing but the caBundle fields changed');
    const again = await getObject(MUTATING);
    await patchCaBundles(kc, (current) => mergeCaBundle(current, extra, new Date()));
    assert.equal((await getObject(MUTATING)).metadata.resourceVersion, again.metadata.resourceVersion, 'nothing to change: no write');
  });
});
