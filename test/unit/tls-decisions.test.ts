// The pure decisions of self-managed TLS: when the CA is made again (and the reason given, pinned like a golden),
// when a serving certificate is renewed, and which CAs a rotation's bundle keeps.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { parseCertificates } from '../../src/tls/inspect.ts';
import { caRequiresRegeneration, mergeCaBundle, renewalTime, servingRenewAt, type CaSecretData } from '../../src/tls/decisions.ts';
import { generateCA, generateSelfSigned, issueCertificate } from '../../src/tls/pki.ts';

/** True when every certificate of `pem` is in `bundlePem` (compared by SHA-256). */
function bundleContains(bundlePem: string, pem: string): boolean {
  const inBundle = new Set(parseCertificates(bundlePem).map((c) => c.fingerprint256));
  const wanted = parseCertificates(pem);
  return wanted.length > 0 && wanted.every((c) => inBundle.has(c.fingerprint256));
}

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);
const MIN = 60_000;

// A CA valid from T0 for 300 s: renewal from T0+200 s, expiry at T0+300 s.
const ca = generateCA({ commonName: 'test-ca', notBefore: T0, validityMs: 5 * MIN });
const otherCa = generateCA({ commonName: 'other-ca', notBefore: T0, validityMs: 5 * MIN });
const leaf = generateSelfSigned({ commonName: 'not-a-ca', notBefore: T0, validityMs: 5 * MIN });
const good: CaSecretData = { 'ca.crt': ca.certPem, 'ca.key': ca.keyPem };

describe('caRequiresRegeneration', () => {
  const cases: Array<{ name: string; data: CaSecretData | undefined; now: Date; regenerate: boolean; reason: string }> = [
    { name: 'no Secret', data: undefined, now: at(10), regenerate: true, reason: 'the CA Secret does not exist' },
    { name: 'empty Secret', data: {}, now: at(10), regenerate: true, reason: 'ca.crt is missing' },
    { name: 'no key', data: { 'ca.crt': ca.certPem }, now: at(10), regenerate: true, reason: 'ca.key is missing' },
    { name: 'empty key', data: { 'ca.crt': ca.certPem, 'ca.key': '' }, now: at(10), regenerate: true, reason: 'ca.key is missing' },
    { name: 'garbage certificate', data: { 'ca.crt': 'hello', 'ca.key': ca.keyPem }, now: at(10), regenerate: true, reason: 'ca.crt is not a PEM certificate' },
    {
      name: 'corrupt certificate body',
      data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'ca.key': ca.keyPem },
      now: at(10),
      regenerate: true,
      reason: 'ca.crt is not a PEM certificate',
    },
    { name: 'garbage key', data: { 'ca.crt': ca.certPem, 'ca.key': 'not a key' }, now: at(10), regenerate: true, reason: 'ca.key is not a PEM private key' },
    { name: 'key of another CA', data: { 'ca.crt': ca.certPem, 'ca.key': otherCa.keyPem }, now: at(10), regenerate: true, reason: 'ca.key does not match ca.crt' },
    {
      name: 'a leaf, not a CA',
      data: { 'ca.crt': leaf.certPem, 'ca.key': leaf.keyPem },
      now: at(10),
      regenerate: true,
      reason: 'ca.crt is not a CA certificate (basicConstraints CA:FALSE)',
    },
    { name: 'fresh', data: good, now: at(10), regenerate: false, reason: 'ca.crt is valid until 2030-01-01T00:05:00.000Z (renewal from 2030-01-01T00:03:20.000Z)' },
    {
      name: 'not valid yet (another replica’s clock is ahead): kept',
      data: good,
      now: at(-30),
      regenerate: false,
      reason: 'ca.crt is valid until 2030-01-01T00:05:00.000Z (renewal from 2030-01-01T00:03:20.000Z)',
    },
    {
      name: 'one millisecond before the renewal window',
      data: good,
      now: new Date(at(200).getTime() - 1),
      regenerate: false,
      reason: 'ca.crt is valid until 2030-01-01T00:05:00.000Z (renewal from 2030-01-01T00:03:20.000Z)',
    },
    {
      name: 'at the start of the renewal window (2/3 of its life)',
      data: good,
      now: at(200),
      regenerate: true,
      reason: 'ca.crt is in its renewal window (renew from 2030-01-01T00:03:20.000Z, expires 2030-01-01T00:05:00.000Z)',
    },
    {
      name: 'near expiry',
      data: good,
      now: at(299),
      regenerate: true,
      reason: 'ca.crt is in its renewal window (renew from 2030-01-01T00:03:20.000Z, expires 2030-01-01T00:05:00.000Z)',
    },
    { name: 'expired', data: good, now: at(300), regenerate: true, reason: 'ca.crt expired at 2030-01-01T00:05:00.000Z' },
    { name: 'long expired', data: good, now: at(86_400), regenerate: true, reason: 'ca.crt expired at 2030-01-01T00:05:00.000Z' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(caRequiresRegeneration(c.data, c.now), { regenerate: c.regenerate, reason: c.reason });
    });
  }
});

