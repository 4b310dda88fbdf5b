// `LOCAL_DIR[:REMOTE_DIR]`: where the synced files live on each side. REMOTE_DIR is a directory in the dev
// container, and the synced volume is mounted at one directory there: the workload's workdir (dev.x/workdir). So a
// REMOTE_DIR is either that directory (nothing to do) or a request to move the workdir, which the agent turns into a
// dev.x/workdir annotation on the workload (the dev pod is recreated with the volume at REMOTE_DIR). Pure.
import path from 'node:path';
import { err, ok, type Result } from '../core/result.ts';

export interface DirSpec {
  local: string;
  /** Absolute path in the dev container, normalised (no trailing slash); undefined = the current workdir. */
  remote?: string;
}

/**
 * Splits `LOCAL_DIR[:REMOTE_DIR]` at the last `:` that starts an absolute path (so `C:\src` and `./a:b/c` stay whole
 * where they must). `cwd` resolves a relative LOCAL_DIR.
 */
export function parseDirArg(text: string | undefined, cwd: string): Result<DirSpec> {
  if (text === undefined || text === '') return ok({ local: cwd });
  const i = text.lastIndexOf(':/');
  const localText = i > 0 ? text.slice(0, i) : text;
  const remoteText = i > 0 ? text.slice(i + 1) : undefined;
  const local = path.resolve(cwd, localText);
  if (remoteText === undefined) return ok({ local });
  const remote = path.posix.normalize(remoteText).replace(/(.)\/+$/, '$1');
  if (remoteText.split('/').includes('..') || remote === '/') {
    return err(`REMOTE_DIR ${JSON.stringify(remoteText)} must be an absolute directory in the container other than /, without ".."`);
  }
  return ok({ local, remote });
}

export type RemoteDirDecision =
  | { action: 'keep' }
  /** Set dev.x/workdir to `workdir` on the workload and wait for a dev pod that mounts the volume there. */
  | { action: 'move'; workdir: string };

/** What a REMOTE_DIR asks for, given the dev container's current workdir. */
export function decideRemoteDir(remote: string | undefined, currentWorkdir: string | undefined): RemoteDirDecision {
  if (remote === undefined || remote === currentWorkdir?.replace(/(.)\/+$/, '$1')) return { action: 'keep' };
  return { action: 'move', workdir: remote };
}
