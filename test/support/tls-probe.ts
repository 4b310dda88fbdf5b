// devx-webhook in-process on an objects file (no cluster), and one HTTPS probe of it: what the TLS tests share.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import pino from 'pino';
import { ServerConfigSchema } from '../../src/schemas/server-config.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';

export interface Seen {
  sha256: string;
  issuer: string;
}

/** One GET /healthz on a new connection, trusting `ca`; the certificate the server presented. */
export function probe(port: number, ca: string, timeoutMs = 3000): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/healthz', ca, agent: false, timeout: timeoutMs }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerX509Certificate();
      res.resume();
      res.on('end', () => (res.statusCode === 200 && peer ? resolve({ sha256: peer.fingerprint256, issuer: peer.issuer }) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** A starter of silent servers on an objects file (one namespace opted in) written into `dir`. */
export function objectsServer(dir: string): (args: Record<string, unknown>) => Promise<RunningServer> {
  const objects = path.join(dir, 'objects.yaml');
  fs.writeFileSync(objects, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: apps, labels: {dev.x/policy: default}}\n');
  return (args) => startServer(ServerConfigSchema.parse({ objects, host: '127.0.0.1', port: 0, logLevel: 'silent', ...args }), pino({ level: 'silent' }));
}
