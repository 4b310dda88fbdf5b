// A minimal HTTPS client for the harness (readiness probes, waiting for objects): mutual TLS with the admin
// certificate, JSON in and out, no dependency on the code under test.
import https from 'node:https';

export interface TlsClientIdentity {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface HttpsResult {
  status: number;
  body: string;
}

export interface HttpsRequest {
  url: string;
  method?: string;
  body?: unknown;
  /** Client identity and CA; without it the server certificate is not verified (self-signed health endpoints). */
  tls?: TlsClientIdentity;
  timeoutMs?: number;
}

export function httpsRequest(req: HttpsRequest): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    const r = https.request(
      req.url,
      {
        method: req.method ?? 'GET',
        ...(req.tls ? { ca: req.tls.caPem, cert: req.tls.certPem, key: req.tls.keyPem } : { rejectUnauthorized: false }),
        agent: false,
        timeout: req.timeoutMs ?? 5000,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`timeout after ${req.timeoutMs ?? 5000} ms: ${req.url}`)));
    r.on('error', reject);
    r.end(payload);
  });
}
