// The names devx's serving certificate must carry: those the API server may use to reach it (its Service DNS names
// in a cluster, 127.0.0.1 and localhost outside one).
import type { CertificateNames } from './issue.ts';
import { DAY_MS } from '../schemas/duration.ts';
import { generateCA, issueCertificate, type KeyPairPem } from './pki.ts';

export interface ServingNames {
  serviceName: string;
  namespace: string;
  /** Extra IPs, e.g. the host of a non-loopback `--register-url`. */
  ipAddresses?: string[];
  /** Extra DNS names, e.g. the host of a `--register-url`. */
  dnsNames?: string[];
}

export function serviceDnsNames(n: ServingNames): string[] {
  const base = `${n.serviceName}.${n.namespace}`;
  return ['localhost', n.serviceName, base, `${base}.svc`, `${base}.svc.cluster.local`];
}

/** Subject and SANs of devx's serving certificate: `<service>.<namespace>.svc`, the Service names, 127.0.0.1. */
export function servingCertificateNames(n: ServingNames): CertificateNames {
  return {
    commonName: `${n.serviceName}.${n.namespace}.svc`,
    dnsNames: [...new Set([...serviceDnsNames(n), ...(n.dnsNames ?? [])])],
    ipAddresses: [...new Set(['127.0.0.1', ...(n.ipAddresses ?? [])])],
  };
}

/** A CA (1 year) and a serving certificate it signs (90 days), both from a minute before `now`, made synchronously:
 * for benchmarks and tools that want files once. The server itself uses self-managed.ts, which rotates them. */
export function selfSignedServing(names: ServingNames, now: Date): { ca: KeyPairPem; serving: KeyPairPem } {
  const notBefore = new Date(now.getTime() - 60_000);
  const ca = generateCA({ commonName: 'devx-webhook-ca', notBefore, validityMs: 365 * DAY_MS });
  const serving = issueCertificate(ca, { ...servingCertificateNames(names), usage: 'server', notBefore, validityMs: 90 * DAY_MS });
  return { ca, serving };
}
