import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultHost, ServerConfigSchema } from '../../src/schemas/server-config.ts';

test('devx-webhook listens on every interface by default, on the loopback host of --register-url when it has one, and on --host when given', () => {
  const host = (c: Record<string, unknown>): string => ServerConfigSchema.parse(c).host;
  assert.equal(host({}), '0.0.0.0');
  assert.equal(host({ registerUrl: 'https://127.0.0.1:0' }), '127.0.0.1');
  assert.equal(host({ registerUrl: 'https://127.0.0.2:9443' }), '127.0.0.2');
  assert.equal(host({ registerUrl: 'https://[::1]:8443' }), '::1');
  assert.equal(host({ registerUrl: 'https://localhost:8443' }), '127.0.0.1');
  assert.equal(host({ registerUrl: 'https://devx.example.com:8443' }), '0.0.0.0');
  assert.equal(host({ registerUrl: 'https://10.1.2.3:8443' }), '0.0.0.0');
  assert.equal(host({ registerUrl: 'https://127.0.0.1:0', host: '0.0.0.0' }), '0.0.0.0');
  assert.equal(defaultHost(undefined), '0.0.0.0');
});

test('the overload limits: defaults, numbers from flags, and a clear error for a limit that would refuse everything', () => {
  const c = ServerConfigSchema.parse({});
  assert.deepEqual({ maxConnections: c.maxConnections, maxInFlight: c.maxInFlight, maxQueueDelay: c.maxQueueDelay }, { maxConnections: 512, maxInFlight: 64, maxQueueDelay: 1000 });
  const set = ServerConfigSchema.parse({ maxConnections: '2048', maxInFlight: '8', maxQueueDelay: '0' });
  assert.deepEqual({ maxConnections: set.maxConnections, maxInFlight: set.maxInFlight, maxQueueDelay: set.maxQueueDelay }, { maxConnections: 2048, maxInFlight: 8, maxQueueDelay: 0 });
  for (const bad of [{ maxInFlight: '0' }, { maxConnections: '0' }, { maxQueueDelay: '-1' }, { maxInFlight: 'many' }]) {
    const r = ServerConfigSchema.safeParse(bad);
    assert.equal(r.success, false, JSON.stringify(bad));
    assert.deepEqual(r.error?.issues.map((i) => i.path[0]), Object.keys(bad));
  }
});

test('--probe-port: none by default, a port number when given, never the webhook port', () => {
  assert.equal(ServerConfigSchema.parse({}).probePort, undefined);
  assert.equal(ServerConfigSchema.parse({ probePort: '8081' }).probePort, 8081);
  assert.equal(ServerConfigSchema.parse({ port: '0', probePort: '0' }).probePort, 0, 'both picked free: different ports');
  for (const bad of [{ probePort: '8443' }, { port: '9000', probePort: '9000' }, { probePort: '70000' }, { probePort: 'http' }]) {
    const r = ServerConfigSchema.safeParse(bad);
    assert.equal(r.success, false, JSON.stringify(bad));
    assert.deepEqual(r.error?.issues.map((i) => i.path[0]), ['probePort'], JSON.stringify(bad));
  }
});
