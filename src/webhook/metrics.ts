// Prometheus metrics of the admission routes: a count and a latency histogram by route and result.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface AdmissionMetrics {
  registry: Registry;
  observe(route: string, result: string, seconds: number): void;
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
  // Label children bound once per (route, result): prom-client hashes a label object on every unbound call.
  const children = new Map<string, { count: ReturnType<typeof count.labels>; latency: ReturnType<typeof latency.labels> }>();
  const bound = (route: string, result: string) => {
    const key = `${route}\u0000${result}`;
    let c = children.get(key);
    if (!c) {
      c = { count: count.labels({ route, result }), latency: latency.labels({ route, result }) };
      children.set(key, c);
    }
    return c;
  };
  return {
    registry,
    observe(route, result, seconds) {
      const c = bound(route, result);
      c.count.inc();
      c.latency.observe(seconds);
    },
  };
}
