// Polling: the one loop devx and its tests use to wait for something that sends no event (an API server object, a
// process's REST API, an informer's first sync). Looks, and between looks sleeps; never busy.
import { setTimeout as sleep } from 'node:timers/promises';
import { err, ok, type Result } from './core/result.ts';

export interface PollOptions<T> {
  /** One look: the value when done, else what is still awaited. A look that throws ends the poll with that error. */
  look: () => Result<T> | Promise<Result<T>>;
  timeoutMs: number;
  intervalMs: number;
  /** Aborting ends the wait at once (the sleep rejects with an AbortError). */
  signal?: AbortSignal | undefined;
  /** Called after each look that is not done, with what is still awaited (e.g. for a spinner). */
  onWaiting?: (waiting: string) => void;
}

/** Looks until done or the time is up: the value, or what was still awaited at the last look. */
export async function pollUntil<T>(opts: PollOptions<T>): Promise<Result<T>> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const r = await opts.look();
    if (r.ok) return r;
    opts.onWaiting?.(r.error);
    if (Date.now() >= deadline) return r;
    await sleep(opts.intervalMs, undefined, opts.signal ? { signal: opts.signal } : undefined);
  }
}

interface Every {
  timeoutMs: number;
  intervalMs: number;
}

/** Polls until `probe` gives a value (anything but undefined): that value, or undefined when the time was up. */
export async function pollValue<T>(probe: () => T | undefined | Promise<T | undefined>, o: Every): Promise<T | undefined> {
  const r = await pollUntil({
    ...o,
    look: async () => {
      const value = await probe();
      return value === undefined ? err('a value') : ok(value);
    },
  });
  return r.ok ? r.value : undefined;
}

/** Polls a condition: whether it held before the time was up. */
export async function pollCondition(holds: () => boolean | Promise<boolean>, o: Every): Promise<boolean> {
  return (await pollValue(async () => ((await holds()) ? true : undefined), o)) === true;
}
