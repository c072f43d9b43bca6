/** How a refusal looks on the wire: status, `Pinhole-Error` code, a short text body. */
import { STATUS_CODES } from 'node:http';
import { PinholeError, type ErrorCode } from '../shared/errors.js';

export const ERROR_HEADER = 'Pinhole-Error';
export const AUTH_CHALLENGE = 'Basic realm="Pinhole"';

export const asPinholeError = (err: unknown): PinholeError =>
  err instanceof PinholeError ? err : new PinholeError('PINHOLE_INTERNAL', undefined, { cause: err });

/** Seconds a throttled or busy client should wait (429/503 answers carry them as Retry-After). */
export const retryAfterOf = (err: PinholeError): number | undefined => {
  const seconds = err.details?.['retryAfterSeconds'];
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : undefined;
};

/** `{ 'Retry-After': N }` when the refusal has one, for header objects. */
export const retryAfterHeader = (err: PinholeError): Record<string, string> => {
  const seconds = retryAfterOf(err);
  return seconds === undefined ? {} : { 'Retry-After': String(seconds) };
};

/** The whole HTTP/1.1 response for a refusal (connection closes after it). */
export function refusalBytes(code: ErrorCode, status: number, sentence: string, retryAfterSeconds?: number): string {
  const body = `${status} ${code}: ${sentence}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `${ERROR_HEADER}: ${code}\r\n` +
    (status === 407 ? `Proxy-Authenticate: ${AUTH_CHALLENGE}\r\n` : '') +
    (retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`) +
    `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

export const refusalOf = (err: PinholeError): string => refusalBytes(err.code, err.status, err.message, retryAfterOf(err));
