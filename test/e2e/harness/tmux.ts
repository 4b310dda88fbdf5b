// A pseudo-terminal for tests of the agent's terminal: tmux (a Debian package, installed by
// test/tools/build-real-parts.sh when missing) on a private socket, one detached session per program, its screen
// read with capture-pane, keys typed with send-keys, the window resized with resize-window. The program's exit code
// is written to a file by the wrapper that runs it, since tmux does not report it.
import fs from 'node:fs';
import path from 'node:path';
import { err, ok } from '../../../src/core/result.ts';
import { pollUntil } from '../../../src/wait.ts';
import { registerExitCleanup, runToEnd, unregisterExitCleanup } from './processes.ts';
import { execFileSync } from 'node:child_process';

export interface TerminalSession {
  /** Types `keys` (tmux key names such as Enter or C-c, or literal text with `literal`). */
  type(text: string): Promise<void>;
  keys(...names: string[]): Promise<void>;
  /** The whole screen and scrollback as text. */
  screen(): Promise<string>;
  /** Waits until the screen matches `pattern`; the text, or a failure showing the screen. */
  waitFor(what: string, pattern: RegExp, timeoutMs: number): Promise<string>;
  resize(columns: number, rows: number): Promise<void>;
  /** The program's exit code once it has ended. */
  exitCode(timeoutMs: number): Promise<number>;
  kill(): Promise<void>;
}

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface Tmux {
  /** Runs `argv` with `env` (nothing else of this process's environment) in a new window of `columns`×`rows`. */
  start(name: string, argv: string[], opts: { env: Record<string, string>; columns: number; rows: number; cwd: string }): Promise<TerminalSession>;
  stop(): Promise<void>;
}

export function startTmux(dir: string): Tmux {
  const socket = path.join(dir, 'tmux.sock');
  const tmux = async (args: string[]): Promise<string> => {
    const r = await runToEnd('tmux', ['-S', socket, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm-256color' }, timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const killServer = (): void => {
    try {
      execFileSync('tmux', ['-S', socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // no server left
    }
  };
  registerExitCleanup(killServer);
  return {
    start: async (name, argv, opts) => {
      const exitFile = path.join(dir, `${name}.exit`);
      const script = path.join(dir, `${name}.sh`);
      const env = Object.entries(opts.env).map(([k, v]) => `export ${k}=${quote(v)}\n`).join('');
      fs.writeFileSync(script, `#!/bin/sh\ncd ${quote(opts.cwd)}\n${env}${argv.map(quote).join(' ')}\necho $? > ${quote(exitFile)}\nsleep 600\n`, { mode: 0o755 });
      await tmux(['new-session', '-d', '-s', name, '-x', String(opts.columns), '-y', String(opts.rows), script]);
      await tmux(['set-option', '-t', name, 'history-limit', '20000']);
      const screen = (): Promise<string> => tmux(['capture-pane', '-p', '-J', '-t', name, '-S', '-']);
      return {
        type: async (text) => void (await tmux(['send-keys', '-t', name, '-l', text])),
        keys: async (...names) => void (await tmux(['send-keys', '-t', name, ...names])),
        screen,
        waitFor: async (what, pattern, timeoutMs) => {
          let last = '';
          const r = await pollUntil({
            timeoutMs,
            intervalMs: 100,
            look: async () => {
              last = await screen();
              const m = pattern.exec(last);
              return m ? ok(last) : err(what);
            },
          });
          if (!r.ok) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the screen:\n${last}`);
          return r.value;
        },
        resize: async (columns, rows) => void (await tmux(['resize-window', '-t', name, '-x', String(columns), '-y', String(rows)])),
        exitCode: async (timeoutMs) => {
          const r = await pollUntil({
            timeoutMs,
            intervalMs: 100,
            look: async () => (fs.existsSync(exitFile) && fs.readFileSync(exitFile, 'utf8').trim() !== '' ? ok(Number(fs.readFileSync(exitFile, 'utf8').trim())) : err('the exit code')),
          });
          if (!r.ok) throw new Error(`${name} did not end within ${timeoutMs} ms; the screen:\n${await screen()}`);
          return r.value;
        },
        kill: async () => void (await tmux(['kill-session', '-t', name]).catch(() => '')),
      };
    },
    stop: async () => {
      killServer();
      unregisterExitCleanup(killServer);
    },
  };
}
