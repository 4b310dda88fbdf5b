// Leader election, the loop: every retry period, read the Lease, decide (lease-decision.ts) and write. The leader
// renews; if it cannot renew within the renew deadline it stops leading at once (before any other candidate may take
// over). On a clean stop the leader releases the Lease so another replica takes over without waiting it out.
import type { Logger } from '../logger.ts';
import { decideLease, nextRecord, releasedRecord, sameRecord, type LeaseRecord, type LeaseTimings, type Observation } from './lease-decision.ts';

/** Reads and writes the one Lease; conflicts (someone else wrote first) are thrown like any error. */
export interface LeaseStore {
  get(): Promise<LeaseRecord | undefined>;
  create(record: LeaseRecord): Promise<LeaseRecord>;
  /** Replaces the record; `record.resourceVersion` makes it conditional. */
  update(record: LeaseRecord): Promise<LeaseRecord>;
  /** For logs: `namespace/name`. */
  describe(): string;
}

export type ElectorLogger = Pick<Logger, 'info' | 'warn' | 'debug'>;

export interface ElectorOptions {
  store: LeaseStore;
  identity: string;
  timings: LeaseTimings;
  logger: ElectorLogger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export interface Elector {
  start(): void;
  /** Stops campaigning; a leader releases the Lease first. */
  stop(): Promise<void>;
  isLeader(): boolean;
}

export function createElector(o: ElectorOptions): Elector {
  let observation: Observation | undefined;
  let leading = false;
  let lastRenewMs = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let failures = 0;
  let tick: Promise<void> = Promise.resolve();

  const setLeading = (on: boolean, why: string): void => {
    if (on === leading) return;
    leading = on;
    o.logger.info({ lease: o.store.describe(), identity: o.identity, why }, on ? 'became leader' : 'stopped leading');
    if (on) o.onStartedLeading();
    else o.onStoppedLeading();
  };

  const attempt = async (): Promise<void> => {
    const nowMs = Date.now();
    const current = await o.store.get();
    if (!observation || !sameRecord(observation.record, current)) observation = { record: current ?? {}, observedAtMs: nowMs };
    const action = decideLease({ current, observation, identity: o.identity, nowMs, timings: o.timings });
    if (action.type === 'wait') {
      setLeading(false, `held by ${action.holder}`);
      return;
    }
    const record = nextRecord({ action: action.type, current, identity: o.identity, now: new Date(nowMs), timings: o.timings });
    const written = action.type === 'create' ? await o.store.create(record) : await o.store.update(record);
    observation = { record: written, observedAtMs: nowMs };
    lastRenewMs = nowMs;
    setLeading(true, action.type);
  };

  const round = async (): Promise<void> => {
    try {
      await attempt();
      failures = 0;
    } catch (err) {
      failures++;
      const level = failures === 1 || failures % 20 === 0 ? 'warn' : 'debug';
      o.logger[level]({ lease: o.store.describe(), error: (err as Error).message, failures }, 'lease not acquired or renewed');
    }
    // A leader that has not renewed in time must stop before a candidate may take over (renewDeadline < duration).
    if (leading && Date.now() - lastRenewMs > o.timings.renewDeadlineMs) setLeading(false, 'renew deadline passed');
  };

  const loop = (): void => {
    if (stopped) return;
    tick = round().finally(() => {
      if (stopped) return;
      timer = setTimeout(loop, o.timings.retryPeriodMs);
      timer.unref();
    });
  };

  return {
    start: () => {
      if (!stopped) return;
      stopped = false;
      loop();
    },
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await tick;
      if (!leading) return;
      setLeading(false, 'shutting down');
      try {
        const current = await o.store.get();
        if (current?.holderIdentity === o.identity) await o.store.update(releasedRecord(current, new Date()));
        o.logger.info({ lease: o.store.describe() }, 'lease released');
      } catch (err) {
        o.logger.warn({ lease: o.store.describe(), error: (err as Error).message }, 'lease not released; the next leader waits it out');
      }
    },
    isLeader: () => leading,
  };
}
