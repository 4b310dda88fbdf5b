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
