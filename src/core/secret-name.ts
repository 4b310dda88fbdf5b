// The names of the objects devx makes for each workload (DESIGN §1), pure: admission names the sync Secret and the
// workdir claim a dev pod mounts, the reconciler creates them, the agent reads the Secret. SHA-256 from @noble/hashes
// (audited, no node: import), the same digest as before.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

const MAX_NAME = 63;
const HASH_CHARS = 10;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * `<prefix>-<kind lowercased>-<name>`, by this rule:
 * 1. that string if it is a DNS-1123 label (≤ 63 characters of [a-z0-9-], alphanumeric at both ends);
 * 2. otherwise: that string with every character outside [a-z0-9-] replaced by `-`, cut to 52 characters, trailing
 *    `-` removed, then `-` and the first 10 hex digits of SHA-256(`<kind lowercased>/<name>`). Always ≤ 63
 *    characters and a DNS-1123 label; stable across runs and versions, and distinct for distinct workloads (the hash
 *    covers the full, unaltered name).
 */
function perWorkloadName(prefix: string, kind: string, name: string): string {
  const kindLower = kind.toLowerCase();
  const plain = `${prefix}-${kindLower}-${name}`;
  if (plain.length <= MAX_NAME && DNS1123_LABEL.test(plain)) return plain;
  const hash = bytesToHex(sha256(utf8ToBytes(`${kindLower}/${name}`))).slice(0, HASH_CHARS);
  const head = plain
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, MAX_NAME - HASH_CHARS - 1)
    .replace(/-+$/, '');
  return `${head}-${hash}`;
}

/**
 * Name of a workload's sync Secret: `devx-sync-<kind lowercased>-<name>` (plain for every kind and a name of up to 42
 * characters without dots), else shortened with a hash as perWorkloadName says.
 */
export function syncSecretName(kind: string, name: string): string {
  return perWorkloadName('devx-sync', kind, name);
}

/**
 * Name of a workload's workdir PersistentVolumeClaim (DevPolicy `persistence`): `devx-workdir-<kind lowercased>-<name>`,
 * shortened with a hash by the same rule as the sync Secret's name.
 */
export function workdirClaimName(kind: string, name: string): string {
  return perWorkloadName('devx-workdir', kind, name);
}
