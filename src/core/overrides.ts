// The dev.x/* annotations a user sets, parsed and checked against the policy.
import { z } from 'zod';
import type { DevPolicySpec } from '../schemas/policy.ts';
import { parseDuration } from '../schemas/duration.ts';
import { err, ok, type Result } from './result.ts';
import { ANN_COMMAND, ANN_CONTAINER, ANN_IMAGE, ANN_TTL, ANN_WORKDIR, DEFAULT_COMMAND, DEFAULT_WORKDIR } from './names.ts';

export interface Overrides {
  container?: string;
  image?: string;
  workdir: string;
  command: string[];
  ttlMs?: number;
}

const CommandSchema = z.array(z.string()).min(1);

function parseCommand(text: string | undefined, spec: DevPolicySpec): Result<string[]> {
  if (text === undefined) return ok(spec.command ?? DEFAULT_COMMAND);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return err(`${ANN_COMMAND} must be a JSON array of strings, e.g. '["npm","run","dev"]'; got ${JSON.stringify(text)}`);
  }
  const r = CommandSchema.safeParse(parsed);
  return r.success ? ok(r.data) : err(`${ANN_COMMAND} must be a non-empty JSON array of strings, e.g. '["npm","run","dev"]'`);
}

function parseWorkdir(text: string | undefined, spec: DevPolicySpec): Result<string> {
  const dir = text ?? spec.workDir ?? DEFAULT_WORKDIR;
  if (!dir.startsWith('/') || dir.split('/').includes('..')) {
    return err(`${ANN_WORKDIR} must be an absolute path without "..", e.g. /home/devx; got ${JSON.stringify(dir)}`);
  }
  return ok(dir);
}

function parseTtl(text: string | undefined, spec: DevPolicySpec): Result<number | undefined> {
  const max = spec.maxDuration ? parseDuration(spec.maxDuration) : undefined;
  if (text === undefined) return ok(max);
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) return err(`${ANN_TTL} must be a duration such as 30m or 4h; got ${JSON.stringify(text)}`);
  return ok(max !== undefined ? Math.min(ms, max) : ms);
}

/** Reads the override annotations; the TTL is capped by the policy's maxDuration. */
export function readOverrides(annotations: Record<string, string>, spec: DevPolicySpec): Result<Overrides> {
  const command = parseCommand(annotations[ANN_COMMAND], spec);
  if (!command.ok) return command;
  const workdir = parseWorkdir(annotations[ANN_WORKDIR], spec);
  if (!workdir.ok) return workdir;
  const ttl = parseTtl(annotations[ANN_TTL], spec);
  if (!ttl.ok) return ttl;
  const overrides: Overrides = { workdir: workdir.value, command: command.value };
  if (annotations[ANN_CONTAINER] !== undefined) overrides.container = annotations[ANN_CONTAINER];
  if (annotations[ANN_IMAGE] !== undefined) overrides.image = annotations[ANN_IMAGE];
  if (ttl.value !== undefined) overrides.ttlMs = ttl.value;
  return ok(overrides);
}
