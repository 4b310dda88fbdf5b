// Leader election over a coordination.k8s.io/v1 Lease, the decision part (pure), following client-go's
// leaderelection: a candidate never trusts another replica's clock. It takes over only when the Lease has not changed
// for a full lease duration *as measured by its own clock* since it last saw it change; the holder renews well
// within that duration, and a holder that cannot renew in time stops acting as leader before anyone may take over.

/** The fields of a Lease's spec that election uses, plus the object's resourceVersion for optimistic updates. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  resourceVersion?: string;
}

export interface LeaseTimings {
  /** How long a Lease not renewed stays valid for the other candidates (default 15 s; the Lease stores whole seconds). */
  leaseDurationMs: number;
  /** The holder gives up leading when it has not renewed for this long (default 10 s; less than the duration). */
  renewDeadlineMs: number;
  /** How often candidates try to acquire and the holder renews (default 2 s). */
  retryPeriodMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 };

/** Problems with a set of timings; empty when they can work (client-go's rules). */
export function leaseTimingProblems(t: LeaseTimings): string[] {
  const problems: string[] = [];
  if (t.leaseDurationMs < 1000) problems.push('the lease duration must be at least 1s (a Lease stores whole seconds)');
  if (t.renewDeadlineMs >= t.leaseDurationMs) problems.push('the renew deadline must be shorter than the lease duration');
  if (t.retryPeriodMs <= 0 || t.retryPeriodMs >= t.renewDeadlineMs) problems.push('the retry period must be positive and shorter than the renew deadline');
  return problems;
}

/** What this candidate last saw of the Lease, and when (its own clock). */
export interface Observation {
  record: LeaseRecord;
  observedAtMs: number;
}

export type LeaseAction =
  /** No Lease yet: create it, holding it. */
  | { type: 'create' }
  /** We hold it: renew. */
  | { type: 'renew' }
  /** Free or expired: take it (one more transition). */
  | { type: 'acquire' }
  /** Someone else holds a valid Lease. */
  | { type: 'wait'; holder: string };

/** Whether two reads of the Lease are the same state (any renewal changes renewTime). */
export function sameRecord(a: LeaseRecord | undefined, b: LeaseRecord | undefined): boolean {
  return a?.holderIdentity === b?.holderIdentity && a?.renewTime === b?.renewTime && a?.acquireTime === b?.acquireTime;
}

export function decideLease(o: { current: LeaseRecord | undefined; observation: Observation | undefined; identity: string; nowMs: number; timings: LeaseTimings }): LeaseAction {
  if (!o.current) return { type: 'create' };
  const holder = o.current.holderIdentity ?? '';
  if (holder === o.identity) return { type: 'renew' };
  if (holder === '') return { type: 'acquire' };
  const seenSince = o.observation && sameRecord(o.observation.record, o.current) ? o.observation.observedAtMs : o.nowMs;
  if (o.nowMs - seenSince >= o.timings.leaseDurationMs) return { type: 'acquire' };
  return { type: 'wait', holder };
}

/** Microseconds as the API server's MicroTime wants them: RFC 3339 with six fraction digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The record this candidate writes for an action (renewing keeps the acquire time and transitions). */
export function nextRecord(o: { action: 'create' | 'renew' | 'acquire'; current: LeaseRecord | undefined; identity: string; now: Date; timings: LeaseTimings }): LeaseRecord {
  const now = microTime(o.now);
  const seconds = Math.max(1, Math.ceil(o.timings.leaseDurationMs / 1000));
  const base: LeaseRecord = { holderIdentity: o.identity, leaseDurationSeconds: seconds, renewTime: now };
  if (o.action === 'renew') return { ...o.current, ...base };
  const transitions = o.action === 'create' ? 0 : (o.current?.leaseTransitions ?? 0) + 1;
  return { ...o.current, ...base, acquireTime: now, leaseTransitions: transitions };
}

/** What the holder writes when it steps down cleanly: nobody holds it, so the next candidate takes it at once. */
export function releasedRecord(current: LeaseRecord, now: Date): LeaseRecord {
  return { ...current, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now) };
}
