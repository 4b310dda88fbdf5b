// An informer that keeps going. @kubernetes/client-node informers re-list by themselves on 410 Gone and reconnect
// after a normal end of a watch, but after any other error (API server down, 404 for a missing CRD, 403) they stop
// for good and only report the error. This wrapper starts them again with exponential backoff and tracks whether
// the first full list has been seen, which is what "ready" means for a cache.
import { ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import { describeError } from './logger.ts';
import type { Logger } from './logger.ts';

export type ChangeType = 'add' | 'update' | 'delete';

export interface Backoff {
  /** First delay after an error (default 500 ms). */
  initialMs?: number;
  /** Upper bound of the delay (default 30 s). */
  maxMs?: number;
}

export interface ResilientInformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** For logs, e.g. `Namespace`. */
  kind: string;
  /** Watch path, e.g. `/api/v1/namespaces`. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  logger: Logger;
  onEvent: (type: ChangeType, obj: T) => void;
  backoff?: Backoff;
  /** Only objects with these labels, e.g. `dev.x/enabled=true` (the list function must apply the same selector). */
  labelSelector?: string;
  /** Added to the log line when the list answers 404, e.g. "is the CRD installed?". */
  notFoundHint?: string;
}

export interface ResilientInformer<T extends KubernetesObject> {
  /** Begins listing and watching; resolves after the first attempt, successful or not (errors are retried). */
  start(): Promise<void>;
  /** True once a full list has been received; stays true through later outages (the cache serves its last state). */
  synced(): boolean;
  cache(): ObjectCache<T>;
  stop(): Promise<void>;
}

const DEFAULT_INITIAL_MS = 500;
const DEFAULT_MAX_MS = 30_000;
// ListWatch waits before re-opening a watch the server ended cleanly (as an API server does when it shuts down),
// doubling up to 30 s while no event arrives; capped here so a restarted API server is followed within seconds.
const MAX_REWATCH_DELAY_MS = 2000;

/** Wraps makeInformer() with restart-on-error and backoff. */
export function resilientInformer<T extends KubernetesObject>(opts: ResilientInformerOptions<T>): ResilientInformer<T> {
  // ListWatch re-opens the watch after its delay even if stop() was called meanwhile, which would leave a watch
  // running after stop(). A delay that belongs to an earlier generation (stop() or a restart since) never ends.
  let generation = 0;
  let rewatchTimer: NodeJS.Timeout | undefined;
  const delayFn = (ms: number): Promise<void> => {
    const gen = generation;
    return new Promise((resolve) => {
      rewatchTimer = setTimeout(() => {
        if (gen === generation) resolve();
      }, Math.min(ms, MAX_REWATCH_DELAY_MS));
    });
  };
  // What makeInformer() builds, plus the delay (makeInformer has no way to pass options).
  const informer = new ListWatch<T>(opts.path, new Watch(opts.kubeConfig), opts.list, false, opts.labelSelector, undefined, { delayFn });
  const initialMs = opts.backoff?.initialMs ?? DEFAULT_INITIAL_MS;
  const maxMs = opts.backoff?.maxMs ?? DEFAULT_MAX_MS;
  let delayMs = initialMs;
  let failures = 0;
  let attemptFailed = false;
  let stopped = true;
  let hasSynced = false;
  let timer: NodeJS.Timeout | undefined;

  const attempt = async (): Promise<void> => {
    timer = undefined;
    if (stopped) return;
    generation++;
    attemptFailed = false;
    try {
      // start() lists (unless it can resume from the last resourceVersion) and opens the watch; errors on the way
      // are reported through the 'error' callback rather than by rejecting.
      await informer.start();
    } catch (err) {
      scheduleRestart(err);
    }
    // stop() during the list does not keep ListWatch from opening the watch afterwards: close it again.
    if (stopped) await informer.stop();
    if (attemptFailed || stopped) return;
    if (!hasSynced || failures > 0) opts.logger.info({ kind: opts.kind, afterFailures: failures }, 'informer watching');
    hasSynced = true;
    failures = 0;
    delayMs = initialMs;
  };

  function scheduleRestart(err: unknown): void {
    attemptFailed = true;
    if (stopped || timer) return;
    failures++;
    // The first failure and every tenth are warnings; the retries between them would only flood the log.
    const level = failures === 1 || failures % 10 === 0 ? 'warn' : 'debug';
    const described = describeError(err);
    const hint = described.code === 404 && opts.notFoundHint ? { hint: opts.notFoundHint } : {};
    opts.logger[level]({ kind: opts.kind, ...described, ...hint, retryInMs: delayMs, failures }, 'informer stopped by an error; restarting');
    timer = setTimeout(() => void attempt(), delayMs);
    timer.unref();
    delayMs = Math.min(delayMs * 2, maxMs);
  }

  informer.on('add', (obj) => opts.onEvent('add', obj));
  informer.on('update', (obj) => opts.onEvent('update', obj));
  informer.on('delete', (obj) => opts.onEvent('delete', obj));
  informer.on('error', scheduleRestart);

  return {
    start: async () => {
      if (!stopped) return;
      stopped = false;
      await attempt();
    },
    synced: () => hasSynced,
    cache: () => informer,
    stop: async () => {
      stopped = true;
      generation++;
      clearTimeout(timer);
      clearTimeout(rewatchTimer);
      timer = undefined;
      await informer.stop();
    },
  };
}
