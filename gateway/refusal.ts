/** How a refusal looks on the wire: status, `Pinhole-Error` code, a short text body. */
import { STATUS_CODES } from 'node:http';
import { PinholeError, type ErrorCode } from '../shared/errors.js';

export const ERROR_HEADER = 'Pinhole-Error';
export const AUTH_CHALLENGE = 'Basic realm="Pinhole"';

export const asPinholeError = (err: unknown): PinholeError =>
  err instanceof PinholeError ? err : new PinholeError('PINHOLE_INTERNAL', undefined, { cause: err });

/** The whole HTTP/1.1 response for a refusal (connection closes after it). */
export function refusalBytes(code: ErrorCode, status: number, sentence: string): string {
  const body = `${status} ${code}: ${sentence}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `${ERROR_HEADER}: ${code}\r\n` +
    (status === 407 ? `Proxy-Authenticate: ${AUTH_CHALLENGE}\r\n` : '') +
    `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

export const refusalOf = (err: PinholeError): string => refusalBytes(err.code, err.status, err.message);
