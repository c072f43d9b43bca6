/**
 * The engine's logger: every line goes to the in-memory ring the UI reads (log-ring.ts) and, when
 * given, to a destination (the CLI's stdout) or an existing logger the lines are forwarded to (the
 * console's).
 */
import { createLogger, type Logger } from '../shared/log.js';
import { LogRing } from './log-ring.js';

export interface EngineLogOptions {
  /** Log lines also go here (the CLI passes stdout); the ring always gets them. */
  logDestination?: { write(text: string): void };
  /** Or an existing logger the lines are forwarded to (the console passes one). */
  logger?: Logger;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  logCapacity?: number;
}

const forwardTo = (logger: Logger): { write(text: string): void } => ({
  write(text: string): void {
    try {
      const { level, msg, time: _time, name: _name, ...fields } = JSON.parse(text) as Record<string, unknown>;
      const method = level === 'error' || level === 'warn' || level === 'debug' ? level : 'info';
      logger[method](fields, String(msg ?? ''));
    } catch {
      logger.info(text.trim());
    }
  },
});

export const createEngineLog = (options: EngineLogOptions): { logger: Logger; ring: LogRing } => {
  const ring = new LogRing(options.logCapacity ?? 2000);
  const external = options.logDestination ?? (options.logger ? forwardTo(options.logger) : undefined);
  const logger = createLogger({
    name: 'pinhole',
    level: options.logLevel ?? 'info',
    destination: {
      write(text: string): void {
        ring.write(text);
        external?.write(text);
      },
    },
  });
  return { logger, ring };
};
