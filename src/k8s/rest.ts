// Raw JSON requests to the API server over node:https, with the TLS settings and credentials that client-node's
// KubeConfig fills in (applyToHTTPSOptions: certificates, tokens, token files, exec plugins, auth providers,
// impersonation). Not the generated API clients: they re-serialize bodies through their models, which silently drops
// fields the models do not know (e.g. `x-kubernetes-*` keys of a CRD schema, or fields newer than the client);
// applying manifests and webhook configurations needs the bytes to reach the server as written, with their content
// types (server-side apply, JSON and merge patches).
import http from 'node:http';
import https from 'node:https';
import type { KubeConnection } from './kubeconfig.ts';

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** API path with query, e.g. `/apis/apps/v1/namespaces/x/deployments?limit=1`. */
  path: string;
  body?: unknown;
  /** Default `application/json`; server-side apply uses `application/apply-patch+yaml`. */
  contentType?: string;
  /** Default 30 s. */
  timeoutMs?: number;
  /** Aborting it destroys the request (the promise rejects). */
  signal?: AbortSignal;
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

/** A response body: parsed JSON, or the text itself when it is not JSON (an error page, a plain message). */
function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The API server URL of the connection's current context, without a trailing slash. */
function serverOf(kc: KubeConnection): string {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  return server.replace(/\/+$/, '');
}

/** Sends one request (TLS settings and credentials from client-node's KubeConfig) and returns whatever status came back. */
export async function kubeRequest(kc: KubeConnection, req: KubeRequest): Promise<KubeResponse> {
  const server = serverOf(kc);
  const url = new URL(server + req.path);
  const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
  const headers = payload === undefined ? {} : { 'content-type': req.contentType ?? 'application/json', 'content-length': Buffer.byteLength(payload) };
  const options: https.RequestOptions = { method: req.method, headers: { accept: 'application/json', ...headers }, ...(req.signal ? { signal: req.signal } : {}) };
  await kc.applyToHTTPSOptions(options);
  const request = url.protocol === 'http:' ? http.request : https.request;
  const timeoutMs = req.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const r = request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parseBody(Buffer.concat(chunks).toString('utf8')), warnings: warningsOf(res.headers.warning) }));
      res.on('error', reject);
    });
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`${req.method} ${req.path}: no answer from ${server} within ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end(payload);
  });
}

function checked(req: KubeRequest, res: KubeResponse): KubeResponse {
  if (res.status < 200 || res.status >= 300) throw new KubeApiError(req, res);
  return res;
}

/** Sends one request; a non-2xx status becomes a KubeApiError. The whole response, e.g. for its warnings. */
export async function kubeCallResponse(conn: KubeConnection, req: KubeRequest): Promise<KubeResponse> {
  return checked(req, await kubeRequest(conn, req));
}

/** A 404 on create means the namespace itself is missing (the object is what is being created). */
export function namespaceMissing(err: unknown): boolean {
  const details = (err as KubeApiError).body as { details?: { kind?: string } } | undefined;
  return err instanceof KubeApiError && err.status === 404 && details?.details?.kind === 'namespaces';
}

/** Sends one request; a non-2xx status becomes a KubeApiError. */
export async function kubeCall(conn: KubeConnection, req: KubeRequest): Promise<unknown> {
  return (await kubeCallResponse(conn, req)).body;
}

/** Like kubeCall, but a 404 (the object does not exist) resolves to undefined. */
export async function kubeFind(conn: KubeConnection, req: KubeRequest): Promise<unknown> {
  const res = await kubeRequest(conn, req);
  return res.status === 404 ? undefined : checked(req, res).body;
}
