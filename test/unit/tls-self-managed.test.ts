// Self-managed TLS driven by a fake clock: tick() does whatever is due at the clock's time, so every rotation step is
// checked at exact instants — serving renewal at 2/3 of its life, the CA replaced at 2/3 of its life, the new CA
// trusted (bundle) before it is used (signing), old CAs dropped once expired, replicas sharing one store without
// fighting, a deleted or corrupted store repaired.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { mergeCaBundle } from '../../src/tls/decisions.ts';
import type { KeyPairPem } from '../../src/tls/pki.ts';
import { SelfManagedTls, type SelfManagedOptions } from '../../src/tls/self-managed.ts';
import { memoryCaStore, type BundlePublisher, type CaStore, type StoredCa, type TlsLogger } from '../../src/tls/serving.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const NAMES = { commonName: 'devx.devx-system.svc', dnsNames: ['localhost', 'devx.devx-system.svc'], ipAddresses: ['127.0.0.1'] };

interface Fixture {
  clock: { ms: number };
  logs: Array<{ msg: string; obj: Record<string, unknown> }>;
  store: CaStore & { writes: number; clear(): void; corrupt(data: StoredCa['data']): void };
  publisher: BundlePublisher & { bundle: string; publishes: number };
  changes: KeyPairPem[];
  tls: SelfManagedTls;
}

function recordingLogger(logs: Fixture['logs']): TlsLogger {
  const log = (obj: object, msg?: string): void => void logs.push({ msg: msg ?? '', obj: obj as Record<string, unknown> });
  return { debug: log, info: log, warn: log, error: log };
}

/** A memory store that counts successful writes and can be emptied or corrupted, like a Secret someone deleted. */
function countingStore(): Fixture['store'] {
  let inner = memoryCaStore();
  let override: StoredCa | undefined | null = null;
  const store = {
    where: 'test store',
    writes: 0,
    read: async (): Promise<StoredCa | undefined> => (override === null ? inner.read() : override),
    write: async (ca: KeyPairPem, version: string | undefined): Promise<boolean> => {
      if (override !== null) {
        // The deleted/corrupted state is what a writer must have seen; afterwards the store is a fresh one.
        if (version !== override?.version) return false;
        inner = memoryCaStore();
        override = null;
        version = undefined;
      }
      const ok = await inner.write(ca, version);
      if (ok) store.writes += 1;
      return ok;
    },
    clear: (): void => {
      override = undefined;
    },
    corrupt: (data: StoredCa['data']): void => {
      override = { data, version: 'corrupt-1' };
    },
  };
  return store;
}

function fakePublisher(initial = ''): Fixture['publisher'] {
  const p = {
    bundle: initial,
    publishes: 0,
    publish: async (desired: (current: string) => string): Promise<string> => {
      p.publishes += 1;
      p.bundle = desired(p.bundle);
      return p.bundle;
    },
  };
  return p;
}

function fixture(opts: Partial<SelfManagedOptions> & { store?: Fixture['store']; publisher?: Fixture['publisher']; clock?: never } = {}, clock = { ms: T0 }): Fixture {
  const logs: Fixture['logs'] = [];
  const store = opts.store ?? countingStore();
  const publisher = opts.publisher ?? fakePublisher();
  const changes: KeyPairPem[] = [];
  const tls = new SelfManagedTls({
    names: NAMES,
    servingValidityMs: 60_000,
    caValidityMs: 600_000,
    bundlePolicy: 'merge',
    ...opts,
    store,
    publisher,
    clock: () => new Date(clock.ms),
    logger: recordingLogger(logs),
  });
  tls.onChange((pair) => changes.push(pair));
  return { clock, logs, store, publisher, changes, tls };
}

