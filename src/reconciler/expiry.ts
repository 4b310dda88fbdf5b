// When dev mode ends by itself: `dev.x/ttl` after `dev.x/enabled-at` (which admission writes), capped by the
// policy's maxDuration; with no ttl annotation, maxDuration alone. The same parsing admission uses (readOverrides).
import type { KubeObject } from '../core/kube.ts';
import { annotationsOf } from '../core/kube.ts';
import { ANN_ENABLED_AT, ANN_TTL } from '../core/names.ts';
import { readOverrides } from '../core/overrides.ts';
import { formatDuration, parseDuration } from '../schemas/duration.ts';
import type { DevPolicySpec } from '../schemas/policy.ts';

export interface Expiry {
  at: Date;
  ttlMs: number;
  /** How the TTL came about, for the Event: e.g. `dev.x/ttl 4h` or `maxDuration 8h of the policy`. */
  source: string;
}

function ttlOf(annotations: Record<string, string>, spec: DevPolicySpec | undefined): { ms: number; source: string } | undefined {
  const asked = annotations[ANN_TTL];
  const askedMs = asked === undefined ? undefined : parseDuration(asked);
  if (!spec) return askedMs && askedMs > 0 ? { ms: askedMs, source: `${ANN_TTL} ${asked}` } : undefined;
  const ov = readOverrides(annotations, spec);
  const ms = ov.ok ? ov.value.ttlMs : spec.maxDuration ? parseDuration(spec.maxDuration) : undefined;
  if (ms === undefined) return undefined;
  const capped = askedMs === undefined || askedMs > ms;
  return { ms, source: capped ? `maxDuration ${formatDuration(ms)} of the DevPolicy` : `${ANN_TTL} ${asked}` };
}

/** When a workload in dev mode expires; undefined when it never does (or dev mode has no recorded start). */
export function expiryOf(obj: KubeObject, spec: DevPolicySpec | undefined): Expiry | undefined {
  const anns = annotationsOf(obj);
  const start = Date.parse(anns[ANN_ENABLED_AT] ?? '');
  if (Number.isNaN(start)) return undefined;
  const ttl = ttlOf(anns, spec);
  if (!ttl) return undefined;
  return { at: new Date(start + ttl.ms), ttlMs: ttl.ms, source: ttl.source };
}
