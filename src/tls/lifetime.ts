// Certificate lifetimes as operators write them: Go-style durations (`30s`, `2160h`, `1h30m`) plus days (`90d`,
// `365d`), which is how certificate lifetimes are usually talked about.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const WHOLE = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

export const DAY_MS = UNIT_MS.d as number;

/** Milliseconds of a lifetime such as `90d` or `30s`, or undefined when it is not one (or is zero). */
export function parseLifetime(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(PART)) total += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 0);
  return total > 0 ? Math.round(total) : undefined;
}
