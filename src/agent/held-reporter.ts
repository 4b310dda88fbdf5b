// A reporter that can be held while a terminal has the screen (the shell of `up --sync`): the sync's live line and
// spinner would draw over the shell, and a note in the middle of a full-screen editor is lost anyway. While held,
// steps and notes wait (the newest HELD_LINES of them) and are printed once the terminal is closed; the live
// status, progress and waiting lines are dropped, and the newest live status is drawn again on release.
import type { Reporter } from './reporter.ts';

const HELD_LINES = 50;

export interface HeldReporter extends Reporter {
  /** Ends the line being redrawn and holds everything back until release(). */
  hold(): void;
  /** Prints what waited, then reports as before. */
  release(): void;
  /** A note printed even while held (between two terminals, never during one). */
  noteNow(message: string): void;
}

export function holdableReporter(inner: Reporter): HeldReporter {
  let held = false;
  let queued: Array<() => void> = [];
  let lastLive: Parameters<Reporter['live']> | undefined;
  const later = (f: () => void): void => {
    queued.push(f);
    if (queued.length > HELD_LINES) queued = queued.slice(-HELD_LINES);
  };
  return {
    waiting: (what) => (held ? undefined : inner.waiting(what)),
    step: (message) => (held ? later(() => inner.step(message)) : inner.step(message)),
    note: (message) => (held ? later(() => inner.note(message)) : inner.note(message)),
    progress: (view, mode) => (held ? undefined : inner.progress(view, mode)),
    synced: (summary) => (held ? later(() => inner.synced(summary)) : inner.synced(summary)),
    live: (view, ctx) => {
      lastLive = [view, ctx];
      if (!held) inner.live(view, ctx);
    },
    stopped: (exitCode, message) => inner.stopped(exitCode, message),
    close: () => inner.close(),
    noteNow: (message) => inner.note(message),
    hold: () => {
      inner.close();
      held = true;
    },
    release: () => {
      held = false;
      const waiting = queued;
      queued = [];
      for (const f of waiting) f();
      if (lastLive) inner.live(...lastLive);
    },
  };
}
