// A syncthing identity: the key pair and self-signed certificate a syncthing process reads from cert.pem/key.pem,
// plus the device ID the other end must trust. One fresh identity per end per workload (never a shared fixed key).
import { generateSelfSigned } from '../tls/pki.ts';
import { deviceIdFromCertPem } from './device-id.ts';

/** What one syncthing end needs: its certificate and key (PEM) and the device ID derived from the certificate. */
export interface SyncIdentity {
  /** `cert.pem` in the syncthing home. */
  certPem: string;
  /** `key.pem` in the syncthing home (PKCS#1 RSA); keep it mode 0600. */
  keyPem: string;
  /** Canonical device ID of `certPem`, the form syncthing prints and configs list. */
  deviceId: string;
}

export interface GenerateSyncIdentityOptions {
  /** The clock, as an input: the certificate is valid from the start of this UTC day. */
  now: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Syncthing's own certificates live 20 years (lib/tlsutil, 7300 days) and start at midnight UTC; devx matches that.
 * Syncthing never checks a peer certificate's validity dates (it pins the device ID), so the window only has to be
 * plausible for tools that inspect it; a short one would break a long-lived dev workload for nothing.
 */
export const SYNC_CERT_VALIDITY_MS = 7300 * DAY_MS;

/**
 * A fresh syncthing identity: an RSA-2048 key (node-forge; syncthing makes ECDSA/Ed25519 itself but accepts RSA) and a
 * self-signed certificate with CN `syncthing` and SAN `syncthing`, for both TLS client and server use, as syncthing
 * builds its own. Blocks for the key generation (tens of milliseconds with Node's native RSA).
 */
export function generateSyncIdentity(opts: GenerateSyncIdentityOptions): SyncIdentity {
  const notBefore = new Date(Math.floor(opts.now.getTime() / DAY_MS) * DAY_MS);
  const { certPem, keyPem } = generateSelfSigned({
    commonName: 'syncthing',
    organizations: ['devx'],
    dnsNames: ['syncthing'],
    usage: 'both',
    notBefore,
    validityMs: SYNC_CERT_VALIDITY_MS,
  });
  return { certPem, keyPem, deviceId: deviceIdFromCertPem(certPem) };
}
