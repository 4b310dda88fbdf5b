// The reconciler as the server runs it: informer changes feed its queue, and it works only while this replica
// leads (or always, without leader election). Built from ports, so the wiring itself needs no cluster.
import type { RecordSigner } from '../core/records.ts';
import type { DevPolicySpec } from '../schemas/policy.ts';
import { createElector, type Elector, type LeaseStore } from './leader-election.ts';
import type { ObjectApi } from './ports.ts';
import { createReconciler, type ObjectChange, type Reconciler, type ReconcilerLogger } from './reconciler.ts';
import { secretDataGenerator } from './secret-generator.ts';
import type { ReconcilerSettings } from './settings.ts';

export interface RunReconcilerOptions {
  api: ObjectApi;
  /** The Lease to lead by; undefined runs without leader election (a single replica). */
  leaseStore?: LeaseStore;
  identity: string;
  settings: ReconcilerSettings;
  logger: ReconcilerLogger;
  policyOf: (namespace: string) => DevPolicySpec | undefined;
  /** Whether a namespace carries dev.x/policy: devx changes nothing anywhere else. */
  namespaceEnabled: (namespace: string) => boolean;
  signer: RecordSigner;
  /** What the informers hold now. */
  known: () => ObjectChange[];
  /** Subscribes to informer changes; returns the unsubscribe function. */
  subscribe: (cb: (change: ObjectChange) => void) => () => void;
}

export interface RunningReconciler {
  reconciler: Reconciler;
  /** Whether this replica runs the reconciler now. */
  leading(): boolean;
  /** Stops reconciling and, when leading, releases the Lease. */
  stop(): Promise<void>;
}

export function runReconciler(o: RunReconcilerOptions): RunningReconciler {
  const generate = secretDataGenerator({ onWorkerError: (err) => o.logger.warn({ error: err.message }, 'secret worker failed; generating on the main thread') });
  const reconciler = createReconciler({
    api: o.api,
    policyOf: o.policyOf,
    namespaceEnabled: o.namespaceEnabled,
    signer: o.signer,
    logger: o.logger,
    identity: o.identity,
    generateSecretData: generate,
    known: o.known,
    resyncMs: o.settings.resyncMs,
    stepDelayMs: o.settings.stepDelayMs,
  });
  const unsubscribe = o.subscribe((c) => reconciler.observe(c));
  const stopReconciling = (): void => {
    reconciler.stop().catch((err: unknown) => o.logger.error({ error: (err as Error).message }, 'reconciler did not stop cleanly'));
  };
  let elector: Elector | undefined;
  if (o.leaseStore) {
    elector = createElector({
      store: o.leaseStore,
      identity: o.identity,
      timings: o.settings.lease,
      logger: o.logger,
      onStartedLeading: () => reconciler.start(),
      onStoppedLeading: stopReconciling,
    });
    elector.start();
  } else {
    o.logger.info({ identity: o.identity }, 'reconciler running without leader election');
    reconciler.start();
  }
  o.logger.info({ identity: o.identity, leaderElection: Boolean(o.leaseStore), resyncMs: o.settings.resyncMs, lease: o.leaseStore?.describe() }, 'reconciler started');
  return {
    reconciler,
    leading: () => reconciler.running(),
    stop: async () => {
      unsubscribe();
      // Passes in progress finish before the Lease is released, so the next leader never overlaps with this one.
      await reconciler.stop();
      await elector?.stop();
      await generate.close();
    },
  };
}
