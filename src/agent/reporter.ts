// How the agent talks while it works. On a terminal: a spinner that says what it waits for, a progress bar for the
// first full sync, then one live status line, all on stderr and redrawn in place. Not a terminal: the same as plain
// lines, printed when something changes. `-o json`: one JSON object per line on stdout, for scripts.
import type { SyncMode } from '../sync/config.ts';
import { phaseOf, progressOf, type SyncView } from './progress.ts';
import { fitToWidth, formatCount, renderProgressLine, renderStatusLine, SPINNER_FRAMES, type StatusContext, type Style } from './render.ts';

export interface Reporter {
  /** What the agent waits for now (spinner). */
  waiting(what: string): void;
  /** A step that is done. */
  step(message: string): void;
  /** Something the user should know that is not an error (admission warnings, a dropped port-forward). */
  note(message: string): void;
  /** Progress of the first full sync. */
  progress(view: SyncView, mode: SyncMode): void;
  /** The first full sync is complete. */
  synced(summary: { files: number; bytes: number; seconds: number; pod: string }): void;
  /** The live status after the first full sync. */
  live(view: SyncView, ctx: StatusContext): void;
  /** The session is over: why (a failure's message goes to stderr in every mode). */
  stopped(exitCode: number, message: string | undefined): void;
  /** Ends any line being redrawn. */
  close(): void;
}

function stoppedText(exitCode: number, message: string | undefined): string {
  if (exitCode !== 0) return `kubectl devx: ${message ?? `stopped (exit ${exitCode})`}\n`;
  return message ? `${message}\n` : 'sync stopped\n';
}

interface Streams {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream & { columns?: number };
}

/** Terminal: one line redrawn in place, a spinner frame every 100 ms while waiting or syncing. */
export function ttyReporter(streams: Streams, style: Style): Reporter {
  let line: ((frame: string) => string) | undefined;
  let frame = 0;
  const draw = (): void => {
    // A pseudo-terminal may report 0 columns: then $COLUMNS, then 100.
    const width = Math.max(20, (streams.err.columns || Number(process.env.COLUMNS) || 100) - 1);
    streams.err.write(`\r\u001b[2K${line ? fitToWidth(line(style.cyan(SPINNER_FRAMES[frame % SPINNER_FRAMES.length] ?? '')), width) : ''}`);
  };
  const timer = setInterval(() => {
    frame++;
    if (line) draw();
  }, 100);
  timer.unref();
  const above = (text: string): void => {
    streams.err.write(`\r\u001b[2K${text}\n`);
    if (line) draw();
  };
  return {
    waiting: (what) => {
      line = (f) => `${f} waiting for ${what}`;
      draw();
    },
    step: (message) => {
      line = undefined; // a finished step ends whatever was awaited
      above(`${style.green('✓')} ${message}`);
    },
    note: (message) => above(`${style.yellow('!')} ${message}`),
    progress: (view, mode) => {
      line = (f) => `${f} ${renderProgressLine(view, mode, style)}`;
      draw();
    },
    synced: (s) => {
      line = undefined;
      above(`${style.green('✓')} first full sync with pod ${s.pod}: ${formatCount(s.files)} files in ${s.seconds.toFixed(1)} s`);
    },
    live: (view, ctx) => {
      line = () => renderStatusLine(view, ctx, style);
      draw();
    },
    stopped: (exitCode, message) => {
      clearInterval(timer);
      streams.err.write(`\r\u001b[2K${stoppedText(exitCode, message)}`);
      line = undefined;
    },
    close: () => {
      clearInterval(timer);
      if (line) streams.err.write('\n');
      line = undefined;
    },
  };
}

/** What changes about the pod side's errors, for the "has anything changed" keys. */
function podErrorsKey(view: SyncView): string {
  return view.podErrors.map((e) => `${e.path}\u0000${e.error}`).join('\u0000');
}

/** Not a terminal: a line whenever the state changes (never several per second). */
export function plainReporter(streams: Streams, style: Style): Reporter {
  let last = '';
  let lastAt = 0;
  const say = (text: string, key = text, minGapMs = 0): void => {
    const now = Date.now();
    if (key === last || now - lastAt < minGapMs) return;
    last = key;
    lastAt = now;
    streams.err.write(`${text}\n`);
  };
  return {
    waiting: (what) => say(`waiting for ${what}`),
    step: (message) => say(`✓ ${message}`),
    note: (message) => say(`! ${message}`),
    progress: (view, mode) => say(renderProgressLine(view, mode, style), `${phaseOf(view, mode)} ${podErrorsKey(view)}`, 2000),
    synced: (s) => say(`✓ first full sync with pod ${s.pod}: ${s.files} files in ${s.seconds.toFixed(1)} s`),
    live: (view, ctx) => say(renderStatusLine(view, ctx, style), `${phaseOf(view, ctx.mode)} ${view.lastChange?.path ?? ''} ${view.lastChange?.time ?? ''} ${podErrorsKey(view)}`),
    stopped: (exitCode, message) => streams.err.write(stoppedText(exitCode, message)),
    close: () => undefined,
  };
}

/** `-o json`: one object per line on stdout: `{"time":…,"event":…,…}`. */
export function jsonReporter(streams: Streams, clock: () => Date = () => new Date()): Reporter {
  let lastKey = '';
  let lastProgressAt = 0;
  const emit = (event: string, data: Record<string, unknown> = {}): void => {
    streams.out.write(`${JSON.stringify({ time: clock().toISOString(), event, ...data })}\n`);
  };
  const once = (key: string, event: string, data: Record<string, unknown>): void => {
    if (key === lastKey) return;
    lastKey = key;
    emit(event, data);
  };
  return {
    waiting: (what) => once(`waiting ${what}`, 'waiting', { for: what }),
    step: (message) => emit('step', { message }),
    note: (message) => emit('note', { message }),
    progress: (view, mode) => {
      const p = progressOf(view, mode);
      const phase = phaseOf(view, mode);
      const now = clock().getTime();
      if (`progress ${phase}` === lastKey && now - lastProgressAt < 1000) return;
      lastKey = `progress ${phase}`;
      lastProgressAt = now;
      emit('progress', { phase, files: p.files, bytes: p.bytes, percent: p.percent, podErrors: view.podErrors });
    },
    synced: (s) => emit('synced', s),
    live: (view, ctx) => {
      const phase = phaseOf(view, ctx.mode);
      const change = view.lastChange;
      const key = `live ${phase} ${change?.path} ${change?.time} ${view.localNeed.items} ${view.peerNeed.items} ${view.errors.join('\u0000')} ${podErrorsKey(view)}`;
      // `errors`: the local syncthing's; `podErrors`: the sidecar's ({path, error, message}).
      const data = { phase, files: view.global.items, bytes: view.global.bytes, pod: ctx.pod, localNeed: view.localNeed, podNeed: view.peerNeed, lastChange: change ?? null, errors: view.errors, podErrors: view.podErrors };
      once(key, 'status', data);
    },
    stopped: (exitCode, message) => {
      emit('stopped', { exitCode, message: message ?? null });
      if (exitCode !== 0) streams.err.write(stoppedText(exitCode, message));
    },
    close: () => undefined,
  };
}

/** Says nothing: for `-o json` commands whose one result object is all stdout may carry. */
export function quietReporter(): Reporter {
  const nothing = (): void => undefined;
  return { waiting: nothing, step: nothing, note: nothing, progress: nothing, synced: nothing, live: nothing, stopped: nothing, close: nothing };
}
