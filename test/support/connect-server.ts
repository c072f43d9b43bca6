/**
 * A small CONNECT proxy over TLS for the client's own tests (the real gateway lives in gateway/):
 * HTTP/2 CONNECT streams and HTTP/1.1 CONNECT on the same port, Basic auth, refusals with a
 * `Pinhole-Error` code, and a count of TLS connections so tests can prove multiplexing.
 */
import { createSecureServer, type Http2SecureServer, type ServerHttp2Stream, type ServerHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { parseEndpoint } from '../../shared/profile.js';

export interface ConnectServer {
  port: number;
  tlsConnections: number;
  streams: number;
  /** Sends GOAWAY on every HTTP/2 session (a gateway shutting down gracefully). */
  goaway(): void;
  /** Destroys every open connection at once: "the gateway vanished". */
  vanish(): void;
  stop(): Promise<void>;
}

export interface ConnectServerOptions {
  cert: string;
  key: string;
  user: string;
  password: string;
  /** Offer only HTTP/1.1 by ALPN (like stunnel + Squid). */
  http1Only?: boolean;
  port?: number;
}

export const startConnectServer = async (options: ConnectServerOptions): Promise<ConnectServer> => {
  const expected = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`;
  const sockets = new Set<Socket>();
  const state = { tlsConnections: 0, streams: 0 };
  const h2Sessions = new Set<ServerHttp2Session>();
  // HTTP/1.1 only: a plain TLS server with no ALPN at all, as stunnel in front of Squid.
  const server: Http2SecureServer | HttpsServer = options.http1Only
    ? createHttpsServer({ cert: options.cert, key: options.key })
    : createSecureServer({ cert: options.cert, key: options.key, allowHTTP1: true, settings: { initialWindowSize: 16 * 1024 * 1024 } });
  server.on('secureConnection', (socket: TLSSocket) => {
    state.tlsConnections += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: ServerHttp2Session) => {
    h2Sessions.add(session);
    session.once('close', () => h2Sessions.delete(session));
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const decide = (authority: string | undefined, auth: string | undefined): { status: number; code?: string; target?: { host: string; port: number } } => {
    if (auth !== expected) return { status: 407, code: auth ? 'PINHOLE_AUTH_REJECTED' : 'PINHOLE_AUTH_MISSING' };
    const target = parseEndpoint(authority ?? '');
    if (!target) return { status: 400, code: 'PINHOLE_BAD_REQUEST' };
    if (target.port === 9) return { status: 403, code: 'PINHOLE_PORT_FORBIDDEN' };
    return { status: 200, target };
  };
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => undefined);
    if (headers[':method'] !== 'CONNECT') {
      stream.respond({ ':status': 405 });
      stream.end();
      return;
    }
    state.streams += 1;
    const verdict = decide(headers[':authority'], headers['proxy-authorization'] as string | undefined);
    if (!verdict.target) {
      stream.respond({ ':status': verdict.status, 'pinhole-error': verdict.code ?? '' }, { endStream: true });
      return;
    }
    const upstream = netConnect(verdict.target);
    upstream.once('connect', () => {
      stream.respond({ ':status': 200 });
      pipeline(stream, upstream, () => undefined);
      pipeline(upstream, stream, () => undefined);
    });
    upstream.once('error', () => {
      if (!stream.headersSent) stream.respond({ ':status': 502, 'pinhole-error': 'PINHOLE_CONNECT_FAILED' }, { endStream: true });
      else stream.destroy();
    });
  });
  server.on('connect', (req: { url?: string; headers: IncomingHttpHeaders }, socket: Socket, head: Buffer) => {
    socket.on('error', () => undefined);
    socket.setMaxListeners(30);
    state.streams += 1;
    const verdict = decide(req.url, req.headers['proxy-authorization'] as string | undefined);
    if (!verdict.target) {
      const extra = verdict.status === 407 ? 'Proxy-Authenticate: Basic realm="test"\r\n' : '';
      socket.end(`HTTP/1.1 ${verdict.status} Refused\r\nPinhole-Error: ${verdict.code}\r\n${extra}Content-Length: 0\r\n\r\n`);
      return;
    }
    // Half-close both ways: a FIN from the client ends only its direction, as on a real gateway.
    socket.allowHalfOpen = true;
    const upstream = netConnect({ ...verdict.target, allowHalfOpen: true });
    upstream.once('connect', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      pipeline(socket, upstream, () => undefined);
      pipeline(upstream, socket, () => undefined);
    });
    upstream.once('error', () => socket.end('HTTP/1.1 502 Bad Gateway\r\nPinhole-Error: PINHOLE_CONNECT_FAILED\r\nContent-Length: 0\r\n\r\n'));
  });
  // Absolute-URI requests over HTTP/1.1 (what the client sends an HTTP/1.1 gateway for plain http://).
  if (options.http1Only) {
    (server as HttpsServer).on('request', (req: IncomingMessage, res: ServerResponse) => {
      // An origin-form request (the client's profile GET): this stand-in for stunnel + Squid has no such page.
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(req.url ?? '')) {
        res.writeHead(404).end();
        return;
      }
      const verdict = decide(req.url ? new URL(req.url).host : undefined, req.headers['proxy-authorization']);
      if (!verdict.target || !req.url) {
        res.writeHead(verdict.status, { 'pinhole-error': verdict.code ?? '' }).end();
        return;
      }
      state.streams += 1;
      const url = new URL(req.url);
      const headers = { ...req.headers };
      delete headers['proxy-authorization'];
      const upstream = httpRequest({ host: verdict.target.host, port: verdict.target.port, method: req.method, path: `${url.pathname}${url.search}`, headers }, (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        pipeline(upstreamRes, res, () => undefined);
      });
      upstream.once('error', () => res.writeHead(502, { 'pinhole-error': 'PINHOLE_CONNECT_FAILED' }).end());
      pipeline(req, upstream, () => undefined);
    });
  }
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;
  return {
    port,
    get tlsConnections() {
      return state.tlsConnections;
    },
    get streams() {
      return state.streams;
    },
    goaway() {
      for (const session of h2Sessions) session.goaway();
    },
    vanish() {
      for (const socket of sockets) socket.destroy();
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
};
