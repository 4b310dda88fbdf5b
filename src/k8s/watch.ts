// One watch request: `?watch=1` on a collection, answered with a stream of newline-delimited JSON events for as
// long as the server keeps it open. What the stream's end means decides what the informer does next, so it is
// reported as a value: the server closed it (its timeout, or it is shutting down: watch again from the last
// resourceVersion), the resourceVersion is too old (410 Gone: list again), or nothing came for too long (the
// connection may be dead without anyone having said so: watch again). Anything else is an error.
import type http from 'node:http';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeConnection } from './kubeconfig.ts';
import { KubeApiError, parseBody, prepareRequest, type KubeRequest } from './rest.ts';

export type WatchEnd = 'closed' | 'gone' | 'idle';

export interface WatchEvent {
  /** ADDED, MODIFIED, DELETED or BOOKMARK (ERROR events end the watch instead). */
  type: string;
  object: KubernetesObject;
}

export interface WatchOptions {
  /** Collection path, e.g. `/api/v1/namespaces`. */
  path: string;
  /** Where to start; empty: the current state, as synthetic ADDED events. */
  resourceVersion: string;
  labelSelector?: string;
  /** Asks the server to end the watch cleanly after this long. */
  timeoutSeconds: number;
  /** Gives up on a stream that sent nothing (not even a bookmark) for this long. */
  idleTimeoutMs: number;
  signal: AbortSignal;
  onEvent: (event: WatchEvent) => void;
}

/** The status object of an ERROR event. */
interface WatchStatus {
  code?: number;
  reason?: string;
  message?: string;
}

function isGone(s: WatchStatus): boolean {
  return s.code === 410 || s.reason === 'Expired' || s.reason === 'Gone';
}

/** Handles one line of the stream; 'gone' ends the watch, an error (or a line that is not an event) throws. */
function handleLine(line: string, o: WatchOptions): 'gone' | undefined {
  let event: { type?: unknown; object?: unknown };
  try {
    event = JSON.parse(line) as typeof event;
  } catch {
    throw new Error(`watch ${o.path}: the server sent a line that is not JSON: ${line.slice(0, 200)}`);
  }
  if (typeof event.type !== 'string' || !event.object || typeof event.object !== 'object') throw new Error(`watch ${o.path}: not a watch event: ${line.slice(0, 200)}`);
  if (event.type !== 'ERROR') {
    o.onEvent({ type: event.type, object: event.object as KubernetesObject });
    return undefined;
  }
  const status = event.object as WatchStatus;
  if (isGone(status)) return 'gone';
  throw Object.assign(new Error(`watch ${o.path}: ${status.message ?? status.reason ?? 'error event'}`), { code: status.code });
}

/** Follows an open stream until it ends; the request is destroyed whenever devx is the side that ends it. */
function follow(req: http.ClientRequest, res: http.IncomingMessage, o: WatchOptions): Promise<WatchEnd> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let idle: NodeJS.Timeout | undefined;
    let settled = false;
    const end = (how: WatchEnd | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      if (how instanceof Error) reject(how);
      else resolve(how);
      // A stream the server ended leaves a connection that may be reused; any other end leaves one mid-response.
      if (how !== 'closed') req.destroy();
    };
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => end('idle'), o.idleTimeoutMs);
      idle.unref();
    };
    const lines = (): 'gone' | undefined => {
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line && handleLine(line, o) === 'gone') return 'gone';
      }
      return undefined;
    };
    arm();
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      arm();
      buffered += chunk;
      try {
        if (lines() === 'gone') end('gone');
      } catch (err) {
        end(err as Error);
      }
    });
    res.on('end', () => end('closed'));
    res.on('error', (err) => end(err));
    res.on('close', () => end(new Error(`watch ${o.path}: the connection closed before the end of the response`)));
    req.on('error', (err) => end(err));
  });
}

function readError(req: KubeRequest, res: http.IncomingMessage): Promise<never> {
  return new Promise((_resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const body = parseBody(Buffer.concat(chunks).toString('utf8'));
      reject(new KubeApiError(req, { status: res.statusCode ?? 0, body, warnings: [] }));
    });
  });
}

function watchPath(o: WatchOptions): string {
  const query = new URLSearchParams({ watch: '1', allowWatchBookmarks: 'true', timeoutSeconds: String(o.timeoutSeconds) });
  if (o.resourceVersion) query.set('resourceVersion', o.resourceVersion);
  if (o.labelSelector) query.set('labelSelector', o.labelSelector);
  return `${o.path}?${query.toString()}`;
}

/**
 * Opens a watch. Resolves once the server has answered with its status: for 200 with `ended`, which settles when the
 * stream is over (rejecting on an ERROR event, a broken line or a broken connection); for 410 with `ended` already
 * 'gone'. Any other status rejects with a KubeApiError.
 */
export async function openWatch(conn: KubeConnection, o: WatchOptions): Promise<{ ended: Promise<WatchEnd> }> {
  const req: KubeRequest = { method: 'GET', path: watchPath(o) };
  const { url, options, request } = await prepareRequest(conn, { method: req.method, path: req.path, signal: o.signal });
  return new Promise((resolve, reject) => {
    const r = request(url, options, (res) => {
      r.setTimeout(0);
      if (res.statusCode === 200) {
        const ended = follow(r, res, o);
        // Marked as handled here: the caller awaits it right away, but an error could in principle come first.
        ended.catch(() => {});
        resolve({ ended });
      } else if (res.statusCode === 410) {
        res.resume();
        resolve({ ended: Promise.resolve('gone') });
      } else {
        // The informer's next attempt then comes with fresh credentials, if the connection can fetch them.
        if (res.statusCode === 401) conn.unauthorized?.();
        readError(req, res).catch(reject);
      }
    });
    // Until the answer arrives, a server that does not answer is an error; after that the idle timer decides.
    r.setTimeout(o.idleTimeoutMs, () => r.destroy(new Error(`watch ${o.path}: no answer from ${conn.server} within ${o.idleTimeoutMs} ms`)));
    r.on('error', reject);
    r.end();
  });
}
