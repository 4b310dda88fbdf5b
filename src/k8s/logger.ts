// Logging helpers of src/k8s; the logger type itself is src/logger.ts.
export { silentLogger, type Logger } from '../logger.ts';

/** Status code and message of a failed API call (KubeApiError, a watch's Status, a socket error), for log lines. */
export function describeError(err: unknown): { code?: number; error: string } {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; status?: unknown; message?: unknown };
    const code = typeof e.code === 'number' ? e.code : typeof e.status === 'number' ? e.status : undefined;
    const message = typeof e.message === 'string' ? e.message.split('\n')[0] ?? '' : String(err);
    return code === undefined ? { error: message } : { code, error: message };
  }
  return { error: String(err) };
}
