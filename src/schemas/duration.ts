// Go-style durations as Kubernetes users write them: `90s`, `30m`, `4h`, `1h30m`; and certificate lifetimes, which
// also take days (`90d`, `365d`), as certificate lifetimes are usually talked about. One unit table for both.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h))+$';
const DURATION_RE = new RegExp(DURATION_PATTERN);
const LIFETIME_RE = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;

export const DAY_MS = UNIT_MS.d as number;

/** The sum of a text's number-unit parts, in milliseconds; the caller has checked the whole text. */
function sumOfParts(text: string): number {
  let total = 0;
  for (const m of text.matchAll(PART)) total += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 0);
  return total;
}

/** Milliseconds of a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  return DURATION_RE.test(text) ? sumOfParts(text) : undefined;
}

/** Milliseconds of a certificate lifetime such as `90d` or `30s`, or undefined when it is not one (or is zero). */
export function parseLifetime(text: string): number | undefined {
  if (!LIFETIME_RE.test(text)) return undefined;
  const total = sumOfParts(text);
  return total > 0 ? Math.round(total) : undefined;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [h ? `${h}h` : '', m ? `${m}m` : '', s % 60 || (!h && !m) ? `${s % 60}s` : ''];
  return parts.join('');
}
