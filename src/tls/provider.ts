// Picks where the serving certificate comes from (DESIGN §7):
//   files given                    → files, reloaded when they change (cert-manager, a user Secret, `certs`)
//   no files, a cluster            → self-managed, CA in a Secret shared by the replicas
//   no files, no cluster (objects) → self-managed, CA in memory
// A cluster whose devx namespace does not exist (devx run from a laptop against any kubeconfig) gets the CA in
// memory too, with a warning: a Secret there is impossible, and one process needs no shared CA.
import { setTimeout as sleep } from 'node:timers/promises';
import { startFilePair } from './file-pair.ts';
import type { CertificateNames } from './issue.ts';
import { startSelfManaged, type SelfManagedOptions } from './self-managed.ts';
import { CaStoreUnavailableError, memoryCaStore, type BundlePublisher, type CaStore, type ServingTls, type TlsLogger } from './serving.ts';

export interface TlsSettings {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  caFile?: string | undefined;
  names: CertificateNames;
  servingValidityMs: number;
  caValidityMs: number;
}

export interface ClusterTls {
  /** The CA Secret. */
  store: CaStore;
  /** The caBundle of devx's own webhook configurations. */
  publisher: BundlePublisher;
  /** devx registers its webhook configurations itself (--register-url), so it owns their caBundle in every mode. */
  registering: boolean;
}

export interface StartServingTlsOptions {
  settings: TlsSettings;
  logger: TlsLogger;
  cluster?: ClusterTls | undefined;
  /** How long to keep trying to reach the CA Secret at startup (default 60 s). */
  startupTimeoutMs?: number;
}

async function withRetries<T>(what: () => Promise<T>, opts: { timeoutMs: number; logger: TlsLogger }): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await what();
    } catch (err) {
      if (err instanceof CaStoreUnavailableError || Date.now() + delay > deadline) throw err;
      opts.logger.warn({ err: (err as Error).message, retryInMs: delay }, 'cannot set up the CA yet; retrying');
      await sleep(delay);
    }
  }
}

export async function startServingTls(opts: StartServingTlsOptions): Promise<ServingTls> {
  const { settings, logger, cluster } = opts;
  if (settings.certFile && settings.keyFile) {
    const publisher = cluster?.registering ? cluster.publisher : undefined;
    return startFilePair({ certFile: settings.certFile, keyFile: settings.keyFile, caFile: settings.caFile, publisher, logger });
  }
  const base: Omit<SelfManagedOptions, 'store' | 'bundlePolicy'> = {
    names: settings.names,
    servingValidityMs: settings.servingValidityMs,
    caValidityMs: settings.caValidityMs,
    logger,
  };
  if (!cluster) return startSelfManaged({ ...base, store: memoryCaStore(), bundlePolicy: 'replace' });
  try {
    const shared = { ...base, store: cluster.store, publisher: cluster.publisher, bundlePolicy: 'merge' as const };
    return await withRetries(() => startSelfManaged(shared), { timeoutMs: opts.startupTimeoutMs ?? 60_000, logger });
  } catch (err) {
    if (!(err instanceof CaStoreUnavailableError)) throw err;
    logger.warn({ err: err.message }, 'the CA is kept in memory: replicas will not share it (create the namespace to keep it in a Secret)');
    return startSelfManaged({ ...base, store: memoryCaStore(), publisher: cluster.registering ? cluster.publisher : undefined, bundlePolicy: 'replace' });
  }
}
