// An informer that keeps going. @kubernetes/client-node informers re-list by themselves on 410 Gone and reconnect
// after a normal end of a watch, but after any other error (API server down, 404 for a missing CRD, 403) they stop
// for good and only report the error. This wrapper starts them again with exponential backoff and tracks whether
// the first full list has been seen, which is what "ready" means for a cache.
import { makeInformer } from '@kubernetes/client-node';
import type { Informer, KubeConfig, KubernetesListObject, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
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

/** Wraps makeInformer() with restart-on-error and backoff. */
export function resilientInformer<T extends KubernetesObject>(opts: ResilientInformerOptions<T>): ResilientInformer<T> {
  const informer: Informer<T> & ObjectCache<T> = makeInformer(opts.kubeConfig, opts.path, opts.list);
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
    attemptFailed = false;
    try {
      // start() lists (unless it can resume from the last resourceVersion) and opens the watch; errors on the way
      // are reported through the 'error' callback rather than by rejecting.
      await informer.start();
    } catch (err) {
      scheduleRestart(err);
    }
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
    const level = failures === 1 || failures % 10 === 0 ? 'warn' : 'debug';
    opts.logger[level]({ kind: opts.kind, ...describeError(err), retryInMs: delayMs, failures }, 'informer stopped by an error; restarting');
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
      if (timer) clearTimeout(timer);
      timer = undefined;
      await informer.stop();
    },
  };
}
