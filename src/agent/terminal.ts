// The local end of a terminal in the dev container, as `kubectl exec -it` makes it: the local terminal in raw mode
// (so Ctrl-C, Ctrl-Z and the arrow keys reach the remote process, not this one), every keystroke to the remote stdin,
// the remote output to stdout, and the window size carried along (SIGWINCH → the exec's resize channel). Without a
// terminal on both stdin and stdout it is a plain pipe: stdin to the command until it ends, stdout and stderr apart.
// Whatever the way out, the local terminal is put back as it was.
import { PassThrough, Writable } from 'node:stream';
import { execInPod, type ExecEnd, type ExecTarget } from '../k8s/exec.ts';
import type { KubeConfig } from '../k8s/agent-api.ts';

export interface TerminalIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream;
}

/** A terminal (raw mode, a remote tty, the window size) when both stdin and stdout are one, as `kubectl exec -it`. */
export function isInteractive(io: TerminalIo): boolean {
  return io.stdin.isTTY === true && io.stdout.isTTY === true;
}

/** Copies to `to`; with a tty it also reports the size of `to` and its 'resize' events (what the client's resize
 * channel reads: it looks for `rows`, `columns` and 'resize' on the stdout it is given). */
function output(to: TerminalIo['stdout'] | TerminalIo['stderr'], sized: boolean): Writable {
  const w = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      to.write(chunk);
      done();
    },
  });
  w.on('error', () => undefined); // a frame after the end: nothing to show it on
  if (!sized) return w;
  const tty = to as TerminalIo['stdout'];
  Object.defineProperty(w, 'columns', { get: () => tty.columns || 80 });
  Object.defineProperty(w, 'rows', { get: () => tty.rows || 24 });
  const onResize = (): boolean => w.emit('resize');
  tty.on('resize', onResize);
  w.once('close', () => tty.off('resize', onResize));
  w.once('finish', () => tty.off('resize', onResize));
  return w;
}

export interface TerminalRun {
  kc: KubeConfig;
  target: ExecTarget;
  io: TerminalIo;
  /** Aborting closes the connection (the remote process is then ended by the kubelet). */
  signal: AbortSignal;
}

/** Runs `target.command` in the terminal until it ends, the connection drops, or `signal` aborts. Rejects with
 * ExecRefusedError when the exec cannot be opened. */
export async function runInTerminal(run: TerminalRun): Promise<ExecEnd> {
  const { io } = run;
  const tty = isInteractive(io);
  const stdin = new PassThrough();
  const stdout = output(io.stdout, tty);
  const stderr = tty ? null : output(io.stderr, false);
  io.stdin.pipe(stdin);
  const raw = tty && typeof io.stdin.setRawMode === 'function';
  if (raw) io.stdin.setRawMode?.(true);
  let onAbort = (): void => undefined;
  try {
    const exec = await execInPod(run.kc, run.target, { stdin, stdout, stderr, tty });
    onAbort = (): void => exec.close();
    run.signal.addEventListener('abort', onAbort, { once: true });
    if (run.signal.aborted) exec.close();
    return await exec.ended;
  } finally {
    run.signal.removeEventListener('abort', onAbort);
    io.stdin.unpipe(stdin);
    stdin.destroy();
    stdout.destroy();
    stderr?.destroy();
    if (raw) io.stdin.setRawMode?.(false);
    // Stop reading, or the open terminal keeps the process alive once the command is over.
    io.stdin.pause();
  }
}
