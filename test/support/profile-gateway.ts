/**
 * The gateway's real profile route (gateway/profile/handler.ts) on a TLS server on 127.0.0.1,
 * HTTP/2 and HTTP/1.1 by ALPN like the gateway, until the route is wired into the gateway itself.
 * `setSource` is the operator editing the configuration (an endpoint added, a next certificate).
 */
import { once } from 'node:events';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createProfileHandler, isProfileRequest, serveProfileRequest } from '../../gateway/profile/handler.js';
import { buildProfileDocument, type ProfileSource } from '../../gateway/profile/profile-document.js';
import { parseBasicAuth } from '../../gateway/users.js';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';

export interface ProfileGateway {
  port: number;
  /** Profile requests that reached the route (any answer). */
  requests: () => number;
  setSource: (source: ProfileSource) => void;
  stop: () => Promise<void>;
}

export interface ProfileGatewayOptions {
  cert: string;
  key: string;
  source: ProfileSource;
  /** user -> password */
  users: Record<string, string>;
}

export const startProfileGateway = async (options: ProfileGatewayOptions): Promise<ProfileGateway> => {
  let source = options.source;
  let requests = 0;
  const handler = createProfileHandler((user) => buildProfileDocument(source, user), createLogger({ name: 'profile-gateway', level: 'silent' }));
  const authenticate = async (header: string | undefined): Promise<string> => {
    const creds = parseBasicAuth(header);
    if (creds === undefined || options.users[creds.user] !== creds.password) throw new PinholeError('PINHOLE_AUTH_REJECTED');
    return creds.user;
  };
  const notFound = (_req: unknown, res: Http2ServerResponse): void => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  };
  const server: Http2SecureServer = createSecureServer({ cert: options.cert, key: options.key, allowHTTP1: true }, (req: Http2ServerRequest, res: Http2ServerResponse) => {
    if (!isProfileRequest(req)) return notFound(req, res);
    requests += 1;
    void serveProfileRequest(req, res, { authenticate, handler, fallback: (r, s) => notFound(r, s as Http2ServerResponse) });
  });
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('error', () => undefined);
    session.once('close', () => sessions.delete(session));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => requests,
    setSource: (next) => {
      source = next;
    },
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Idle HTTP/2 sessions would hold the server open.
        for (const session of sessions) session.destroy();
      }),
  };
};
