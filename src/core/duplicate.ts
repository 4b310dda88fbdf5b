// Duplicate mode, the facts every part shares: which mode a workload asks for, the record of who has a copy, and the
// copy's name. Admission writes the record, the reconciler makes one copy per name in it, the agent finds the
// caller's copy by the same name. Pure (SHA-256 from @noble/hashes, as secret-name.ts).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { ANN_DUPLICATES, ANN_MODE, DEV_MODES, type DevMode, type WorkloadKind } from './names.ts';
import { err, ok, type Result } from './result.ts';

/** The kinds a copy is made of: their pods serve behind a Service, so a copy can run beside them. */
export const DUPLICATE_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet'];

/** `dev.x/mode` of a workload: `replace` when absent; an unknown value is an error that says what is allowed. */
export function modeOf(annotations: Record<string, string>): Result<DevMode> {
  const text = annotations[ANN_MODE];
  if (text === undefined) return ok('replace');
  const mode = DEV_MODES.find((m) => m === text);
  return mode ? ok(mode) : err(`${ANN_MODE} must be ${DEV_MODES.join(' or ')}, not ${JSON.stringify(text)}`);
}

/** The users of a `dev.x/duplicates` record; undefined when there is no record or it is not a JSON array of names. */
export function parseDuplicates(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((u) => typeof u === 'string' && u !== '')) return undefined;
  return parsed as string[];
}

/** The record for a set of users: sorted, each once, so equal sets are equal strings (and equal signatures). */
export function formatDuplicates(users: Iterable<string>): string {
  return JSON.stringify([...new Set(users)].sort());
}

/** How many of maxWorkloads a workload in dev mode takes: one, or in duplicate mode one per copy. */
export function devModeWeight(annotations: Record<string, string>): number {
  return parseDuplicates(annotations[ANN_DUPLICATES])?.length ?? 1;
}

function hex10(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text))).slice(0, 10);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HASHED = /-[0-9a-f]{10}$/;
const PLAIN_MAX = 20;
const HEAD_MAX = 12;

/**
 * The user's part of a copy's name. Rule: the user name itself when it is a DNS label of at most 20 characters that
 * does not end in `-` and ten hex digits (`alice`, `dev-42`); otherwise its characters outside [a-z0-9] turned into
 * `-` (lower case first), cut to 12, then `-` and the first ten hex digits of SHA-256 of the exact user name
 * (`system:serviceaccount:team:ci` -> `system-servi-…`, `Alice` -> `alice-…`). Stable; distinct users get distinct
 * parts (a plain part never ends like a hashed one, and the hash covers the unaltered name); always a DNS label.
 */
export function duplicateSuffix(user: string): string {
  if (user.length <= PLAIN_MAX && DNS_LABEL.test(user) && !HASHED.test(user)) return user;
  const head = user
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, HEAD_MAX)
    .replace(/-+$/, '');
  return head ? `${head}-${hex10(user)}` : hex10(user);
}

const MAX_NAME = 63;

/**
 * `<name>-devx-<user part>`: the copy a user gets of a workload in duplicate mode. At most 63 characters (its name is
 * the value of its `dev.x/copy` label): a longer result keeps the start of the workload's name and a hash of all of
 * it, as the other copies' names do.
 */
export function duplicateName(source: string, user: string): string {
  const tail = `-devx-${duplicateSuffix(user)}`;
  if (source.length + tail.length <= MAX_NAME) return `${source}${tail}`;
  const head = source.slice(0, MAX_NAME - tail.length - 11).replace(/[-.]+$/, '');
  return `${head}-${hex10(source)}${tail}`;
}

/**
 * Whether `copy` is a name duplicateName gives some user's copy of `source`: the reconciler deletes a copy's Secret
 * or claim only under such a name, never under one a label merely points at.
 */
export function isDuplicateNameOf(copy: string, source: string): boolean {
  if (copy.startsWith(`${source}-devx-`)) return copy.length > source.length + 6;
  const marker = `-${hex10(source)}-devx-`;
  const at = copy.indexOf(marker);
  if (at < 0 || copy.length <= at + marker.length) return false;
  const tail = copy.slice(at + 11);
  return copy.slice(0, at) === source.slice(0, MAX_NAME - tail.length - 11).replace(/[-.]+$/, '');
}
