/**
 * How a refusal looks on the wire, written and read in one place: the status, the `Pinhole-Error`
 * header with the stable code, the Basic challenge on a 407, and a short text body. The gateway
 * (HTTP/1.1, HTTP/2, WebSocket upgrades) and the client's local proxy write it; the client's
 * transports read a gateway's (or Squid's bare) refusal back into a PinholeError.
 */
import { STATUS_CODES } from 'node:http';
import { codeForStatus, isErrorCode, PinholeError, type ErrorCode } from '../shared/errors.js';
import { ERROR_HEADER } from '../shared/ws-tunnel.js';

export { ERROR_HEADER };
export const AUTH_CHALLENGE = 'Basic realm="Pinhole"';

export const asPinholeError = (err: unknown, fallback: ErrorCode = 'PINHOLE_INTERNAL'): PinholeError =>
  err instanceof PinholeError ? err : new PinholeError(fallback, undefined, { cause: err });

/** Seconds a throttled or busy client should wait (429/503 answers carry them as `Retry-After`). */
export const retryAfterOf = (err: PinholeError): number | undefined => {
  const seconds = err.details?.['retryAfterSeconds'];
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : undefined;
};

/** `{ 'retry-after': N }` when the refusal has one, for header objects. */
export const retryAfterHeader = (err: PinholeError): Record<string, string> => {
  const seconds = retryAfterOf(err);
  return seconds === undefined ? {} : { 'retry-after': String(seconds) };
};

/** The body of a refusal: one line a person can read, with the code a script can match. */
export const refusalBody = (err: PinholeError): string => `${err.status} ${err.code}: ${err.message}\n`;

/** Response headers for a refusal (node:http `writeHead` or an HTTP/2 `respond`, names lower-case). */
export function refusalHeaders(err: PinholeError, body = refusalBody(err)): Record<string, string | number> {
  return {
    [ERROR_HEADER.toLowerCase()]: err.code,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(err.status === 407 ? { 'proxy-authenticate': AUTH_CHALLENGE } : {}),
    ...retryAfterHeader(err),
  };
}

/** The whole HTTP/1.1 response for a refusal written straight to a socket (the connection closes after it). */
export function refusalHead(err: PinholeError): string {
  const body = refusalBody(err);
  let head = `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n${ERROR_HEADER}: ${err.code}\r\n`;
  if (err.status === 407) head += `Proxy-Authenticate: ${AUTH_CHALLENGE}\r\n`;
  const retryAfter = retryAfterOf(err);
  if (retryAfter !== undefined) head += `Retry-After: ${retryAfter}\r\n`;
  return `${head}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * A proxy's refusal (status + Pinhole-Error header, or Squid's bare status) as a PinholeError.
 * Pure, so the same mapping serves HTTP/1.1 replies, HTTP/2 response headers and WebSocket upgrades.
 */
export function refusalError(status: number, pinholeError: string | undefined, user: string, target: string): PinholeError {
  let code: ErrorCode = isErrorCode(pinholeError) ? pinholeError : status === 503 ? 'PINHOLE_CONNECT_FAILED' : codeForStatus(status);
  // We always send credentials, so "missing" from the gateway's point of view means "not accepted".
  if (status === 407) code = 'PINHOLE_AUTH_REJECTED';
  const message = code === 'PINHOLE_AUTH_REJECTED' ? `The gateway rejected the user name or password for ${user}.` : undefined;
  return new PinholeError(code, message, { details: { status, target, user } });
}
