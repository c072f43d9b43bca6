/**
 * `GET /.well-known/pinhole/profile` inside the gateway's TLS: the authenticated user's current
 * profile document, with a strong ETag so a client that already has it gets a 304. Works with
 * both node:http (HTTP/1.1) and the node:http2 compatibility API (the proxies' request events).
 *
 * A request without any credentials is handed to the web fallback, so to an unauthenticated
 * prober the path looks like the rest of the web site; wrong credentials get a plain 401 with a
 * Basic challenge, as any web server's protected page (nothing more for a client not signed in).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from '../../shared/log.js';
import { PROFILE_DOCUMENT_PATH, PROFILE_DOCUMENT_TYPE, type ProfileDocument } from '../../shared/profile-document.js';
import { ERROR_HEADER, plainBody } from '../../node/refusal.js';
import { serializeProfileDocument } from './profile-document.js';
import { principalOf, type Principal } from '../auth/principal.js';

export type ProfileHttpRequest = IncomingMessage | Http2ServerRequest;
export type ProfileHttpResponse = ServerResponse | Http2ServerResponse;
export type ProfileHandler = (req: ProfileHttpRequest, res: ProfileHttpResponse, user: string) => void;

/** True for the profile path in origin form (any query ignored); absolute-URI proxy requests never match. */
export const isProfileRequest = (req: { url?: string | undefined }): boolean => (req.url ?? '').split('?')[0] === PROFILE_DOCUMENT_PATH;

/** The user's Basic credentials: `Authorization` (origin request), else `Proxy-Authorization` (what the tunnel sends). */
export const profileCredentials = (headers: IncomingHttpHeaders): string | undefined => {
  const value = headers.authorization ?? headers['proxy-authorization'];
  return Array.isArray(value) ? value[0] : value;
};

/** If-None-Match against our ETag (RFC 9110 13.1.2: weak comparison, `*`, a list). */
export const etagMatches = (header: string | string[] | undefined, etag: string): boolean => {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text.trim() === '*') return true;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  return text.split(',').some((tag) => opaque(tag) === opaque(etag));
};

const writePlain = (res: ProfileHttpResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void => {
  const body = `${status} ${code}: ${message}\n`;
  res.writeHead(status, { [ERROR_HEADER]: code, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', ...extra });
  res.end(body);
};

/** Serves `documentFor(user)` to an already authenticated user. */
export const createProfileHandler =
  (documentFor: (user: string) => ProfileDocument, logger: Logger): ProfileHandler =>
  (req, res, user) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      writePlain(res, 405, 'PINHOLE_BAD_REQUEST', 'Only GET and HEAD are served here.', { allow: 'GET, HEAD' });
      return;
    }
    let served: { body: string; etag: string };
    try {
      served = serializeProfileDocument(documentFor(user));
    } catch (err) {
      logger.error({ err, user, code: 'PINHOLE_CONFIG_INVALID' }, 'The profile document could not be built; check endpoints, certificates and profile settings in the configuration.');
      writePlain(res, 500, 'PINHOLE_INTERNAL', 'The profile is not available.');
      return;
    }
    const headers = { etag: served.etag, 'cache-control': 'private, no-cache' };
    if (etagMatches(req.headers['if-none-match'], served.etag)) {
      res.writeHead(304, headers);
      res.end();
      logger.debug({ user, etag: served.etag }, 'A client checked its profile: unchanged.');
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': PROFILE_DOCUMENT_TYPE, 'content-length': String(Buffer.byteLength(served.body)) });
    if (req.method === 'HEAD') res.end();
    else res.end(served.body);
    logger.info({ user, etag: served.etag }, 'A client fetched its profile.');
  };

export interface ProfileRouteDeps {
  /** The gateway's own check: resolves to the user name or throws PINHOLE_AUTH_*. */
  authenticate: (header: string | undefined) => Promise<string | Principal>;
  handler: ProfileHandler;
  /** What everyone else gets on any path (the web fallback or the 404 page). */
  fallback: (req: ProfileHttpRequest, res: ProfileHttpResponse) => void;
}

/** The whole route: no credentials -> fallback; wrong ones -> a plain 401; right ones -> the document. */
export const serveProfileRequest = async (req: ProfileHttpRequest, res: ProfileHttpResponse, deps: ProfileRouteDeps): Promise<void> => {
  const credentials = profileCredentials(req.headers);
  if (credentials === undefined || credentials.trim() === '') {
    deps.fallback(req, res);
    return;
  }
  let user: string;
  try {
    user = principalOf(await deps.authenticate(credentials)).name;
  } catch {
    const body = plainBody(401);
    res.writeHead(401, { 'content-type': 'text/html', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', 'www-authenticate': 'Basic realm="restricted"' });
    res.end(body);
    return;
  }
  deps.handler(req, res, user);
};
