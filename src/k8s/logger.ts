// The part of a pino logger that src/k8s uses; a pino instance (or child) satisfies it, so do test doubles.
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything, for callers that do not care. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

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
