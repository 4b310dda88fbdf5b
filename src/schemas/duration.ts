// Go-style durations as Kubernetes users write them: `90s`, `30m`, `4h`, `1h30m`.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h))+$';
const DURATION_RE = new RegExp(DURATION_PATTERN);

// Every pod review reads its policy's maxDuration; the few distinct strings in use are parsed once.
const parsed = new Map<string, number | undefined>();
const MAX_REMEMBERED = 256;

function parseOnce(text: string): number | undefined {
  if (!DURATION_RE.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(PART)) total += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 0);
  return total;
}

/** Milliseconds of a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (parsed.has(text)) return parsed.get(text);
  const ms = parseOnce(text);
  if (parsed.size >= MAX_REMEMBERED) parsed.clear();
  parsed.set(text, ms);
  return ms;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [h ? `${h}h` : '', m ? `${m}m` : '', s % 60 || (!h && !m) ? `${s % 60}s` : ''];
  return parts.join('');
}
