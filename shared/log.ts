/**
 * One logger factory for every side, so redaction is configured once: no password, secret,
 * token or Proxy-Authorization value ever reaches a log line. Log messages read as sentences;
 * facts go in fields.
 */
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export const REDACT_PATHS = [
  'password',
  'secret',
  'token',
  'authorization',
  'proxyAuthorization',
  '*.password',
  '*.secret',
  '*.token',
  '*.authorization',
  '*.proxyAuthorization',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'link',
  '*.link',
];

export interface LoggerSettings {
  name: string;
  level?: LoggerOptions['level'];
  destination?: DestinationStream;
}

export const createLogger = ({ name, level, destination }: LoggerSettings): Logger => {
  const options: LoggerOptions = {
    name,
    level: level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
};
