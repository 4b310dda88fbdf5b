// Prometheus metrics of the admission routes: a count and a latency histogram by route and result.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface AdmissionMetrics {
  registry: Registry;
  observe(route: string, result: string, seconds: number): void;
  /** A review answered 429 because devx was overloaded, by route and reason (queue-delay, in-flight). */
  shed(route: string, reason: string): void;
  /** The listener stopped (new connections refused), by reason (connections, accept-queue). */
  listenerPaused(reason: string): void;
  /** The listener listens again after `seconds` stopped. */
  listenerResumed(seconds: number): void;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): AdmissionMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'devx_' });
  const count = new Counter({
    name: 'devx_admission_reviews_total',
    help: 'Admission reviews answered, by route and result (mutate, skip, deny, error).',
    labelNames: ['route', 'result'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'devx_admission_duration_seconds',
    help: 'Time from a review arriving (body parsed) to its answer, by route and result.',
    labelNames: ['route', 'result'],
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [registry],
  });
  const shed = new Counter({
    name: 'devx_admission_rejected_total',
    help: 'Reviews answered 429 (overloaded) without being decided, by route and reason (queue-delay, in-flight).',
    labelNames: ['route', 'reason'],
    registers: [registry],
  });
  const paused = new Counter({
    name: 'devx_listener_paused_total',
    help: 'Times devx stopped listening because it was overloaded (new connections refused), by reason (connections: at --max-connections; accept-queue: a flood kept new connections waiting to be accepted).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const pausedSeconds = new Counter({
    name: 'devx_listener_paused_seconds_total',
    help: 'Time devx spent not listening because it was overloaded (pauses that have ended).',
    registers: [registry],
  });
  return {
    registry,
    listenerPaused(reason) {
      paused.inc({ reason });
    },
    listenerResumed(seconds) {
      pausedSeconds.inc(seconds);
    },
    shed(route, reason) {
      shed.inc({ route, reason });
    },
    observe(route, result, seconds) {
      count.inc({ route, result });
      latency.observe({ route, result }, seconds);
    },
  };
}
