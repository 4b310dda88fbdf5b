// The shell of a terminal in the dev container (`kubectl devx up --sync`, `kubectl devx exec`): from the workload's
// dev.x/shell, else the DevPolicy's `shell`, else `sh`. Pure. The value is one program, run as the container's command
// with no arguments: a name looked up in the container's PATH or an absolute path, never a command line, so that
// nothing in an annotation is ever parsed by a shell on anyone's behalf.
import { ANN_SHELL } from './names.ts';
import { err, ok, type Result } from './result.ts';

export const DEFAULT_SHELL = 'sh';

/** A program name (`bash`) or an absolute path (`/usr/local/bin/fish`); no spaces, no options, no `..`. */
export const SHELL_PATTERN = /^(?:[A-Za-z0-9_+][A-Za-z0-9._+-]*|(?:\/[A-Za-z0-9_+][A-Za-z0-9._+-]*)+)$/;

export interface ShellChoice {
  shell: string;
  /** Where it came from, for messages. */
  from: 'annotation' | 'policy' | 'default';
}

export function isShellName(text: string): boolean {
  return text.length <= 255 && SHELL_PATTERN.test(text) && !text.split('/').includes('..');
}

/**
 * The shell to open: the workload's dev.x/shell (an error when it is not a program name or path), else the policy's
 * (already checked by the CRD schema; a value that is not a program is ignored), else `sh`.
 */
export function chooseShell(annotation: string | undefined, policyShell: string | undefined): Result<ShellChoice> {
  if (annotation !== undefined) {
    const shell = annotation.trim();
    if (!isShellName(shell)) {
      return err(`${ANN_SHELL} must name one program, e.g. bash or /bin/zsh (no arguments), not ${JSON.stringify(annotation)}`);
    }
    return ok({ shell, from: 'annotation' });
  }
  if (policyShell !== undefined && isShellName(policyShell)) return ok({ shell: policyShell, from: 'policy' });
  return ok({ shell: DEFAULT_SHELL, from: 'default' });
}
