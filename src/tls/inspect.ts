// Reading certificates and keys back (node:crypto): what a PEM text holds, whether a key belongs to a certificate.
// Pure: no clock, no I/O. node-forge builds certificates (pki.ts); OpenSSL, through node:crypto, is the judge of
// what it built, as it is for every TLS client that connects.
import { createPrivateKey, X509Certificate } from 'node:crypto';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificate of a PEM block, or undefined when it does not parse. */
function parseOne(block: string): X509Certificate | undefined {
  try {
    return new X509Certificate(block);
  } catch {
    return undefined;
  }
}

/** Every certificate in a PEM text, in order; blocks that do not parse are skipped. */
export function parseCertificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERTIFICATE) ?? []).map(parseOne).filter((c): c is X509Certificate => c !== undefined);
}

/** The first certificate of a PEM text (a serving chain starts with its leaf), or undefined. */
export function firstCertificate(pem: string): X509Certificate | undefined {
  return parseCertificates(pem)[0];
}

/** The first certificate of a PEM text; throws when there is none (for certificates devx made or checked itself). */
export function certificateOf(pem: string): X509Certificate {
  const cert = firstCertificate(pem);
  if (!cert) throw new Error('expected a PEM certificate');
  return cert;
}

/** True when `keyPem` is a private key and it is the one certified by `cert`. */
export function keyMatchesCertificate(cert: X509Certificate, keyPem: string): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** True when `keyPem` parses as a private key at all. */
export function isPrivateKey(keyPem: string): boolean {
  try {
    createPrivateKey(keyPem);
    return true;
  } catch {
    return false;
  }
}

/** What a log line or an operator wants to know about a certificate. */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  sha256: string;
}

export function summarize(cert: X509Certificate): CertificateSummary {
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    serial: cert.serialNumber,
    notBefore: cert.validFromDate.toISOString(),
    notAfter: cert.validToDate.toISOString(),
    sha256: cert.fingerprint256,
  };
}
