// The app's ports the agent forwards: `dev.x/ports` on the workload and `--forward` on the command line, both a
// comma-separated list of PORT or LOCAL:REMOTE (`8080,9229:9229`). Pure: text in, mappings or a message out.
import { err, ok, type Result } from '../core/result.ts';

/** 127.0.0.1:local on this machine → port `remote` of the dev pod. */
export interface PortMapping {
  local: number;
  remote: number;
}

const ENTRY = /^(\d{1,5})(?::(\d{1,5}))?$/;
const EXAMPLE = 'e.g. 8080,9229:9229';

function portNumber(text: string): number | undefined {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

function parseEntry(entry: string, what: string): Result<PortMapping> {
  const m = ENTRY.exec(entry);
  const local = m?.[1] === undefined ? undefined : portNumber(m[1]);
  const remote = m?.[2] === undefined ? local : portNumber(m[2]);
  if (local === undefined || remote === undefined) {
    return err(`${what}: ${JSON.stringify(entry)} is not a port: write PORT or LOCAL:REMOTE (ports 1-65535), comma-separated, ${EXAMPLE}`);
  }
  return ok({ local, remote });
}

/** Parses one list (`what` names where it came from in messages: `dev.x/ports of deploy/web`, `--forward`). Empty
 * entries (`8080,`) are ignored; the same local port twice is an error. */
export function parsePortList(text: string, what: string): Result<PortMapping[]> {
  const out: PortMapping[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const parsed = parseEntry(entry, what);
    if (!parsed.ok) return parsed;
    const twice = out.find((p) => p.local === parsed.value.local);
    if (twice) return err(`${what}: local port ${twice.local} is forwarded twice (to ${twice.remote} and to ${parsed.value.remote}): keep one`);
    out.push(parsed.value);
  }
  return ok(out);
}

/** Parses every --forward value (the flag is repeatable, and each may be a list). */
export function parseForwardFlags(values: readonly string[]): Result<PortMapping[]> {
  return parsePortList(values.join(','), '--forward');
}

/**
 * The ports to forward: the workload's, where --forward names the same remote port the command line's mapping wins
 * (`--forward 18080:8080` moves the app's 8080 to local 18080), then the rest of --forward. One local port can carry
 * one remote port only.
 */
export function mergePorts(declared: readonly PortMapping[], flags: readonly PortMapping[]): Result<PortMapping[]> {
  const merged = [...declared.filter((d) => !flags.some((f) => f.remote === d.remote)), ...flags];
  for (const [i, p] of merged.entries()) {
    const other = merged.slice(i + 1).find((q) => q.local === p.local);
    if (other) return err(`local port ${p.local} would carry both port ${p.remote} and port ${other.remote} of the dev pod: move one of them to another local port with --forward LOCAL:${other.remote}`);
  }
  return ok(merged);
}

/** `127.0.0.1:8080 → 8080, 127.0.0.1:19229 → 9229`, for messages. */
export function portsText(ports: readonly PortMapping[]): string {
  return ports.map((p) => `127.0.0.1:${p.local} → ${p.remote}`).join(', ');
}
