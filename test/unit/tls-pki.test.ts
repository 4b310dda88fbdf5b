// The certificates self-managed TLS makes: names Go's x509 can parse (the API server refuses a whole caBundle when
// one certificate in it breaks PrintableString), lifetimes backdated for clock skew, serving certificates that never
// outlive their CA, keys generated off the event loop and certified as given.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import forge from 'node-forge';
import { backdateMs, issueCa, issueServing } from '../../src/tls/issue.ts';
import { generateCA, generateRsaKeyPemAsync, issueCertificate } from '../../src/tls/pki.ts';

const NOW = new Date('2030-01-01T00:00:00.000Z');
const PRINTABLE_STRING = 19;
const UTF8_STRING = 12;

const tagsOf = (pem: string, field: 'subject' | 'issuer'): Array<[string, number]> =>
  forge.pki.certificateFromPem(pem)[field].attributes.map((a) => [String(a.value), Number(a.valueTagClass)]);

test('names outside PrintableString (@, *, _) are written as UTF8String, the rest stay PrintableString', () => {
  const ca = generateCA({ commonName: 'devx-webhook-ca@1700000000', notBefore: NOW, validityMs: 60_000 });
  assert.deepEqual(tagsOf(ca.certPem, 'subject'), [['devx-webhook-ca@1700000000', UTF8_STRING]]);
  const leaf = issueCertificate(ca, { commonName: '*.example.com', organizations: ['dev team'], notBefore: NOW, validityMs: 60_000 });
  assert.deepEqual(tagsOf(leaf.certPem, 'subject'), [['*.example.com', UTF8_STRING], ['dev team', PRINTABLE_STRING]]);
  // The issuer is the CA's subject byte for byte, or chains would not build.
  assert.deepEqual(tagsOf(leaf.certPem, 'issuer'), tagsOf(ca.certPem, 'subject'));
  assert.ok(new X509Certificate(leaf.certPem).checkIssued(new X509Certificate(ca.certPem)));
  const plain = generateCA({ commonName: 'devx-e2e-ca', notBefore: NOW, validityMs: 60_000 });
  assert.deepEqual(tagsOf(plain.certPem, 'subject'), [['devx-e2e-ca', PRINTABLE_STRING]]);
});

test('backdate: a minute, or a tenth of short lifetimes', () => {
  assert.equal(backdateMs(90 * 86_400_000), 60_000);
  assert.equal(backdateMs(6000), 600);
});

test('issueCa: a CA from now − backdate to now + validity, named after its birth second', async () => {
  const ca = await issueCa(NOW, 3_600_000);
  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.ca, true);
  assert.equal(cert.subject, 'CN=devx-webhook-ca@1893456000');
  assert.equal(cert.validFromDate.getTime(), NOW.getTime() - 60_000);
  assert.equal(cert.validToDate.getTime(), NOW.getTime() + 3_600_000);
  assert.ok(cert.checkPrivateKey(createPrivateKey(ca.keyPem)));
});

test('issueServing: signed by the CA, for the names given, capped at the CA’s notAfter', async () => {
  const ca = await issueCa(NOW, 600_000);
  const names = { commonName: 'devx.devx-system.svc', dnsNames: ['devx.devx-system.svc'], ipAddresses: ['127.0.0.1'] };
  const short = new X509Certificate((await issueServing({ ca, names, now: NOW, validityMs: 60_000 })).certPem);
  assert.equal(short.validToDate.getTime(), NOW.getTime() + 60_000);
  assert.equal(short.subjectAltName, 'DNS:devx.devx-system.svc, IP Address:127.0.0.1');
  assert.ok(short.checkIssued(new X509Certificate(ca.certPem)) && short.verify(new X509Certificate(ca.certPem).publicKey));
  const late = new Date(NOW.getTime() + 580_000);
  const capped = new X509Certificate((await issueServing({ ca, names, now: late, validityMs: 60_000 })).certPem);
  assert.equal(capped.validToDate.getTime(), NOW.getTime() + 600_000, 'ends with its CA, 40 s early');
});

test('a key made off the event loop is the one certified', async () => {
  const keyPem = await generateRsaKeyPemAsync();
  assert.match(keyPem, /^-----BEGIN RSA PRIVATE KEY-----/);
  const cert = generateCA({ commonName: 'k', keyPem, notBefore: NOW, validityMs: 60_000 });
  assert.equal(cert.keyPem.trim(), forge.pki.privateKeyToPem(forge.pki.privateKeyFromPem(keyPem)).trim());
  assert.ok(new X509Certificate(cert.certPem).checkPrivateKey(createPrivateKey(keyPem)));
});
