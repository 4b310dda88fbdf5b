// The reconciler's timings. The defaults suit a cluster (client-go's leader-election defaults, a one-minute resync);
// tests and demos shorten them through the environment, since the server's flags are fixed:
//   DEVX_LEASE_DURATION (15s), DEVX_LEASE_RENEW_DEADLINE (10s), DEVX_LEASE_RETRY_PERIOD (2s),
//   DEVX_RESYNC_PERIOD (60s), DEVX_RECONCILE_STEP_DELAY (0s: a pause before every change, to watch it happen).
// Values are Go-style durations (`500ms`, `2s`, `1m`). Bad values are startup errors, each named.
import os from 'node:os';
import { parseDuration } from '../schemas/duration.ts';
import { DEFAULT_LEASE_TIMINGS, leaseTimingProblems, type LeaseTimings } from './lease-decision.ts';

export interface ReconcilerSettings {
  lease: LeaseTimings;
  resyncMs: number;
  stepDelayMs: number;
}

const ENV = {
  leaseDurationMs: 'DEVX_LEASE_DURATION',
  renewDeadlineMs: 'DEVX_LEASE_RENEW_DEADLINE',
  retryPeriodMs: 'DEVX_LEASE_RETRY_PERIOD',
  resyncMs: 'DEVX_RESYNC_PERIOD',
  stepDelayMs: 'DEVX_RECONCILE_STEP_DELAY',
} as const;

function duration(env: Record<string, string | undefined>, name: string, fallback: number, errors: string[]): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const ms = parseDuration(text);
  if (ms === undefined) {
    errors.push(`${name}=${JSON.stringify(text)} is not a duration such as 500ms, 2s or 1m`);
    return fallback;
  }
  return ms;
}

/** Settings from the environment; throws with every problem at once. */
export function reconcilerSettings(env: Record<string, string | undefined>): ReconcilerSettings {
  const errors: string[] = [];
  const lease: LeaseTimings = {
    leaseDurationMs: duration(env, ENV.leaseDurationMs, DEFAULT_LEASE_TIMINGS.leaseDurationMs, errors),
    renewDeadlineMs: duration(env, ENV.renewDeadlineMs, DEFAULT_LEASE_TIMINGS.renewDeadlineMs, errors),
    retryPeriodMs: duration(env, ENV.retryPeriodMs, DEFAULT_LEASE_TIMINGS.retryPeriodMs, errors),
  };
  const resyncMs = duration(env, ENV.resyncMs, 60_000, errors);
  const stepDelayMs = duration(env, ENV.stepDelayMs, 0, errors);
  if (resyncMs < 100) errors.push(`${ENV.resyncMs} must be at least 100ms`);
  errors.push(...leaseTimingProblems(lease).map((p) => `${p} (${ENV.leaseDurationMs}, ${ENV.renewDeadlineMs}, ${ENV.retryPeriodMs})`));
  if (errors.length > 0) throw new Error(`reconciler settings: ${errors.join('; ')}`);
  return { lease, resyncMs, stepDelayMs };
}

/** This replica's name in the Lease: `--identity`, else the pod's name (POD_NAME), else `hostname-pid`. */
export function replicaIdentity(flag: string | undefined, env: Record<string, string | undefined>, host = os.hostname(), pid = process.pid): string {
  return flag || env.POD_NAME || `${host}-${pid}`;
}
