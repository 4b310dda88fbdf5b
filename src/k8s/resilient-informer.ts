// An informer that keeps going, in the manner of client-go's reflector: list (with the label selector), then watch
// (client-node's Watch) from the list's resourceVersion with bookmarks, keeping an in-memory cache and reporting
// add/update/delete. client-node's own informer stops for good after an error; this loop is the restart around it. A watch
// the server ends (its timeout, or it is shutting down) is opened again at once from the last resourceVersion; a
// resourceVersion that is too old (410 Gone) means listing again, which turns objects that vanished meanwhile into
// deletes. Any other error (API server down, 404 for a missing CRD, 403) restarts the whole cycle with exponential
// backoff. `synced()` tracks whether the first full list has been seen, which is what "ready" means for a cache.
import { setTimeout as sleep } from 'node:timers/promises';
import { Watch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { informerStore, type ChangeType, type InformerCache } from './informer-store.ts';
import type { KubeConnection } from './kubeconfig.ts';
import { describeError } from './logger.ts';
import type { Logger } from './logger.ts';
import { kubeCall } from './rest.ts';

export type { ChangeType, InformerCache };

/** How a watch ended: the server closed it or it went quiet (watch again), or 410 Gone (list again). */
type WatchEnd = 'closed' | 'gone';

interface WatchEvent {
  /** ADDED, MODIFIED, DELETED or BOOKMARK (ERROR events end the watch instead). */
  type: string;
  object: KubernetesObject;
}

/** The status object of an ERROR event. */
interface WatchStatus {
  code?: number;
  reason?: string;
  message?: string;
}

const isGone = (s: WatchStatus): boolean => s.code === 410 || s.reason === 'Expired' || s.reason === 'Gone';

export interface Backoff {
  /** First delay after an error (default 500 ms). */
  initialMs?: number;
  /** Upper bound of the delay (default 30 s). */
  maxMs?: number;
}

export interface ResilientInformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConnection;
  /** For logs, e.g. `Namespace`. */
  kind: string;
  /** Collection path, listed and watched, e.g. `/api/v1/namespaces`. */
  path: string;
  logger: Logger;
  onEvent: (type: ChangeType, obj: T) => void;
  backoff?: Backoff;
  /** Only objects with these labels, e.g. `dev.x/enabled=true`. */
  labelSelector?: string;
  /** Added to the log line when the list answers 404, e.g. "is the CRD installed?". */
  notFoundHint?: string;
  /** The longest one watch request stays open (default: 15 to 25 s, random per request). */
  watchTimeoutSeconds?: number;
}

export interface ResilientInformer<T extends KubernetesObject> {
  /** Begins listing and watching; resolves after the first attempt, successful or not (errors are retried). */
  start(): Promise<void>;
  /** True once a full list has been received; stays true through later outages (the cache serves its last state). */
  synced(): boolean;
  cache(): InformerCache<T>;
  /** Stops; no request, timer or watch of this informer is left running. */
  stop(): Promise<void>;
}

const DEFAULT_INITIAL_MS = 500;
const DEFAULT_MAX_MS = 30_000;
// Short watches: re-opening one from a resourceVersion is cheap for the API server (its watch cache answers). They
// end before client-node's Watch gives up on a quiet stream (30 s without a byte: a connection that died without a
// word), so a quiet watch ends cleanly rather than as a timeout.
const WATCH_TIMEOUT_MIN_S = 15;
const WATCH_TIMEOUT_SPREAD_S = 10;
// A watch the server ends right after opening it (something in the way closing streams) is re-opened after a pause
// that doubles up to this; one that stayed open for a while is re-opened at once.
const MAX_REWATCH_PAUSE_MS = 2000;
const LONG_WATCH_MS = 1000;

