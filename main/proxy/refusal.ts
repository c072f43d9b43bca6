/**
 * How the local proxy says no: the status an application sees (main/error-meaning.ts), a
 * `Pinhole-Error` header with the code, and the sentence as a text body, on a raw socket (a
 * CONNECT, an unreadable request) or as the answer to a forwarded request.
 */
import type { ServerResponse } from 'node:http';
import { ERRORS, PinholeError, type ErrorCode } from '../../shared/errors.js';
import { statusForApplication } from '../error-meaning.js';
import type { RouteDecision } from '../routing.js';

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 408: 'Request Timeout', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

/** A whole HTTP/1.1 refusal that closes the connection, for a socket the HTTP server no longer answers on. */
export const refusalHead = (code: ErrorCode, message: string = ERRORS[code].sentence): string => {
  const status = statusForApplication(code);
  const body = `${message}\n`;
  return (
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nPinhole-Error: ${code}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
};

/** The refusal as the answer to an absolute-URI request. */
export const answerRefusal = (res: ServerResponse, err: PinholeError): void => {
  const body = `${err.message}\n`;
  res.writeHead(statusForApplication(err.code), { 'pinhole-error': err.code, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

/** A block as an error: its code says whose rule it was, the message names the app (when known) and the destination. */
export const blockRefusal = (decision: Extract<RouteDecision, { route: 'block' }>, target: string): PinholeError =>
  new PinholeError(decision.code, `${ERRORS[decision.code].sentence} (${decision.app ? `${decision.app} -> ` : ''}${target})`, {
    details: { rule: decision.rule, ...(decision.app ? { app: decision.app } : {}) },
  });
