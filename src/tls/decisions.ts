// The decisions of self-managed TLS, as pure functions of their inputs (the clock is one of them): whether the CA
// must be made again, when a certificate is due for renewal, which CAs the API server must trust. The loops in
// self-managed.ts only carry them out, so every rule here is tested without a network or a timer.
import type { X509Certificate } from 'node:crypto';
import { firstCertificate, isPrivateKey, keyMatchesCertificate, parseCertificates } from './inspect.ts';

/** The CA as kept in its Secret (`devx-webhook-ca`): PEM text, already decoded from the Secret's base64. */
export interface CaSecretData {
  'ca.crt'?: string;
  'ca.key'?: string;
}

export interface CaDecision {
  regenerate: boolean;
  /** Why, in words an operator can act on; also logged. Stable: tests pin them. */
  reason: string;
}

/** Renew at two thirds of a certificate's life, like cert-manager: a third of it is left to retry and to roll over. */
export const RENEW_AT_FRACTION = 2 / 3;

/** notBefore + 2/3 of the life between notBefore and notAfter. */
export function renewalTime(validity: { notBefore: Date; notAfter: Date }): Date {
  const life = validity.notAfter.getTime() - validity.notBefore.getTime();
  return new Date(validity.notBefore.getTime() + Math.floor(life * RENEW_AT_FRACTION));
}

/** When a serving certificate (PEM or parsed) is due for renewal: notBefore + 2/3 of its life. */
export function servingRenewAt(cert: string | X509Certificate): Date {
  const parsed = typeof cert === 'string' ? firstCertificate(cert) : cert;
  if (!parsed) throw new Error('servingRenewAt: not a PEM certificate');
  return renewalTime({ notBefore: parsed.validFromDate, notAfter: parsed.validToDate });
}

type Check = (data: Required<CaSecretData>, cert: X509Certificate) => string | undefined;

// Each check names what is wrong, or returns undefined. Order matters: the first failing one is the reason.
const CHECKS: Check[] = [
  (data) => (isPrivateKey(data['ca.key']) ? undefined : 'ca.key is not a PEM private key'),
  (data, cert) => (keyMatchesCertificate(cert, data['ca.key']) ? undefined : 'ca.key does not match ca.crt'),
  (_data, cert) => (cert.ca ? undefined : 'ca.crt is not a CA certificate (basicConstraints CA:FALSE)'),
];

function missing(data: CaSecretData | undefined): string | undefined {
  if (data === undefined) return 'the CA Secret does not exist';
  if (!data['ca.crt']) return 'ca.crt is missing';
  if (!data['ca.key']) return 'ca.key is missing';
  return undefined;
}

/**
 * Whether the stored CA must be replaced: missing, unparsable, a key that does not belong to it, not a CA, expired,
 * or within the last third of its life. A CA that is not valid *yet* is kept: that is another replica's clock running
 * ahead, and replacing it would make replicas take turns overwriting each other.
 */
export function caRequiresRegeneration(data: CaSecretData | undefined, now: Date): CaDecision {
  const absent = missing(data);
  if (absent !== undefined || data === undefined) return { regenerate: true, reason: absent ?? '' };
  const full = data as Required<CaSecretData>;
  const cert = firstCertificate(full['ca.crt']);
  if (!cert) return { regenerate: true, reason: 'ca.crt is not a PEM certificate' };
  const wrong = CHECKS.map((check) => check(full, cert)).find((r) => r !== undefined);
  if (wrong !== undefined) return { regenerate: true, reason: wrong };
  const notAfter = cert.validToDate;
  const renewAt = renewalTime({ notBefore: cert.validFromDate, notAfter });
  if (now.getTime() >= notAfter.getTime()) return { regenerate: true, reason: `ca.crt expired at ${notAfter.toISOString()}` };
  if (now.getTime() >= renewAt.getTime()) {
    return { regenerate: true, reason: `ca.crt is in its renewal window (renew from ${renewAt.toISOString()}, expires ${notAfter.toISOString()})` };
  }
  return { regenerate: false, reason: `ca.crt is valid until ${notAfter.toISOString()} (renewal from ${renewAt.toISOString()})` };
}

/**
 * The CA bundle to trust during a rotation: every certificate of `oldPem`, then those of `newPem`, without
 * duplicates (same SHA-256) and without expired ones; blocks that do not parse are dropped. Old and new overlap so
 * that servers still presenting a certificate from the old CA keep being trusted until that CA expires. Returns
 * normalized PEM ('' when nothing is left).
 */
export function mergeCaBundle(oldPem: string, newPem: string, now: Date): string {
  const seen = new Set<string>();
  const kept: X509Certificate[] = [];
  for (const cert of [...parseCertificates(oldPem), ...parseCertificates(newPem)]) {
    if (seen.has(cert.fingerprint256) || cert.validToDate.getTime() <= now.getTime()) continue;
    seen.add(cert.fingerprint256);
    kept.push(cert);
  }
  return kept.map((c) => c.toString()).join('');
}

