import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * The one place loggers are made. Level comes from LOG_LEVEL (default info); every line is JSON
 * with a `component` field so several BlockHost processes can share one log stream.
 */
export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  return pino({ level: process.env.LOG_LEVEL ?? 'info', base: { component }, ...options });
}
