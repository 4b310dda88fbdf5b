// Load shedding for the review routes: when devx cannot answer in time, it says so at once instead of queueing
// reviews until the API server gives up on them. Three bounds, each applied before a review's body is read:
// - connections: an HTTP/1.1 client opens one per concurrent call, so they are the reviews queued or in progress,
//   each with its TLS state. At the cap, or while the event loop is too far behind to accept promptly, devx stops
//   listening and the kernel refuses new connections at once (accept-gate.ts); the open ones are still served. At
//   three times devx's peak most of a review's wait is in connection setup, so this is the bound that holds the
//   answered latency, the memory and the recovery (bench/overload.ts).
// - queueing: a review also waits, out of the process's sight, until the event loop gets to it; while the loop's
//   delay (sampled by @fastify/under-pressure) is past the bound, reviews are answered 429 with a message.
// - reviews in flight: read and being decided (a review waits on the API server for a pod's owners in cluster mode),
//   each holding its body; capped like the API server's own --max-requests-inflight, answered 429 past it.
// Health, readiness and metrics routes are never answered 429: a kubelet that saw an overloaded replica as dead
// would restart it and move its load onto the others. While the listener is stopped, connections to them on this port
// are refused like any other; the kubelet's are not, on --probe-port (probes.ts).
import type net from 'node:net';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_MAX_ACCEPT_WAIT_MS, gateAccepting, type AcceptGate, type PauseReason } from './accept-gate.ts';

/** The kernel caps it at net.core.somaxconn (4,096 by default on current kernels). */
export const LISTEN_BACKLOG = 4096;

export interface OverloadLimits {
  /** Open connections; at the cap devx stops listening (new ones are refused) until it is back below 9/10 of it. */
  maxConnections: number;
  /** Reviews read and being decided at once; a review arriving past it is answered 429. */
  maxInFlight: number;
  /** Event loop delay (ms, mean over sampleIntervalMs) above which new reviews are answered 429; 0 turns it off. */
  maxQueueDelayMs: number;
  /** How often the event loop delay is sampled (default: the bound, at least 100 ms); for tests. */
  sampleIntervalMs?: number;
}

/**
 * How often the loop's delay is read: the bound itself, but at least 100 ms. An interval in which the loop never ran
 * reads as Infinity, so the interval must be as long as the bound: with shorter ones, every stall of a tenth of a
 * second (a garbage collection, a busy neighbour) read as overload and shed reviews at normal load. Shedding starts
 * and stops within one interval of the loop falling behind or catching up.
 */
function sampleIntervalFor(maxQueueDelayMs: number): number {
  return Math.max(100, maxQueueDelayMs);
}

export type ShedReason = 'queue-delay' | 'in-flight';

/** The API server's own answer when it sheds load (a Status), so client-go decodes the message. */
export function overloadStatus(message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `devx: ${message}`, reason: 'TooManyRequests', details: { retryAfterSeconds: 1 }, code: 429 };
}

/** The measured delay; Infinity means the loop did not run at all for a whole interval. */
function waited(delayMs: number | undefined, sampleIntervalMs: number): string {
  return delayMs !== undefined && Number.isFinite(delayMs) ? `${Math.round(delayMs)} ms` : `over ${sampleIntervalMs} ms`;
}

function shed(reply: FastifyReply, message: string): object {
  // Retry-After: 1 makes the API server's webhook client try once more a second later, within the webhook's
  // timeout, as it does for the API server's own 429s; the call fails for good only when that time is up.
  void reply.code(429).header('retry-after', '1');
  return overloadStatus(message);
}

/** What the listener did, for /metrics. */
export interface ListenerEvents {
  paused(reason: PauseReason): void;
  resumed(pausedSeconds: number): void;
}

/** One warning per this many ms at most: under a sustained flood the listener may stop and start several times a second. */
const PAUSE_LOG_EVERY_MS = 10_000;

