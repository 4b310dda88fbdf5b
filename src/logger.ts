// The one logger type devx's modules accept: the part of a pino logger they use. pino instances and children satisfy
// it, and so do test doubles.
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything, for callers that do not care. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
