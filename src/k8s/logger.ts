// The part of a pino logger that src/k8s uses; a pino instance (or child) satisfies it, so do test doubles.
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything, for callers that do not care. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Status code and message of a failed API call (ApiException, fetch error or anything else), for log lines. */
export function describeError(err: unknown): { code?: number; error: string } {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
    const code = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
    const message = typeof e.message === 'string' ? e.message.split('\n')[0] ?? '' : String(err);
    return code === undefined ? { error: message } : { code, error: message };
  }
  return { error: String(err) };
}