/** Lists and watches `opts.path`, restarting after errors with backoff. Nothing happens before start(). */
export function resilientInformer<T extends KubernetesObject>(opts: ResilientInformerOptions<T>): ResilientInformer<T> {
  const store = informerStore<T>();
  const initialMs = opts.backoff?.initialMs ?? DEFAULT_INITIAL_MS;
  const maxMs = opts.backoff?.maxMs ?? DEFAULT_MAX_MS;
  const listPath = opts.labelSelector ? `${opts.path}?labelSelector=${encodeURIComponent(opts.labelSelector)}` : opts.path;
  let delayMs = initialMs;
  let failures = 0;
  let stopped = true;
  let hasSynced = false;
  let timer: NodeJS.Timeout | undefined;
  // The requests of the current attempt; aborting it ends them all (stop(), or a restart after an error).
  let run: AbortController | undefined;
  let resourceVersion = '';

  const emit = (type: ChangeType, obj: T): void => {
    try {
      opts.onEvent(type, obj);
    } catch (err) {
      opts.logger.error({ kind: opts.kind, type, ...describeError(err) }, 'informer event handler failed');
    }
  };

  async function relist(signal: AbortSignal): Promise<void> {
    const list = (await kubeCall(opts.kubeConfig, { method: 'GET', path: listPath, signal })) as KubernetesListObject<T>;
    if (signal.aborted) return;
    for (const [type, obj] of store.replace(list.items ?? [])) emit(type, obj);
    resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  function onWatchEvent(event: WatchEvent): void {
    const obj = event.object as T;
    resourceVersion = obj.metadata?.resourceVersion || resourceVersion;
    if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      const type = store.upsert(obj);
      if (type) emit(type, obj);
    } else if (event.type === 'DELETED' && store.remove(obj)) {
      emit('delete', obj);
    }
    // BOOKMARK: only its resourceVersion matters.
  }

  /** One watch with client-node's Watch; resolves once the server has answered (200, or 410: `ended` is 'gone'); any other answer rejects. */
  async function watch(signal: AbortSignal): Promise<{ ended: Promise<WatchEnd> }> {
    const timeoutSeconds = opts.watchTimeoutSeconds ?? WATCH_TIMEOUT_MIN_S + Math.floor(Math.random() * WATCH_TIMEOUT_SPREAD_S);
    let settle: (how: WatchEnd | Error) => void = () => {};
    let outcome: WatchEnd | Error | undefined;
    const ended = new Promise<WatchEnd>((resolve, reject) => {
      settle = (how) => {
        if (outcome !== undefined) return;
        outcome = how;
        if (how instanceof Error) reject(how);
        else resolve(how);
      };
    });
    // Marked as handled here: the caller awaits it right away, but an error could in principle come first.
    ended.catch(() => {});
    const opened: { controller?: AbortController } = {};
    const abort = (): void => opened.controller?.abort();
    signal.addEventListener('abort', abort, { once: true });
    const onEvent = (type: string, object: unknown): void => {
      if (outcome !== undefined) return;
      if (type !== 'ERROR') return onWatchEvent({ type, object: object as KubernetesObject });
      const status = (object ?? {}) as WatchStatus;
      settle(isGone(status) ? 'gone' : Object.assign(new Error(`watch ${opts.path}: ${status.message ?? status.reason ?? 'error event'}`), { code: status.code }));
      abort();
    };
    const done = (err: unknown): void => {
      signal.removeEventListener('abort', abort);
      if (!err) return settle('closed');
      const e = err as Error & { statusCode?: number };
      if (e.statusCode === 410) return settle('gone');
      // Nothing came for too long: the connection may be dead without anyone having said so; watch again.
      if (e.name === 'TimeoutError') return settle('closed');
      settle(Object.assign(new Error(`watch ${opts.path}: ${e.statusCode ? `HTTP ${e.statusCode}: ` : ''}${e.message}`, { cause: err }), e.statusCode ? { code: e.statusCode } : {}));
    };
    const query = { allowWatchBookmarks: true, timeoutSeconds, ...(resourceVersion ? { resourceVersion } : {}), ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}) };
    opened.controller = await new Watch(opts.kubeConfig).watch(opts.path, query, onEvent, done);
    if (signal.aborted || outcome !== undefined) opened.controller.abort();
    // An answer other than 200 or 410 (client-node has already called done) fails the attempt.
    if (outcome instanceof Error) throw outcome;
    return { ended };
  }

  /** Watches for as long as the watches end without an error; rejects with the error that ends the cycle. */
  async function follow(first: Promise<WatchEnd>, signal: AbortSignal): Promise<void> {
    let ended = first;
    let openedAt = Date.now();
    let pauseMs = 0;
    for (;;) {
      const end = await ended;
      if (end === 'gone') {
        opts.logger.debug({ kind: opts.kind }, 'watch resourceVersion too old; listing again');
        await relist(signal);
      }
      pauseMs = end === 'closed' && Date.now() - openedAt < LONG_WATCH_MS ? Math.min(Math.max(pauseMs * 2, 100), MAX_REWATCH_PAUSE_MS) : 0;
      if (pauseMs > 0) await sleep(pauseMs, undefined, { signal });
      ended = (await watch(signal)).ended;
      openedAt = Date.now();
    }
  }

  function scheduleRestart(err: unknown): void {
    run?.abort();
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

  function connected(): void {
    if (!hasSynced || failures > 0) opts.logger.info({ kind: opts.kind, afterFailures: failures }, 'informer watching');
    hasSynced = true;
    failures = 0;
    delayMs = initialMs;
  }

  async function attempt(): Promise<void> {
    timer = undefined;
    if (stopped) return;
    run?.abort();
    const controller = new AbortController();
    run = controller;
    const { signal } = controller;
    const failed = (err: unknown): void => {
      if (!signal.aborted) scheduleRestart(err);
    };
    try {
      await relist(signal);
      const { ended } = await watch(signal);
      if (signal.aborted) return;
      connected();
      follow(ended, signal).catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  return {
    start: async () => {
      if (!stopped) return;
      stopped = false;
      await attempt();
    },
    synced: () => hasSynced,
    cache: () => store,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      run?.abort();
      run = undefined;
    },
  };
}
