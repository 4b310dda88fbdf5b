// A work queue of keys, as controllers have: a key queued many times is handled once; one key is never handled by
// two workers at once (a key queued while it is being handled is handled again afterwards); a failed key is retried
// with exponential backoff; a handler may ask to see a key again after a delay (a TTL coming due). The queue holds
// only "what to look at", never state: losing it (a restart) costs a resync, nothing else.

export interface QueueOptions {
  /** Keys handled at once (default 4). */
  workers?: number;
  /** First retry delay after a failure (default 200 ms), doubling per consecutive failure up to `maxRetryMs`. */
  baseRetryMs?: number;
  /** Default 30 s. */
  maxRetryMs?: number;
  /** Called when a handler throws, with the delay before the retry. */
  onError?: (key: string, err: unknown, retryInMs: number) => void;
}

export type QueueHandler = (key: string, hints: ReadonlySet<string>) => Promise<{ afterMs?: number } | undefined>;

export interface WorkQueue {
  /** Queues a key now, or after `afterMs` (an earlier pending time wins). `hint` travels with it to the handler. */
  add(key: string, opts?: { afterMs?: number; hint?: string }): void;
  start(handler: QueueHandler): void;
  /** Stops taking work, forgets every queued and delayed key, and waits for the handlers still running. */
  stop(): Promise<void>;
  /** Keys queued or delayed, not counting those being handled. */
  size(): number;
}

// setTimeout's limit; a longer delay (a TTL of weeks) simply comes back early and is scheduled again.
const MAX_TIMER_MS = 2_147_483_647;

export function createWorkQueue(opts: QueueOptions = {}): WorkQueue {
  const workers = opts.workers ?? 4;
  const baseRetryMs = opts.baseRetryMs ?? 200;
  const maxRetryMs = opts.maxRetryMs ?? 30_000;
  const ready = new Map<string, Set<string>>();
  const active = new Set<string>();
  const delayed = new Map<string, { at: number; timer: NodeJS.Timeout; hints: Set<string> }>();
  const failures = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  let handler: QueueHandler | undefined;
  let running = false;

  const enqueueNow = (key: string, hints: Iterable<string>): void => {
    const set = ready.get(key) ?? new Set<string>();
    for (const h of hints) set.add(h);
    ready.set(key, set);
  };

  const schedule = (key: string, afterMs: number, hints: Set<string>): void => {
    const at = Date.now() + afterMs;
    const existing = delayed.get(key);
    if (existing && existing.at <= at) {
      for (const h of hints) existing.hints.add(h);
      return;
    }
    if (existing) clearTimeout(existing.timer);
    const merged = new Set([...(existing?.hints ?? []), ...hints]);
    const timer = setTimeout(() => {
      delayed.delete(key);
      enqueueNow(key, merged);
      pump();
    }, Math.min(afterMs, MAX_TIMER_MS));
    timer.unref();
    delayed.set(key, { at, timer, hints: merged });
  };

  const finish = (key: string, result: { afterMs?: number } | undefined): void => {
    failures.delete(key);
    if (result?.afterMs !== undefined && running) schedule(key, Math.max(0, result.afterMs), new Set());
  };

  const fail = (key: string, err: unknown): void => {
    const n = (failures.get(key) ?? 0) + 1;
    failures.set(key, n);
    const retryInMs = Math.min(baseRetryMs * 2 ** (n - 1), maxRetryMs);
    opts.onError?.(key, err, retryInMs);
    if (running) schedule(key, retryInMs, new Set());
  };

  const run = (key: string, hints: Set<string>): void => {
    active.add(key);
    const h = handler as QueueHandler;
    const p = h(key, hints)
      .then(
        (result) => finish(key, result),
        (err: unknown) => fail(key, err),
      )
      .finally(() => {
        active.delete(key);
        inFlight.delete(p);
        pump();
      });
    inFlight.add(p);
  };

  function pump(): void {
    if (!running || !handler) return;
    for (const [key, hints] of ready) {
      if (active.size >= workers) return;
      if (active.has(key)) continue;
      ready.delete(key);
      run(key, hints);
    }
  }

  return {
    add: (key, o = {}) => {
      if (!running) return;
      const hints = new Set(o.hint ? [o.hint] : []);
      if (o.afterMs && o.afterMs > 0) schedule(key, o.afterMs, hints);
      else {
        enqueueNow(key, hints);
        pump();
      }
    },
    start: (h) => {
      handler = h;
      running = true;
      pump();
    },
    stop: async () => {
      running = false;
      for (const d of delayed.values()) clearTimeout(d.timer);
      delayed.clear();
      ready.clear();
      failures.clear();
      await Promise.allSettled([...inFlight]);
    },
    size: () => ready.size + delayed.size,
  };
}
