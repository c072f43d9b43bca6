/**
 * How a refusal looks on the wire, written and read in one place: the status, the `Pinhole-Error`
 * header with the stable code, the Basic challenge on a 407, and a short text body. The gateway
 * (HTTP/1.1, HTTP/2, WebSocket upgrades) and the client's local proxy write it; the client's
 * transports read a gateway's (or Squid's bare) refusal back into a PinholeError.
 *
 * A gateway says nothing about itself to a client that has not authenticated (a prober, a
 * scanner, a wrong password): it gets what an ordinary web server or proxy answers, a status with
 * a bare page and, on 407, a Basic challenge as Squid sends it; no code, no product words
 * (`refusalFor`). The client knows what it sent, so a plain 407 still reads as "wrong password".
 */
import { STATUS_CODES } from 'node:http';
import { codeForStatus, isErrorCode, PinholeError, type ErrorCode } from '../shared/errors.js';
import { ERROR_HEADER } from '../shared/ws-tunnel.js';

export { ERROR_HEADER };
/**
 * A policy refusal's sentence (the rule and the flag that changes it, gateway/policy.ts) for an
 * authenticated user, so the client's own 403 says it too. ASCII, one line.
 */
export const REASON_HEADER = 'Pinhole-Reason';

/** The reason header for a refusal that names a policy rule, else nothing. */
const reasonHeader = (err: PinholeError): Record<string, string> =>
  typeof err.details?.['rule'] === 'string' && /^[\x20-\x7e]+$/.test(err.message) ? { [REASON_HEADER.toLowerCase()]: err.message } : {};
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

/** The challenge a gateway sends a stranger: Basic, as Squid's, with a realm that names nothing. */
export const PLAIN_CHALLENGE = 'Basic realm="proxy"';

/** The page an ordinary web server sends with an error status (nginx's, without the server's name). */
export const plainBody = (status: number): string => {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`;
};

/** Response headers for a stranger's refusal: the status's page, the challenge on 407, Retry-After when there is one. */
export function plainRefusalHeaders(err: PinholeError, body = plainBody(err.status)): Record<string, string | number> {
  return {
    'content-type': 'text/html',
    'content-length': Buffer.byteLength(body),
    ...(err.status === 407 ? { 'proxy-authenticate': PLAIN_CHALLENGE } : {}),
    ...retryAfterHeader(err),
  };
}

/** A stranger's refusal written straight to a socket (the connection closes after it). */
export function plainRefusalHead(err: PinholeError): string {
  const body = plainBody(err.status);
  let head = `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n`;
  if (err.status === 407) head += `Proxy-Authenticate: ${PLAIN_CHALLENGE}\r\n`;
  const retryAfter = retryAfterOf(err);
  if (retryAfter !== undefined) head += `Retry-After: ${retryAfter}\r\n`;
  return `${head}Content-Type: text/html\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** A gateway's refusal as status, headers and body: with the code for an authenticated `user`, plain for a stranger. */
export function refusalFor(err: PinholeError, user: string | undefined): { status: number; headers: Record<string, string | number>; body: string } {
  if (user === undefined) {
    const body = plainBody(err.status);
    return { status: err.status, headers: plainRefusalHeaders(err, body), body };
  }
  const body = refusalBody(err);
  return { status: err.status, headers: refusalHeaders(err, body), body };
}

/** `refusalFor` as a whole HTTP/1.1 response for a socket. */
export const refusalHeadFor = (err: PinholeError, user: string | undefined): string => (user === undefined ? plainRefusalHead(err) : refusalHead(err));

/** The body of a refusal: one line a person can read, with the code a script can match. */
export const refusalBody = (err: PinholeError): string => `${err.status} ${err.code}: ${err.message}\n`;

/** Response headers for a refusal (node:http `writeHead` or an HTTP/2 `respond`, names lower-case). */
export function refusalHeaders(err: PinholeError, body = refusalBody(err)): Record<string, string | number> {
  return {
    [ERROR_HEADER.toLowerCase()]: err.code,
    ...reasonHeader(err),
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
  for (const [name, value] of Object.entries(reasonHeader(err))) head += `${name}: ${value}\r\n`;
  if (err.status === 407) head += `Proxy-Authenticate: ${AUTH_CHALLENGE}\r\n`;
  const retryAfter = retryAfterOf(err);
  if (retryAfter !== undefined) head += `Retry-After: ${retryAfter}\r\n`;
  return `${head}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** 407s about a signed-in user's tunnel credential (issue 18), which the client acts on by code. */
const CREDENTIAL_REFUSALS: ReadonlySet<ErrorCode> = new Set(['PINHOLE_CREDENTIAL_EXPIRED', 'PINHOLE_CREDENTIAL_INVALID', 'PINHOLE_CREDENTIAL_REVOKED']);

/**
 * A proxy's refusal (status + Pinhole-Error header, or Squid's bare status) as a PinholeError.
 * Pure, so the same mapping serves HTTP/1.1 replies, HTTP/2 response headers and WebSocket upgrades.
 */
export function refusalError(status: number, pinholeError: string | undefined, user: string, target: string, reason?: string | string[]): PinholeError {
  let code: ErrorCode = isErrorCode(pinholeError) ? pinholeError : status === 503 ? 'PINHOLE_CONNECT_FAILED' : codeForStatus(status);
  // We always send credentials, so "missing" from the gateway's point of view means "not accepted"
  // (a gateway tells a client whose credentials it did not accept nothing more than the status).
  // A tunnel credential's refusal keeps its code: expired (renew), revoked (stop, sign in again).
  if (status === 407 && !CREDENTIAL_REFUSALS.has(code)) code = 'PINHOLE_AUTH_REJECTED';
  const said = Array.isArray(reason) ? reason[0] : reason;
  const policy = (code === 'PINHOLE_DEST_FORBIDDEN' || code === 'PINHOLE_PORT_FORBIDDEN') && said !== undefined && said !== '' ? `The gateway refused: ${said}` : undefined;
  const message = code === 'PINHOLE_AUTH_REJECTED' ? `The gateway rejected the user name or password for ${user}.` : policy;
  return new PinholeError(code, message, { details: { status, target, user } });
}
