/**
 * One TCP dial with a timeout, for every place that opens a connection: the gateway to a
 * destination (with Happy Eyeballs over the addresses its policy vetted), the client to the
 * gateway or a corporate proxy, the client's direct route, and pass-through backends.
 *
 * It rejects with the system error (its `code`: ECONNREFUSED, ENOTFOUND, ...) or, when the time
 * runs out, an error with code ETIMEDOUT; `destinationError` turns either into the PinholeError a
 * user sees for a destination. Callers branch on codes, never on message text.
 */
import { connect, type LookupFunction, type Socket } from 'node:net';
import { PinholeError } from '../shared/errors.js';
import { DIAL_SOCKET_OPTIONS } from './socket-options.js';

export interface DialOptions {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** Race the addresses `lookup` returns (Happy Eyeballs, RFC 8305). */
  readonly autoSelectFamily?: boolean;
  readonly lookup?: LookupFunction;
  /** Half-open: the peer's FIN ends only its direction (relay.ts sets this too). */
  readonly allowHalfOpen?: boolean;
}

/** The error a dial rejects with when its time runs out. */
export class DialTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(host: string, port: number, ms: number) {
    super(`${host}:${port} did not accept the connection within ${ms} ms.`);
  }
}

export const errorCode = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** Connect; resolves with the connected socket (its error listener removed), rejects with a coded error. */
export function dial(options: DialOptions): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({
      host: options.host,
      port: options.port,
      // TCP_NODELAY (node/socket-options.ts): a relay that batches small writes delays every handshake it carries.
      ...DIAL_SOCKET_OPTIONS,
      allowHalfOpen: options.allowHalfOpen ?? false,
      ...(options.autoSelectFamily === undefined ? {} : { autoSelectFamily: options.autoSelectFamily }),
      ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
    });
    const timer = setTimeout(() => {
      socket.off('error', onError);
      socket.destroy();
      reject(new DialTimeoutError(options.host, options.port, options.timeoutMs));
    }, options.timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);

/** A failed dial to a destination as the PinholeError a user sees: timeout, DNS, or refused. */
export function destinationError(err: unknown, target: string, details?: Record<string, unknown>): PinholeError {
  if (err instanceof PinholeError) return err;
  const code = errorCode(err);
  const extra = { details: { target, ...(code === undefined ? {} : { errno: code }), ...details }, cause: err };
  if (code === 'ETIMEDOUT') return new PinholeError('PINHOLE_CONNECT_TIMEOUT', `${target} did not answer in time.`, extra);
  if (code !== undefined && DNS_CODES.has(code)) return new PinholeError('PINHOLE_DNS_FAILED', `${target}: the host name could not be resolved (${code}).`, extra);
  return new PinholeError('PINHOLE_CONNECT_FAILED', `${target}: ${code ?? 'error'}`, extra);
}
