// Serving certificates when no files are given: a fresh CA and a serving certificate it signs, with the names the
// API server may use to reach devx (its Service DNS names in a cluster, 127.0.0.1 outside one).
import { generateCA, issueCertificate, type KeyPairPem } from './pki.ts';

export interface ServingNames {
  serviceName: string;
  namespace: string;
  /** Extra IPs, e.g. 127.0.0.1 for a webhook registered with a loopback URL. */
  ipAddresses?: string[];
}

export function serviceDnsNames(n: ServingNames): string[] {
  const base = `${n.serviceName}.${n.namespace}`;
  return ['localhost', n.serviceName, base, `${base}.svc`, `${base}.svc.cluster.local`];
}

const DAY_MS = 86_400_000;

export interface SelfSignedServing {
  ca: KeyPairPem;
  serving: KeyPairPem;
}

/** A CA valid for a year and a serving certificate valid for 90 days, both starting a minute before `now` to
 * tolerate clock skew between devx and the API server. */
export function selfSignedServing(names: ServingNames, now: Date): SelfSignedServing {
  const notBefore = new Date(now.getTime() - 60_000);
  const ca = generateCA({ commonName: 'devx-webhook-ca', notBefore, validityMs: 365 * DAY_MS });
  const serving = issueCertificate(ca, {
    commonName: `${names.serviceName}.${names.namespace}.svc`,
    dnsNames: serviceDnsNames(names),
    ipAddresses: ['127.0.0.1', ...(names.ipAddresses ?? [])],
    usage: 'server',
    notBefore,
    validityMs: 90 * DAY_MS,
  });
  return { ca, serving };
}
