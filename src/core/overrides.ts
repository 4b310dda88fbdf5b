// The dev.x/* annotations a user sets, parsed and checked against the policy.
import { z } from 'zod';
import type { DevPolicySpec } from '../schemas/policy.ts';
import { parseDuration } from '../schemas/duration.ts';
import { ANN_COMMAND, ANN_CONTAINER, ANN_IMAGE, ANN_TTL, ANN_WORKDIR, DEFAULT_COMMAND, DEFAULT_WORKDIR } from './names.ts';

export interface Overrides {
  container?: string;
  image?: string;
  workdir: string;
  command: string[];
  ttlMs?: number;
}

const CommandSchema = z.array(z.string()).min(1);

function parseCommand(text: string | undefined, spec: DevPolicySpec): string[] | string {
  if (text === undefined) return spec.command ?? DEFAULT_COMMAND;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `${ANN_COMMAND} must be a JSON array of strings, e.g. '["npm","run","dev"]'; got ${JSON.stringify(text)}`;
  }
  const r = CommandSchema.safeParse(parsed);
  return r.success ? r.data : `${ANN_COMMAND} must be a non-empty JSON array of strings, e.g. '["npm","run","dev"]'`;
}

function parseWorkdir(text: string | undefined, spec: DevPolicySpec): string | { error: string } {
  const dir = text ?? spec.workDir ?? DEFAULT_WORKDIR;
  if (!dir.startsWith('/') || dir.split('/').includes('..')) {
    return { error: `${ANN_WORKDIR} must be an absolute path without "..", e.g. /home/devx; got ${JSON.stringify(dir)}` };
  }
  return dir;
}

function parseTtl(text: string | undefined, spec: DevPolicySpec): number | undefined | { error: string } {
  const max = spec.maxDuration ? parseDuration(spec.maxDuration) : undefined;
  if (text === undefined) return max;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) return { error: `${ANN_TTL} must be a duration such as 30m or 4h; got ${JSON.stringify(text)}` };
  return max !== undefined ? Math.min(ms, max) : ms;
}

export type OverridesResult = { ok: true; overrides: Overrides } | { ok: false; message: string };

/** Reads the override annotations; the TTL is capped by the policy's maxDuration. */
export function readOverrides(annotations: Record<string, string>, spec: DevPolicySpec): OverridesResult {
  const command = parseCommand(annotations[ANN_COMMAND], spec);
  if (typeof command === 'string') return { ok: false, message: command };
  const workdir = parseWorkdir(annotations[ANN_WORKDIR], spec);
  if (typeof workdir !== 'string') return { ok: false, message: workdir.error };
  const ttl = parseTtl(annotations[ANN_TTL], spec);
  if (typeof ttl === 'object') return { ok: false, message: ttl.error };
  const overrides: Overrides = { workdir, command };
  if (annotations[ANN_CONTAINER] !== undefined) overrides.container = annotations[ANN_CONTAINER];
  if (annotations[ANN_IMAGE] !== undefined) overrides.image = annotations[ANN_IMAGE];
  if (ttl !== undefined) overrides.ttlMs = ttl;
  return { ok: true, overrides };
}
