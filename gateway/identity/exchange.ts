/**
 * `POST /pinhole/credential` inside the gateway's TLS (issue 18): an identity provider's ID or
 * access token in `Authorization: Bearer`, a tunnel credential out, as JSON
 * `{ credential, expiresAt, user }` (expiresAt in ISO 8601). Served through the web fallback's
 * place in both the HTTP/1.1 and the HTTP/2 door, as the profile route is: a request without a
 * Bearer token is the web site's, so to a prober the path looks like any other.
 * Refusals carry `Pinhole-Error` (the caller presented a token: it is a client, not a scanner).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { asPinholeError, refusalBody, refusalHeaders } from '../../node/refusal.js';
import { tunnelUserOf, type TunnelCredentials } from './credentials.js';
import type { IdentityVerifier } from './issuers.js';

export const CREDENTIAL_PATH = '/pinhole/credential';

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;
export type WebHandler<Req extends AnyRequest, Res extends AnyResponse> = (req: Req, res: Res) => void;

/** `Bearer TOKEN` -> TOKEN (RFC 6750: the scheme is case-insensitive). */
export const bearerTokenOf = (header: string | string[] | undefined): string | undefined => {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value === undefined ? null : /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(value);
  return match?.[1];
};

const isCredentialRequest = (req: AnyRequest): boolean => (req.url ?? '').split('?')[0] === CREDENTIAL_PATH;

const write = (res: AnyResponse, status: number, headers: Record<string, string | number>, body: string): void => {
  res.writeHead(status, { 'cache-control': 'no-store', ...headers });
  res.end(body);
};

export interface ExchangeDeps {
  readonly verifier: IdentityVerifier;
  readonly credentials: TunnelCredentials;
  readonly logger: Logger;
}

/** The exchange itself, for a request already known to be ours. */
export async function exchangeToken(req: AnyRequest, res: AnyResponse, deps: ExchangeDeps): Promise<void> {
  try {
    if (req.method !== 'POST') throw new PinholeError('PINHOLE_BAD_REQUEST', 'Only POST is served here, with the sign-in token in Authorization: Bearer.');
    const token = bearerTokenOf(req.headers.authorization);
    if (token === undefined) throw new PinholeError('PINHOLE_IDENTITY_TOKEN_INVALID');
    const identity = await deps.verifier.verify(token);
    const issued = await deps.credentials.issue(identity);
    const user = tunnelUserOf(identity);
    const body = `${JSON.stringify({ credential: issued.credential, expiresAt: new Date(issued.expiresAt).toISOString(), user })}\n`;
    write(res, 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, body);
    deps.logger.info({ user, subject: identity.subject, issuer: identity.issuer, expiresAt: new Date(issued.expiresAt).toISOString() }, 'A user signed in with their identity provider and got a tunnel credential.');
  } catch (err) {
    const error = asPinholeError(err);
    const body = refusalBody(error);
    write(res, error.status, { ...refusalHeaders(error, body), ...(error.status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {}) }, body);
    const facts = { code: error.code, issuer: error.details?.['issuer'], reason: error.cause instanceof Error ? error.cause.message : undefined };
    if (error.code === 'PINHOLE_IDENTITY_ISSUER_UNREACHABLE') deps.logger.warn(facts, 'A sign-in could not be checked: the identity provider did not answer.');
    else deps.logger.info(facts, 'A sign-in token was refused.');
  }
}

/** The web fallback with the exchange in front of it: a POST to the path with a Bearer token is ours, everything else the web's. */
export const withCredentialExchange =
  <Req extends AnyRequest, Res extends AnyResponse>(web: WebHandler<Req, Res>, deps: ExchangeDeps): WebHandler<Req, Res> =>
  (req, res) => {
    if (isCredentialRequest(req) && req.headers.authorization !== undefined) void exchangeToken(req, res, deps);
    else web(req, res);
  };
