// What is kept out of the sync: `.git` always, plus the patterns of a `.devxignore` in the local directory (syncthing's
// .stignore syntax: globs, `!` to re-include, `(?i)`, `//` comments). The agent renders them into the `.stignore` that
// syncthing reads from the folder root. Pure: file contents in, file contents and decisions out.
import { IGNORE_HEADER, renderIgnore } from '../sync/config.ts';

/** The file in LOCAL_DIR that users edit; it is synced like any other file (the pod side may want to see it). */
export const DEVXIGNORE = '.devxignore';
/** Syncthing's own file in the folder root; never synced by syncthing itself. */
export const STIGNORE = '.stignore';

/**
 * One .devxignore line as syncthing should read it. A trailing `/` is dropped: syncthing has no directory-only
 * patterns, and with the slash `build/` ignores what is inside `build` but still syncs the (empty) directory itself,
 * which is not what anyone used to .gitignore means by it. Comments (`//`) and `#include` lines pass unchanged.
 */
export function normalisePattern(line: string): string {
  const trimmed = line.trim();
  if (trimmed.startsWith('//') || trimmed.startsWith('#')) return line;
  return trimmed.length > 1 ? trimmed.replace(/\/+$/, '') : trimmed;
}

/** The .stignore for a `.devxignore` (undefined: there is none). */
export function stignoreFor(devxignore: string | undefined): string {
  return renderIgnore(devxignore === undefined ? [] : devxignore.split(/\r?\n/).map(normalisePattern));
}

export type StignoreDecision =
  /** Write the devx .stignore (there is none, or it is devx's own from an earlier run). */
  | { action: 'write' }
  /** Leave it: the user keeps their own syncthing patterns there; devx must not overwrite them. */
  | { action: 'refuse'; message: string };

/** Whether the agent may (over)write the .stignore it found in LOCAL_DIR (`existing` undefined: none). */
export function decideStignore(existing: string | undefined, localDir: string): StignoreDecision {
  if (existing === undefined || existing.startsWith(IGNORE_HEADER)) return { action: 'write' };
  return {
    action: 'refuse',
    message:
      `${localDir}/${STIGNORE} exists and was not written by devx (is this directory synced by your own syncthing?). ` +
      `devx writes that file from ${DEVXIGNORE}: move your patterns to ${DEVXIGNORE} and delete ${STIGNORE}, or sync another directory`,
  };
}
