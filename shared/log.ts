/**
 * One logger factory for every side, so redaction is configured once: no password, secret,
 * token or Proxy-Authorization value ever reaches a log line. Log messages read as sentences;
 * facts go in fields.
 */
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';
import { PinholeError } from './errors.js';

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

/** How a foreground process prints its log: `human` lines for a person at a terminal, `json` lines for a service manager or a log shipper. */
export const LOG_FORMATS = ['human', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `--log-format` as given, else human on a terminal and JSON everywhere else. */
export const chooseLogFormat = (flag: string | undefined, isTTY: boolean | undefined): LogFormat => {
  if (flag === undefined) return isTTY === true ? 'human' : 'json';
  if ((LOG_FORMATS as readonly string[]).includes(flag)) return flag as LogFormat;
  throw new PinholeError('PINHOLE_USAGE', `--log-format must be human or json, got "${flag}".`);
};

/**
 * pino-pretty (some 30 modules) is loaded when a human log is asked for, not by every process that
 * logs JSON. It is required synchronously so that every write stays synchronous; shared/ imports
 * no Node built-in, so `node:module` is reached through process.getBuiltinModule (Node 20.16+).
 */
const loadPrettyFactory = (): typeof import('pino-pretty').prettyFactory => {
  const { createRequire } = process.getBuiltinModule('node:module');
  return (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')).prettyFactory;
};

/**
 * A pino destination that turns each JSON line into one human line (time, level, sentence, the
 * fields), written to `out`. pino-pretty's formatter runs in this thread, synchronously: no
 * transport worker, so it works the same under tsx, compiled, and bundled into Electron's main.
 */
export const humanLines = (out: { write(text: string): unknown }, { colorize = false }: { colorize?: boolean } = {}): DestinationStream => {
  const pretty = loadPrettyFactory()({ colorize, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,name', singleLine: true });
  return {
    write(text: string): void {
      out.write(pretty(text));
    },
  };
};

/** The destination for a process's log on `stream` (stdout or stderr) in the chosen format. */
export const logDestination = (format: LogFormat, stream: { write(text: string): unknown; isTTY?: boolean }): DestinationStream =>
  format === 'human' ? humanLines(stream, { colorize: stream.isTTY === true }) : { write: (text: string) => void stream.write(text) };
