// A Logger (src/k8s/logger.ts) that keeps what it is given, for tests that assert on log lines.
import type { Logger } from '../src/k8s/logger.ts';

export interface LogEntry {
  level: string;
  obj: object;
  msg?: string;
}

export function recordingLogger(): { logger: Logger; logs: LogEntry[] } {
  const logs: LogEntry[] = [];
  const logger: Logger = {
    debug: (obj, msg) => logs.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => logs.push({ level: 'error', obj, msg }),
  };
  return { logger, logs };
}
