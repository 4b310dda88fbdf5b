// Bad input over HTTP: every answer is an AdmissionReview or a 4xx with a message; never a 5xx.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { goldenContext, loadCases, requestOptions } from '../golden/golden.ts';
import { requestFor } from '../../src/core/preview.ts';
import { testApp } from './helpers.ts';

describe('bad input over HTTP', () => {
  let app: FastifyInstance;
  before(async () => {
    app = testApp(goldenContext);
    await app.ready();
  });
  after(() => app.close());

  const post = (payload: string | object, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    app.inject({ method: 'POST', url: '/mutate/pods', payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers });

  test('not JSON: 400 with a message', async () => {
    const res = await post('{"apiVersion": ');
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /devx: .*JSON/i);
  });

  test('wrong Content-Type: 415', async () => {
    const res = await post('<xml/>', { 'content-type': 'application/xml' });
    assert.equal(res.statusCode, 415);
    assert.match(res.json().message, /content-type/i);
  });

  test('no request: 400 that says so', async () => {
    const res = await post({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /no "request"/);
  });

  test('a request without uid or kind: 400 naming the fields', async () => {
    const res = await post({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /uid/);
    assert.match(res.json().message, /kind/);
  });

  test('unknown AdmissionReview apiVersion: allowed with no patch', async () => {
    const request = requestFor(requestOptions(loadCases().find((c) => c.name === 'pod-bare-create')!));
    const res = await post({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().response, { uid: request.uid, allowed: true });
  });

  test('an object kind devx does not handle: allowed with no patch', async () => {
    const request = requestFor({ object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'bookinfo', labels: { 'dev.x/enabled': 'true' } } } });
    for (const url of ['/mutate/pods', '/mutate/workloads', '/validate']) {
      const res = await app.inject({ method: 'POST', url, payload: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request } });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json().response, { uid: request.uid, allowed: true });
    }
  });

  test('a 3 MiB pod is accepted and injected', async () => {
    const big = 'x'.repeat(3 * 1024 * 1024 - 4096);
    const object = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'big', namespace: 'bookinfo', labels: { 'dev.x/enabled': 'true' }, annotations: { blob: big } }, spec: { containers: [{ name: 'app', image: 'nginx' }] } };
    const res = await post({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: requestFor({ object }) });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().response.allowed, true);
    assert.ok(res.json().response.patch);
  });

  test('a body over the limit: 413, not 5xx', async () => {
    const res = await post(JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) }));
    assert.equal(res.statusCode, 413);
    assert.ok(res.json().message);
  });

  test('JSON that is not an object, and an empty body: 4xx', async () => {
    for (const body of ['[]', '"text"', '42', 'null', '']) {
      const res = await post(body);
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${JSON.stringify(body)} -> ${res.statusCode}`);
      assert.ok(res.json().message);
    }
  });

  test('health, readiness and metrics', async () => {
    assert.equal((await app.inject('/healthz')).statusCode, 200);
    assert.equal((await app.inject('/readyz')).statusCode, 200);
    await post('{');
    const m = await app.inject('/metrics');
    assert.equal(m.statusCode, 200);
    assert.match(m.body, /devx_admission_reviews_total\{route="pods",result="skip"\}|devx_admission_reviews_total/);
    assert.match(m.body, /devx_admission_duration_seconds_bucket/);
  });

  test('not ready until the cluster view is synced', async () => {
    const cold = testApp(goldenContext, { ready: () => false });
    assert.equal((await cold.inject('/readyz')).statusCode, 503);
    await cold.close();
  });
});
