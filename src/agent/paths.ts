// Where the agent keeps the local syncthing home of a sync session: one directory per kubeconfig context, namespace
// and workload, under the user's config directory, so two clusters with a `reviews` never share identities or an
// index. Pure: the environment and home directory are arguments.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { WorkloadRef } from './workload-ref.ts';

export interface ConfigDirInput {
  env: NodeJS.ProcessEnv;
  homedir: string;
  platform: NodeJS.Platform;
}

/** `$XDG_CONFIG_HOME/devx`, else `~/.config/devx` (`%APPDATA%\devx` on Windows), as kubectl plugins usually do. */
export function devxConfigDir(input: ConfigDirInput): string {
  const xdg = input.env.XDG_CONFIG_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'devx');
  if (input.platform === 'win32' && input.env.APPDATA) return path.join(input.env.APPDATA, 'devx');
  return path.join(input.homedir, '.config', 'devx');
}

const SAFE = /^[A-Za-z0-9._-]+$/;

/**
 * A path segment for a name that may hold `/`, `:` or `@` (EKS contexts are ARNs, GKE ones have underscores and
 * dots): kept as is when safe, else the unsafe characters become `_` and a short hash of the original keeps two
 * contexts that differ only there apart.
 */
export function safeSegment(name: string): string {
  if (SAFE.test(name) && name !== '.' && name !== '..') return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 80)}-${hash}`;
}

/** `<config dir>/<context>/<namespace>/<kind>-<name>` (in duplicate mode `<kind>-<name>@<copy>`): the session's
 * syncthing home (created with mode 0700). */
export function sessionHome(configDir: string, context: string, ref: WorkloadRef): string {
  const leaf = `${ref.kind.toLowerCase()}-${ref.name}${ref.copy === undefined ? '' : `@${ref.copy}`}`;
  return path.join(configDir, safeSegment(context), safeSegment(ref.namespace), leaf);
}
