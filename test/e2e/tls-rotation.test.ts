// devx-webhook's HTTPS server through renewals and a CA rotation of its self-managed TLS, in real time: tiny lifetimes
// (2 s certificates, a 6 s CA) while a client keeps connecting, each connection trusting the bundle the server
// publishes at that moment. In real time because what it proves is the swap under a live server; with margins that a
// loaded machine cannot race (up to 45 s to see two renewals and a rotation, 10 s per connection). The decisions
// themselves are unit-tested on an injected clock (test/unit/tls-self-managed.test.ts, tls-decisions.test.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { objectsServer, probe, type Seen } from '../support/tls-probe.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-tls-rotation-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const start = objectsServer(dir);

describe('the HTTPS server swaps self-managed certificates without a restart', () => {
  test('self-managed in memory, 2 s certificates and a 6 s CA: every connection verifies through renewals and a CA rotation', async () => {
    const server = await start({ certValidity: '2s', caValidity: '6s' });
    const seen: Seen[] = [];
    const failures: string[] = [];
    try {
      // Until the client has seen two renewals and a CA rotation (about 6 s), for at most 45 s.
      const until = Date.now() + 45_000;
      const enough = (): boolean => new Set(seen.map((s) => s.issuer)).size >= 2 && new Set(seen.map((s) => s.sha256)).size >= 4;
      while (Date.now() < until && !enough()) {
        try {
          // The client trusts what the server says its bundle is *now*, as the API server trusts the caBundle.
          seen.push(await probe(server.port, server.tls.caBundle(), 10_000));
        } catch (err) {
          failures.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await server.close();
    }
    const certs = new Set(seen.map((s) => s.sha256));
    const issuers = new Set(seen.map((s) => s.issuer));
    assert.deepEqual(failures, []);
    assert.ok(seen.length > 30, `${seen.length} requests`);
    assert.ok(certs.size >= 3, `at least two renewals observed by the client (${certs.size} certificates)`);
    assert.ok(issuers.size >= 2, `a CA rotation observed by the client (${[...issuers].join(' | ')})`);
  });

});
