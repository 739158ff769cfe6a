import { pino, type Logger } from 'pino';

/** The root logger: JSON lines on stdout (or `destination`), level from LOG_LEVEL. */
export function createLogger(options: { level?: string; destination?: number } = {}): Logger {
  return pino(
    { level: options.level ?? process.env['LOG_LEVEL'] ?? 'info', base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: options.destination ?? 1, sync: true }),
  );
}

export type { Logger };