describe('renewal times', () => {
  test('renewalTime is notBefore + 2/3 of the life, in whole milliseconds', () => {
    assert.equal(renewalTime({ notBefore: T0, notAfter: at(90) }).toISOString(), at(60).toISOString());
    assert.equal(renewalTime({ notBefore: T0, notAfter: at(10) }).getTime(), T0.getTime() + 6666);
  });

  test('servingRenewAt of a PEM or a parsed certificate', () => {
    const serving = issueCertificate(ca, { commonName: 's', ipAddresses: ['127.0.0.1'], notBefore: at(30), validityMs: 90_000 });
    assert.equal(servingRenewAt(serving.certPem).toISOString(), at(90).toISOString());
    assert.equal(servingRenewAt(new X509Certificate(serving.certPem)).toISOString(), at(90).toISOString());
    assert.throws(() => servingRenewAt('nope'), /not a PEM certificate/);
  });
});

describe('mergeCaBundle', () => {
  const expired = generateCA({ commonName: 'expired-ca', notBefore: at(-600), validityMs: 5 * MIN });
  const fp = (pem: string): string[] => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b).fingerprint256);
  const fpOf = (pem: string): string => new X509Certificate(pem).fingerprint256;

  test('old and new overlap, old first', () => {
    const merged = mergeCaBundle(ca.certPem, otherCa.certPem, at(10));
    assert.deepEqual(fp(merged), [fpOf(ca.certPem), fpOf(otherCa.certPem)]);
    assert.ok(bundleContains(merged, ca.certPem) && bundleContains(merged, otherCa.certPem));
  });

  test('duplicates are dropped, whether in old, new or both', () => {
    assert.deepEqual(fp(mergeCaBundle(ca.certPem + ca.certPem, ca.certPem, at(10))), [fpOf(ca.certPem)]);
    const once = mergeCaBundle(ca.certPem, otherCa.certPem, at(10));
    assert.equal(mergeCaBundle(once, otherCa.certPem, at(10)), once, 'merging again changes nothing');
  });

  test('expired CAs are dropped, from either side', () => {
    assert.deepEqual(fp(mergeCaBundle(expired.certPem + ca.certPem, otherCa.certPem, at(10))), [fpOf(ca.certPem), fpOf(otherCa.certPem)]);
    assert.deepEqual(fp(mergeCaBundle(ca.certPem, expired.certPem, at(10))), [fpOf(ca.certPem)]);
    assert.equal(mergeCaBundle(ca.certPem, otherCa.certPem, at(300)), '', 'both expired at T0+300 s');
  });

  test('unparsable blocks and text around them are dropped; empty input gives an empty bundle', () => {
    const messy = `# comment\n${ca.certPem}\n-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n`;
    assert.equal(mergeCaBundle(messy, '', at(10)), new X509Certificate(ca.certPem).toString());
    assert.equal(mergeCaBundle('', '', at(10)), '');
  });

  test('the output is normalized PEM that parses back to the same certificates', () => {
    const merged = mergeCaBundle(ca.certPem, otherCa.certPem, at(10));
    assert.match(merged, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    assert.equal(mergeCaBundle(merged, '', at(10)), merged);
  });
});
