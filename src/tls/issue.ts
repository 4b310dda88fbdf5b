// devx's own certificates: the CA of self-managed TLS and the serving certificates it signs. Keys are generated off
// the event loop (a server rotating under load keeps answering); the clock is an input.
import { firstCertificate } from './inspect.ts';
import { generateCA, generateRsaKeyPemAsync, issueCertificate, type KeyPairPem } from './pki.ts';

/** The names a serving certificate is valid for. */
export interface CertificateNames {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
}

/**
 * How far before `now` a certificate starts, so that a peer whose clock is a little behind still accepts it: a
 * minute, or a tenth of the lifetime for the very short ones tests use.
 */
export function backdateMs(validityMs: number): number {
  return Math.min(60_000, Math.floor(validityMs / 10));
}

/** A fresh CA valid from (now − backdate) to now + validity. Its CN carries its birth second so rotations are told
 * apart in logs and in `openssl x509` output; trust is decided by key identifiers, not by the name. */
export async function issueCa(now: Date, validityMs: number): Promise<KeyPairPem> {
  const keyPem = await generateRsaKeyPemAsync();
  const notBefore = new Date(now.getTime() - backdateMs(validityMs));
  const commonName = `devx-webhook-ca@${Math.floor(now.getTime() / 1000)}`;
  return generateCA({ commonName, keyPem, notBefore, validityMs: now.getTime() + validityMs - notBefore.getTime() });
}

export interface ServingRequest {
  ca: KeyPairPem;
  names: CertificateNames;
  now: Date;
  validityMs: number;
}

/**
 * A serving certificate signed by `ca`, valid from (now − backdate) to now + validity — but never past the CA's own
 * notAfter: no client accepts a certificate whose issuer has expired, so it would only look valid.
 */
export async function issueServing(req: ServingRequest): Promise<KeyPairPem> {
  const caCert = firstCertificate(req.ca.certPem);
  if (!caCert) throw new Error('issueServing: the CA certificate does not parse');
  const keyPem = await generateRsaKeyPemAsync();
  const notBefore = new Date(req.now.getTime() - backdateMs(req.validityMs));
  const notAfter = Math.min(req.now.getTime() + req.validityMs, caCert.validToDate.getTime());
  return issueCertificate(req.ca, {
    commonName: req.names.commonName,
    dnsNames: req.names.dnsNames,
    ipAddresses: req.names.ipAddresses,
    usage: 'server',
    keyPem,
    notBefore,
    validityMs: notAfter - notBefore.getTime(),
  });
}