/** Gates the listener once `app` listens (accept-gate.ts), stops at close; logs a pause at most every 10 s. */
function gateListener(app: FastifyInstance, limits: OverloadLimits, events?: ListenerEvents): void {
  let gate: AcceptGate | undefined;
  let lastLog = -Infinity;
  let pausesSinceLog = 0;
  app.addHook('onListen', (done) => {
    gate = gateAccepting(app.server as unknown as net.Server, {
      maxConnections: limits.maxConnections,
      backlog: LISTEN_BACKLOG,
      onPause: (reason, open) => {
        events?.paused(reason);
        pausesSinceLog++;
        const now = performance.now();
        if (now - lastLog < PAUSE_LOG_EVERY_MS) return;
        const why =
          reason === 'connections'
            ? `${open} connections are open (limit ${limits.maxConnections})`
            : `a flood keeps new connections waiting over ${DEFAULT_MAX_ACCEPT_WAIT_MS} ms to be accepted`;
        app.log.warn({ reason, open, pauses: pausesSinceLog }, `overloaded: not accepting new connections while ${why}; open ones are served, new ones are refused`);
        lastLog = now;
        pausesSinceLog = 0;
      },
      onResume: (ms) => events?.resumed(ms / 1000),
      onListenError: (err) => app.log.error({ err: err.message }, 'could not listen again after an overload pause; trying again'),
    });
    done();
  });
  app.addHook('preClose', (done) => {
    gate?.stop();
    done();
  });
}

/**
 * Registers the shedding on `app` for the routes in `reviewUrls`; `onShed` counts each 429 and `listener` what the
 * listener did (for /metrics).
 */
export function shedOverload(app: FastifyInstance, o: { limits: OverloadLimits; reviewUrls: ReadonlySet<string>; onShed: (url: string, reason: ShedReason) => void; listener?: ListenerEvents }): void {
  const { maxInFlight, maxQueueDelayMs } = o.limits;
  // The gate stops listening at the cap; Node's own cap closes anything accepted past it meanwhile.
  app.server.maxConnections = o.limits.maxConnections;
  gateListener(app, o.limits, o.listener);
  const isReview = (req: FastifyRequest): boolean => o.reviewUrls.has(req.routeOptions.url ?? '');
  let inFlight = 0;
  const sampleInterval = o.limits.sampleIntervalMs ?? sampleIntervalFor(maxQueueDelayMs);
  if (maxQueueDelayMs > 0) {
    void app.register(underPressure, {
      maxEventLoopDelay: maxQueueDelayMs,
      sampleInterval,
      // A value sends it as the answer; undefined lets the request through (probes, metrics).
      pressureHandler: ((req: FastifyRequest, reply: FastifyReply, _type: string, value: number | undefined) => {
        if (!isReview(req)) return undefined;
        o.onShed(req.routeOptions.url ?? '', 'queue-delay');
        return shed(reply, `overloaded: reviews wait ${waited(value, sampleInterval)} before devx reads them (limit ${maxQueueDelayMs} ms); try again`);
      }) as unknown as (req: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => void,
    });
  }
  // Checked on arrival, before the body is read; counted once the body is in, while the review is decided (and
  // waits for a pod's owners): a review still arriving holds no work yet, and under load many are.
  app.addHook('onRequest', (req, reply, done) => {
    if (!isReview(req) || inFlight < maxInFlight) return done();
    o.onShed(req.routeOptions.url ?? '', 'in-flight');
    return void reply.send(shed(reply, `overloaded: ${inFlight} reviews in flight (limit ${maxInFlight}); try again`));
  });
  const release = new WeakMap<FastifyRequest, () => void>();
  app.addHook('preHandler', (req, reply, done) => {
    if (!isReview(req)) return done();
    inFlight++;
    let counted = true;
    const leave = (): void => {
      if (counted) inFlight--;
      counted = false;
    };
    release.set(req, leave);
    // The answer is ready (onSend), or the client hung up first ('close'): either ends the review's work. Waiting
    // for the socket to flush instead would count answers already given, hundreds of them in a busy loop.
    reply.raw.once('close', leave);
    done();
  });
  app.addHook('onSend', (req, _reply, payload, done) => {
    release.get(req)?.();
    done(null, payload);
  });
}
