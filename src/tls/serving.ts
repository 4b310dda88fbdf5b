// What the HTTPS server needs from whoever provides its certificate, and what self-managed TLS needs from the
// cluster. The cluster side (a Secret, the webhook configurations) is implemented in src/k8s and passed in, so this
// folder never talks to the network itself and its tests run against in-memory doubles.
import type { Logger } from '../k8s/logger.ts';
import type { CaSecretData } from './decisions.ts';
import type { KeyPairPem } from './pki.ts';

/** The part of a pino logger this folder uses (the same as src/k8s's); pino instances and children satisfy it. */
export type TlsLogger = Logger;

/** Where the serving certificate comes from. */
export type TlsMode = 'files' | 'self-managed';

/** The serving certificate of the HTTPS server, kept current. */
export interface ServingTls {
  readonly mode: TlsMode;
  /** Where the CA lives (`Secret ns/name`, `memory`) or which files are served, for logs. */
  readonly source: string;
  /** The pair to serve now. */
  current(): KeyPairPem;
  /** PEM of the CA(s) a client must trust to reach this server now (several during a CA rotation). */
  caBundle(): string;
  /** Called with every new pair after the first (the server swaps it in with setSecureContext). */
  onChange(listener: (pair: KeyPairPem) => void): void;
  /** Stops timers and file watches; the current pair stays usable. */
  stop(): void;
}

/** Calls every listener with the new pair; one that throws is logged and does not stop the others. */
export function notifyAll(listeners: Array<(pair: KeyPairPem) => void>, pair: KeyPairPem, logger: TlsLogger): void {
  for (const listener of listeners) {
    try {
      listener(pair);
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'swapping in the new serving certificate failed');
    }
  }
}

/** The CA as stored, with the version its store uses for optimistic concurrency (a resourceVersion). */
export interface StoredCa {
  data: CaSecretData;
  version?: string | undefined;
}

/** Where self-managed TLS keeps its CA, shared by every replica (a Secret) or by this process only (memory). */
export interface CaStore {
  /** For logs, e.g. `Secret devx-system/devx-webhook-ca`. */
  readonly where: string;
  read(): Promise<StoredCa | undefined>;
  /**
   * Stores `ca` if the store still holds `version` (undefined: if it holds nothing). False when another writer got
   * there first — the caller then reads and uses what that writer stored, so replicas never overwrite each other.
   */
  write(ca: KeyPairPem, version: string | undefined): Promise<boolean>;
}

/** Thrown by a CaStore that cannot hold anything at all (e.g. its namespace does not exist). */
export class CaStoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaStoreUnavailableError';
  }
}

/** Tells the API server which CAs to trust: the caBundle of devx's own webhook configurations. */
export interface BundlePublisher {
  /**
   * Sets every caBundle to `desired(current)` and resolves to the bundle now in place, or undefined when there is
   * no configuration to update (not registered yet).
   */
  publish(desired: (currentPem: string) => string): Promise<string | undefined>;
}

/** A CaStore that lives and dies with this process: for running without a cluster, and for tests. */
export function memoryCaStore(): CaStore {
  let held: StoredCa | undefined;
  let version = 0;
  return {
    where: 'memory',
    read: () => Promise.resolve(held),
    write: (ca, expected) => {
      if (held?.version !== expected) return Promise.resolve(false);
      version += 1;
      held = { data: { 'ca.crt': ca.certPem, 'ca.key': ca.keyPem }, version: String(version) };
      return Promise.resolve(true);
    },
  };
}
