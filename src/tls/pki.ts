// X.509 building blocks (node-forge): a CA and certificates it signs. Pure apart from key generation, which uses the
// platform's CSPRNG; the clock is an input so callers and tests decide what "now" is.
import { generateKeyPair } from 'node:crypto';
import forge from 'node-forge';

/** A PEM certificate with its PEM private key. */
export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface CertificateOptions {
  commonName: string;
  /** Subject O= values; Kubernetes reads client certificate organisations as groups (e.g. `system:masters`). */
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  /** What the certificate is for; a CA ignores this. */
  usage?: 'server' | 'client' | 'both';
  notBefore: Date;
  validityMs: number;
  /** RSA modulus length; 2048 is what Kubernetes components accept everywhere and is fast to generate. */
  keyBits?: number;
  /**
   * An RSA private key (PEM) to certify instead of generating one here, e.g. made off the event loop with
   * generateRsaKeyPemAsync() by a server that must keep answering while it rotates its certificates.
   */
  keyPem?: string;
}

const RSA_BITS = 2048;

function randomSerial(): string {
  // A positive 128-bit serial: the first hex digit is kept below 8 so DER does not read it as negative.
  const bytes = forge.random.getBytesSync(16);
  const hex = forge.util.bytesToHex(bytes);
  return (parseInt(hex[0] ?? '0', 16) & 0x7).toString(16) + hex.slice(1);
}

// forge writes names as PrintableString, which has no `@`, `*` or `_`: Go's x509 (the API server) refuses to parse a
// certificate whose name breaks that. Anything outside the PrintableString alphabet goes as UTF8String instead.
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function nameAttribute(name: string, value: string): forge.pki.CertificateField {
  return PRINTABLE.test(value) ? { name, value } : ({ name, value, valueTagClass: forge.asn1.Type.UTF8 } as unknown as forge.pki.CertificateField);
}

function subjectOf(opts: CertificateOptions): forge.pki.CertificateField[] {
  const attrs: forge.pki.CertificateField[] = [nameAttribute('commonName', opts.commonName)];
  for (const o of opts.organizations ?? []) attrs.push(nameAttribute('organizationName', o));
  return attrs;
}

function extendedKeyUsage(usage: CertificateOptions['usage']): forge.pki.CertificateField {
  const u = usage ?? 'server';
  return { name: 'extKeyUsage', serverAuth: u !== 'client', clientAuth: u !== 'server' } as forge.pki.CertificateField;
}

function altNames(opts: CertificateOptions): forge.pki.CertificateField[] {
  const names: Array<{ type: number; value?: string; ip?: string }> = [];
  for (const dns of opts.dnsNames ?? []) names.push({ type: 2, value: dns });
  for (const ip of opts.ipAddresses ?? []) names.push({ type: 7, ip });
  return names.length > 0 ? [{ name: 'subjectAltName', altNames: names } as forge.pki.CertificateField] : [];
}

function keyPair(opts: CertificateOptions): forge.pki.rsa.KeyPair {
  if (opts.keyPem === undefined) return forge.pki.rsa.generateKeyPair({ bits: opts.keyBits ?? RSA_BITS, e: 0x10001 });
  const privateKey = forge.pki.privateKeyFromPem(opts.keyPem) as forge.pki.rsa.PrivateKey;
  return { privateKey, publicKey: forge.pki.setRsaPublicKey(privateKey.n, privateKey.e) };
}

function newCertificate(opts: CertificateOptions): { cert: forge.pki.Certificate; keys: forge.pki.rsa.KeyPair } {
  const keys = keyPair(opts);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = opts.notBefore;
  cert.validity.notAfter = new Date(opts.notBefore.getTime() + opts.validityMs);
  cert.setSubject(subjectOf(opts));
  return { cert, keys };
}

function toPem(cert: forge.pki.Certificate, keys: forge.pki.rsa.KeyPair): KeyPairPem {
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** A self-signed certificate authority. */
export function generateCA(opts: CertificateOptions): KeyPairPem {
  const { cert, keys } = newCertificate(opts);
  cert.setIssuer(subjectOf(opts));
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return toPem(cert, keys);
}

/**
 * A self-signed leaf certificate (not a CA). For peers that pin the certificate itself instead of trusting an issuer,
 * e.g. syncthing, whose device ID is the SHA-256 of the certificate.
 */
export function generateSelfSigned(opts: CertificateOptions): KeyPairPem {
  const { cert, keys } = newCertificate(opts);
  cert.setIssuer(subjectOf(opts));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    extendedKeyUsage(opts.usage),
    ...altNames(opts),
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return toPem(cert, keys);
}

/** A leaf certificate (server, client or both) signed by `ca`. */
export function issueCertificate(ca: KeyPairPem, opts: CertificateOptions): KeyPairPem {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const { cert, keys } = newCertificate(opts);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    extendedKeyUsage(opts.usage),
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ...altNames(opts),
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return toPem(cert, keys);
}

/**
 * An RSA private key in PEM (PKCS#1), generated on libuv's thread pool: the event loop keeps serving meanwhile, which
 * matters to a webhook that rotates its certificates under load (a synchronous 2048-bit generation blocks ~100 ms).
 */
export function generateRsaKeyPemAsync(bits = RSA_BITS): Promise<string> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: bits, publicExponent: 0x10001 }, (err, _publicKey, privateKey) => {
      if (err) reject(err);
      else resolve(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
    });
  });
}
