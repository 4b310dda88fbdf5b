// Raw JSON requests to the API server with the KubeConfig's credentials. The generated clients of
// @kubernetes/client-node re-serialize bodies through their models, which silently drops fields the models do not
// know (e.g. `x-kubernetes-*` keys of a CRD schema, or fields newer than the client); applying manifests and
// webhook configurations needs the bytes to reach the server as written.
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** API path with query, e.g. `/apis/apps/v1/namespaces/x/deployments?limit=1`. */
  path: string;
  body?: unknown;
  /** Default `application/json`; server-side apply uses `application/apply-patch+yaml`. */
  contentType?: string;
  /** Default 30 s. */
  timeoutMs?: number;
}

export interface KubeResponse {
  status: number;
  /** Parsed JSON, or the raw text if the body is not JSON. */
  body: unknown;
  /** Texts of the `Warning` headers (admission warnings), in order. */
  warnings: string[];
}

/** `299 - "text"` → `text` (RFC 7234 warn-code, agent, quoted text). */
function warningText(header: string): string {
  const m = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(header);
  return m ? (m[1] ?? '').replace(/\\(.)/g, '$1') : header;
}

function warningsOf(raw: string | string[] | undefined): string[] {
  return (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).flatMap((h) => h.split(/,\s*(?=\d{3} )/)).map(warningText);
}

/** A non-2xx answer, with the Status object's reason and message. */
export class KubeApiError extends Error {
  readonly status: number;
  /** `reason` of the Status object, e.g. `NotFound`, `Conflict`, `Forbidden`. */
  readonly reason: string;
  readonly body: unknown;

  constructor(req: KubeRequest, res: KubeResponse) {
    const status = res.body as { message?: string; reason?: string } | undefined;
    super(`${req.method} ${req.path}: HTTP ${res.status}: ${status?.message ?? String(res.body)}`);
    this.name = 'KubeApiError';
    this.status = res.status;
    this.reason = status?.reason ?? '';
    this.body = res.body;
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Sends one request and returns whatever status came back. */
export async function kubeRequest(kc: KubeConfig, req: KubeRequest): Promise<KubeResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const opts: https.RequestOptions = { method: req.method, headers: { accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
  if (payload !== undefined) {
    opts.headers = { ...opts.headers, 'content-type': req.contentType ?? 'application/json', 'content-length': Buffer.byteLength(payload) };
  }
  const timeoutMs = req.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const r = https.request(new URL(cluster.server + req.path), opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parse(Buffer.concat(chunks).toString('utf8')), warnings: warningsOf(res.headers.warning) }));
      res.on('error', reject);
    });
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`${req.method} ${req.path}: no answer from ${cluster.server} within ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end(payload);
  });
}

/** Sends one request; a non-2xx status becomes a KubeApiError. */
export async function kubeCall(kc: KubeConfig, req: KubeRequest): Promise<unknown> {
  const res = await kubeRequest(kc, req);
  if (res.status < 200 || res.status >= 300) throw new KubeApiError(req, res);
  return res.body;
}
