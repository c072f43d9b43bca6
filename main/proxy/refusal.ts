/**
 * How the local proxy says no: node/refusal.ts's wire format (the `Pinhole-Error` header with the
 * code, a one-line text body), at the status the application sees (main/error-meaning.ts: a
 * gateway's 407 reaches the application as 502, without a challenge it could not answer), on a raw
 * socket (a CONNECT, an unreadable request) or as the answer to a forwarded request.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { ERRORS, PinholeError } from '../../shared/errors.js';
import { refusalHeaders } from '../../node/refusal.js';
import { statusForApplication } from '../error-meaning.js';
import type { RouteDecision } from '../routing.js';
import { LOCAL_PROXY_AUTHENTICATE } from '../lan/local-users.js';

interface Answer {
  status: number;
  headers: Record<string, string | number>;
  body: string;
}

const answerFor = (err: PinholeError): Answer => {
  const status = statusForApplication(err.code);
  const body = `${status} ${err.code}: ${err.message}\n`;
  const { 'proxy-authenticate': _challenge, ...headers } = refusalHeaders(err, body);
  // The LAN box's own --local-users challenge is one the terminal can answer.
  if (status === 407) headers['proxy-authenticate'] = LOCAL_PROXY_AUTHENTICATE;
  return { status, headers, body };
};

/** A whole HTTP/1.1 refusal that closes the connection, for a socket the HTTP server no longer answers on. */
export const refusalHead = (err: PinholeError): string => {
  const { status, headers, body } = answerFor(err);
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${lines.join('')}connection: close\r\n\r\n${body}`;
};

/** The refusal as the answer to an absolute-URI request. */
export const answerRefusal = (res: ServerResponse, err: PinholeError): void => {
  const { status, headers, body } = answerFor(err);
  res.writeHead(status, headers);
  res.end(body);
};

/** A block as an error: its code says whose rule it was, the message names the app (when known) and the destination. */
export const blockRefusal = (decision: Extract<RouteDecision, { route: 'block' }>, target: string): PinholeError =>
  new PinholeError(decision.code, `${ERRORS[decision.code].sentence} (${decision.app ? `${decision.app} -> ` : ''}${target})`, {
    details: { rule: decision.rule, ...(decision.app ? { app: decision.app } : {}) },
  });