const cert = (pem: string): X509Certificate => new X509Certificate(pem);
const fps = (bundle: string): string[] =>
  (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((b) => cert(b).fingerprint256);
const issuedBy = (leafPem: string, caPem: string): boolean => cert(leafPem).checkIssued(cert(caPem)) && cert(leafPem).verify(cert(caPem).publicKey);

async function tickAt(f: Fixture, ms: number): Promise<void> {
  f.clock.ms = ms;
  await f.tls.tick();
}

describe('self-managed TLS with a fake clock', () => {
  test('first tick: a CA in the store, a serving certificate it signs, the bundle published', async () => {
    const f = fixture();
    await tickAt(f, T0);
    const stored = await f.store.read();
    const caPem = stored?.data['ca.crt'] ?? '';
    assert.equal(cert(caPem).ca, true);
    const serving = cert(f.tls.current().certPem);
    assert.ok(issuedBy(f.tls.current().certPem, caPem));
    assert.equal(serving.ca, false);
    assert.equal(serving.subjectAltName, 'DNS:localhost, DNS:devx.devx-system.svc, IP Address:127.0.0.1');
    assert.equal(serving.checkPrivateKey((await import('node:crypto')).createPrivateKey(f.tls.current().keyPem)), true);
    // 60 s lifetime backdated by 6 s (a tenth), in whole seconds as X.509 keeps them.
    assert.equal(serving.validFromDate.getTime(), T0 - 6000);
    assert.equal(serving.validToDate.getTime(), T0 + 60_000);
    assert.deepEqual(fps(f.publisher.bundle), fps(caPem));
    assert.deepEqual(fps(f.tls.caBundle()), fps(caPem));
    assert.equal(f.changes.length, 0, 'the first pair is not a change');
    assert.equal(f.store.writes, 1);
    assert.equal(f.logs.find((l) => l.msg === 'CA generated')?.obj.reason, 'the CA Secret does not exist');
  });

  test('the serving certificate is renewed at 2/3 of its life, not before, and swapped in', async () => {
    const f = fixture();
    await tickAt(f, T0);
    const first = f.tls.current();
    // Life is T0-6 s .. T0+60 s = 66 s; 2/3 of it after notBefore is T0+38 s.
    await tickAt(f, T0 + 37_999);
    assert.equal(f.tls.current(), first);
    assert.equal(f.changes.length, 0);
    await tickAt(f, T0 + 38_000);
    assert.notEqual(f.tls.current().certPem, first.certPem);
    assert.deepEqual(f.changes, [f.tls.current()]);
    assert.equal(cert(f.tls.current().certPem).validToDate.getTime(), T0 + 98_000);
    assert.equal(f.store.writes, 1, 'the CA is untouched by serving renewals');
  });

  test('CA rotation: new CA trusted first, used only after the propagation delay; old CA dropped once expired', async () => {
    const f = fixture();
    await tickAt(f, T0);
    const ca1 = (await f.store.read())?.data['ca.crt'] ?? '';
    // CA life: T0-60 s .. T0+600 s = 660 s → renewal window from T0-60+440 = T0+380 s.
    for (let s = 38; s < 380; s += 38) await tickAt(f, T0 + s * 1000);
    assert.equal(f.store.writes, 1, 'no new CA before its renewal window');
    assert.ok(issuedBy(f.tls.current().certPem, ca1));

    await tickAt(f, T0 + 380_000);
    const ca2 = (await f.store.read())?.data['ca.crt'] ?? '';
    assert.notEqual(ca2, ca1);
    assert.deepEqual(fps(f.publisher.bundle), [...fps(ca1), ...fps(ca2)], 'old and new overlap in the published bundle');
    assert.deepEqual(fps(f.tls.caBundle()), [...fps(ca1), ...fps(ca2)]);
    assert.ok(issuedBy(f.tls.current().certPem, ca1), 'still served from the old CA: the API server may not trust the new one yet');
    assert.equal(f.tls.signingCa(), ca1);

    await tickAt(f, T0 + 389_999);
    assert.ok(issuedBy(f.tls.current().certPem, ca1), 'propagation delay (10 s) not over');
    const changesBefore = f.changes.length;
    await tickAt(f, T0 + 390_000);
    assert.ok(issuedBy(f.tls.current().certPem, ca2), 'switched to the new CA');
    assert.equal(f.changes.length, changesBefore + 1);
    assert.deepEqual(f.tls.stats, { servingIssued: f.tls.stats.servingIssued, caChanges: 1, signingSwitches: 1 });

    // The old CA expires at T0+600 s; the next check drops it from the bundle.
    await tickAt(f, T0 + 600_000);
    assert.deepEqual(fps(f.publisher.bundle), fps(ca2));
    assert.deepEqual(fps(f.tls.caBundle()), fps(ca2));
  });

  test('a serving certificate from a CA near expiry ends with the CA, never after it', async () => {
    const f = fixture({ servingValidityMs: 300_000 });
    await tickAt(f, T0);
    const ca1 = (await f.store.read())?.data['ca.crt'] ?? '';
    // At T0+380 s the CA is replaced; for the next 10 s renewals still come from CA1 (expiring at T0+600 s).
    await tickAt(f, T0 + 380_000);
    assert.ok(issuedBy(f.tls.current().certPem, ca1));
    assert.ok(cert(f.tls.current().certPem).validToDate.getTime() <= T0 + 600_000);
  });

  test('a publisher that keeps failing cannot hold the rotation past the old CA’s expiry', async () => {
    const f = fixture();
    await tickAt(f, T0);
    f.publisher.publish = async () => {
      throw new Error('forbidden');
    };
    await tickAt(f, T0 + 380_000);
    const ca2 = (await f.store.read())?.data['ca.crt'] ?? '';
    await tickAt(f, T0 + 500_000);
    assert.ok(!issuedBy(f.tls.current().certPem, ca2), 'not confirmed: not used while the old CA lives');
    assert.ok(f.logs.some((l) => l.msg.startsWith('could not check the CA') && l.obj.err === 'forbidden'));
    await tickAt(f, T0 + 600_000);
    assert.ok(issuedBy(f.tls.current().certPem, ca2), 'the old CA expired: switched anyway');
    assert.ok(f.logs.some((l) => l.msg.startsWith('the signing CA expired')));
  });

  test('the Secret deleted: a new CA, both trusted, the new one used after the delay', async () => {
    const f = fixture();
    await tickAt(f, T0);
    const ca1 = (await f.store.read())?.data['ca.crt'] ?? '';
    f.store.clear();
    await tickAt(f, T0 + 5_999);
    assert.equal(f.store.writes, 1, 'the store is read again only every ca-validity/100 = 6 s');
    await tickAt(f, T0 + 6_000);
    const ca2 = (await f.store.read())?.data['ca.crt'] ?? '';
    assert.notEqual(ca2, ca1);
    assert.equal(f.logs.filter((l) => l.msg === 'CA generated').at(-1)?.obj.reason, 'the CA Secret does not exist');
    assert.deepEqual(fps(f.publisher.bundle), [...fps(ca1), ...fps(ca2)]);
    await tickAt(f, T0 + 16_000);
    assert.ok(issuedBy(f.tls.current().certPem, ca2));
  });

  test('a corrupted Secret (key of another CA) is replaced, with the reason logged', async () => {
    const f = fixture();
    await tickAt(f, T0);
    const stored = await f.store.read();
    const other = fixture();
    await tickAt(other, T0);
    const foreignKey = (await other.store.read())?.data['ca.key'] ?? '';
    f.store.corrupt({ 'ca.crt': stored?.data['ca.crt'] ?? '', 'ca.key': foreignKey });
    await tickAt(f, T0 + 6_000);
    assert.equal(f.logs.filter((l) => l.msg === 'CA generated').at(-1)?.obj.reason, 'ca.key does not match ca.crt');
    assert.notEqual((await f.store.read())?.data['ca.crt'], stored?.data['ca.crt']);
  });

  test('two replicas racing on an empty store: one CA is written, both serve certificates from it', async () => {
    const store = countingStore();
    const publisher = fakePublisher();
    const clock = { ms: T0 };
    const a = fixture({ store, publisher }, clock);
    const b = fixture({ store, publisher }, clock);
    // Both read "nothing" before either writes (key generation is asynchronous), so both try to create.
    await Promise.all([a.tls.tick(), b.tls.tick()]);
    const caPem = (await store.read())?.data['ca.crt'] ?? '';
    assert.equal(store.writes, 1, 'exactly one CA written');
    assert.ok(issuedBy(a.tls.current().certPem, caPem));
    assert.ok(issuedBy(b.tls.current().certPem, caPem));
    assert.equal([...a.logs, ...b.logs].filter((l) => l.msg === 'another replica stored a new CA first; using it').length, 1);
    assert.deepEqual(fps(publisher.bundle), fps(caPem));
    // And they keep agreeing through a rotation.
    clock.ms = T0 + 380_000;
    await Promise.all([a.tls.tick(), b.tls.tick()]);
    assert.equal(store.writes, 2, 'one new CA for both replicas');
    clock.ms = T0 + 390_000;
    await Promise.all([a.tls.tick(), b.tls.tick()]);
    const ca2 = (await store.read())?.data['ca.crt'] ?? '';
    assert.ok(issuedBy(a.tls.current().certPem, ca2) && issuedBy(b.tls.current().certPem, ca2));
  });

  test('bundle policy: merge keeps other valid CAs found in the configurations, replace keeps only its own', async () => {
    const foreign = fixture();
    await tickAt(foreign, T0);
    const foreignCa = (await foreign.store.read())?.data['ca.crt'] ?? '';

    const merging = fixture({ publisher: fakePublisher(foreignCa) });
    await tickAt(merging, T0);
    const own = (await merging.store.read())?.data['ca.crt'] ?? '';
    assert.deepEqual(fps(merging.publisher.bundle), [...fps(foreignCa), ...fps(own)]);
    assert.deepEqual(fps(merging.tls.caBundle()), [...fps(foreignCa), ...fps(own)], 'what a registration must keep');

    const replacing = fixture({ publisher: fakePublisher(foreignCa), bundlePolicy: 'replace' });
    await tickAt(replacing, T0);
    const ownOnly = (await replacing.store.read())?.data['ca.crt'] ?? '';
    assert.deepEqual(fps(replacing.publisher.bundle), fps(ownOnly));
    assert.equal(replacing.tls.caBundle(), mergeCaBundle(ownOnly, '', new Date(T0)));
  });

  test('a store that cannot be read at startup fails the first tick; later failures keep the current CA', async () => {
    const broken: Fixture['store'] = Object.assign(countingStore(), {
      read: async (): Promise<StoredCa | undefined> => {
        throw new Error('connection refused');
      },
    });
    const f = fixture({ store: broken });
    await assert.rejects(f.tls.tick(), /connection refused/);

    const g = fixture();
    await tickAt(g, T0);
    const before = g.tls.current();
    g.store.read = async () => {
      throw new Error('connection refused');
    };
    await tickAt(g, T0 + 6_000);
    assert.equal(g.tls.current(), before);
    assert.ok(g.logs.some((l) => l.msg.startsWith('could not check the CA')));
    await tickAt(g, T0 + 38_000);
    assert.notEqual(g.tls.current(), before, 'serving renewal needs no store');
  });
});
