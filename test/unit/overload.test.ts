// Load shedding on the review routes (src/webhook/overload.ts), through fastify with no port: a review beyond the
// in-flight cap, or one arriving while the event loop lags, is answered 429 with a Status the API server decodes,
// counted in /metrics; probes and metrics are never shed; devx answers reviews again as soon as the cause is gone.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { goldenContext } from '../golden/golden.ts';
import { reviewBody, reviewsPod } from '../../bench/fixtures.ts';
import { createMetrics, type AdmissionMetrics } from '../../src/webhook/metrics.ts';
import type { OverloadLimits } from '../../src/webhook/overload.ts';
import { testApp } from './helpers.ts';

const BODY = reviewBody(reviewsPod());

function post(app: FastifyInstance): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/mutate/pods', payload: BODY, headers: { 'content-type': 'application/json' } });
}

async function rejectedMetric(metrics: AdmissionMetrics, reason: string): Promise<number> {
  const m = (await metrics.registry.getSingleMetricAsString('devx_admission_rejected_total')).split('\n');
  const line = m.find((l) => l.startsWith('devx_admission_rejected_total{') && l.includes(`reason="${reason}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

function assertShed(res: LightMyRequestResponse, message: RegExp): void {
  assert.equal(res.statusCode, 429);
  assert.equal(res.headers['retry-after'], '1');
  const status = res.json();
  assert.equal(status.kind, 'Status');
  assert.equal(status.reason, 'TooManyRequests');
  assert.equal(status.code, 429);
  assert.match(status.message, message);
}

/** An app whose reviews wait in `prepare` until released, so they stay in flight. */
function holdingApp(limits: OverloadLimits): { app: FastifyInstance; metrics: AdmissionMetrics; release: () => void; waiting: () => number } {
  const metrics = createMetrics({ defaultMetrics: false });
  let gates: Array<() => void> = [];
  let held = true;
  const prepare = (): Promise<void> => (held ? new Promise<void>((resolve) => gates.push(resolve)) : Promise.resolve());
  const app = testApp(goldenContext, { metrics, overload: limits, prepare });
  const release = (): void => {
    held = false;
    gates.forEach((g) => g());
    gates = [];
  };
  return { app, metrics, release, waiting: () => gates.length };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), 'condition never became true');
}

describe('overload', () => {
  test('past --max-in-flight a review is answered 429 with a message at once; the held ones are decided; then all are', async () => {
    const { app, metrics, release, waiting } = holdingApp({ maxConnections: 100, maxInFlight: 3, maxQueueDelayMs: 0 });
    await app.ready();
    try {
      const held = [post(app), post(app), post(app)];
      await until(() => waiting() === 3);
      const extra = await post(app);
      assertShed(extra, /^devx: overloaded: 3 reviews in flight \(limit 3\)/);
      // Probes and metrics are not reviews: never shed.
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
      assert.equal(await rejectedMetric(metrics, 'in-flight'), 1);
      release();
      for (const res of await Promise.all(held)) assert.equal(res.statusCode, 200, res.body);
      // Recovery: with the held reviews answered, the cap no longer bites.
      for (let i = 0; i < 5; i++) assert.equal((await post(app)).statusCode, 200);
      assert.equal(await rejectedMetric(metrics, 'in-flight'), 1);
    } finally {
      await app.close();
    }
  });

  test('a review whose client gave up leaves its slot', async () => {
    const { app, release, waiting } = holdingApp({ maxConnections: 100, maxInFlight: 1, maxQueueDelayMs: 0 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/mutate/pods', headers: { 'content-type': 'application/json' } });
      req.on('error', () => undefined);
      req.end(BODY);
      await until(() => waiting() === 1);
      req.destroy();
      release();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) status = (await post(app)).statusCode;
      assert.equal(status, 200, 'the slot of the abandoned review was never freed');
    } finally {
      await app.close();
    }
  });

  test('while the event loop lags past --max-queue-delay reviews get 429 at once; probes do not; then reviews pass again', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const app = testApp(goldenContext, { metrics, overload: { maxConnections: 100, maxInFlight: 100, maxQueueDelayMs: 20, sampleIntervalMs: 50 } });
    await app.ready();
    try {
      assert.equal((await post(app)).statusCode, 200);
      // The loop blocked for 300 ms, as by a flood of reviews: a sample within the next two intervals holds the delay
      // (bounded polling, no timing asserted).
      const until300 = Date.now() + 300;
      while (Date.now() < until300);
      let res = await post(app);
      for (let i = 0; i < 40 && res.statusCode === 200; i++) {
        await new Promise((r) => setTimeout(r, 5));
        res = await post(app);
      }
      assertShed(res, /^devx: overloaded: reviews wait (\d+|over 50) ms before devx reads them \(limit 20 ms\); try again$/);
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      assert.equal(await rejectedMetric(metrics, 'queue-delay'), 1);
      // Recovery: once the loop keeps up again, reviews are decided (bounded polling, no timing asserted).
      let passed = 0;
      for (let i = 0; i < 100 && passed < 3; i++) {
        await new Promise((r) => setTimeout(r, 20));
        passed = (await post(app)).statusCode === 200 ? passed + 1 : 0;
      }
      assert.equal(passed, 3, 'reviews never passed again after the loop caught up');
    } finally {
      await app.close();
    }
  });
});
