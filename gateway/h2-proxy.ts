/**
 * The HTTP/2 proxy inside TLS: CONNECT streams (RFC 9113 8.5), many per connection, auth per
 * stream, windows sized for bulk transfer, PING keepalive, GOAWAY on shutdown.
 */
import { constants, createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { PinholeError } from '../shared/errors.js';
import { formatEndpoint, parseEndpoint } from '../shared/profile.js';
import { NOT_FOUND_PAGE } from './h1-proxy.js';
import type { ProxyDeps } from './proxy-deps.js';
import { AUTH_CHALLENGE, asPinholeError, retryAfterOf } from './refusal.js';

export const H2_STREAM_WINDOW = 16 * 1024 * 1024;
export const H2_SESSION_WINDOW = 64 * 1024 * 1024;
/**
 * Streams (tunnels) one client session may hold open at once. Every tunnel of a client rides one
 * session, so this bounds a client's concurrent tunnels; 1,000 stalled the idle-tunnel figure.
 */
export const H2_MAX_CONCURRENT_STREAMS = 100_000;
/** How long a tunnel whose destination closed waits for the client to finish its side. */
export const H2_CLOSE_GRACE_MS = 5_000;

export type H2Fallback = (req: Http2ServerRequest, res: Http2ServerResponse) => void;

export const h2NotFound: H2Fallback = (_req, res) => {
  res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
  res.end(NOT_FOUND_PAGE);
};

export interface H2Options {
  readonly pingIntervalMs?: number;
  /** Concurrent streams per session (SETTINGS_MAX_CONCURRENT_STREAMS); default H2_MAX_CONCURRENT_STREAMS. */
  readonly maxStreams?: number;
  /** The largest header list a client may send (SETTINGS_MAX_HEADER_LIST_SIZE). */
  readonly maxHeaderBytes?: number;
  web?: H2Fallback;
}

export class H2Proxy {
  readonly server: Http2Server;
  readonly sessions = new Set<ServerHttp2Session>();

  constructor(
    private readonly deps: ProxyDeps,
    private readonly options: H2Options = {},
  ) {
    this.server = createServer({
      maxSessionMemory: 256,
      settings: {
        initialWindowSize: H2_STREAM_WINDOW,
        maxConcurrentStreams: options.maxStreams ?? H2_MAX_CONCURRENT_STREAMS,
        enablePush: false,
        ...(options.maxHeaderBytes === undefined ? {} : { maxHeaderListSize: options.maxHeaderBytes }),
      },
    });
    this.server.on('session', (session: ServerHttp2Session) => this.onSession(session));
    // The compat layer hands CONNECT streams to 'connect' and everything else to 'request'.
    this.server.on('connect', (req: Http2ServerRequest) => this.onConnect(req));
    this.server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => (this.options.web ?? h2NotFound)(req, res));
  }

  handle(socket: Socket): void {
    this.server.emit('connection', socket);
  }

  /** GOAWAY to every session: no new streams, open ones finish. */
  goaway(): void {
    for (const session of this.sessions) if (!session.closed) session.close();
  }

  private onSession(session: ServerHttp2Session): void {
    this.sessions.add(session);
    session.on('error', () => session.destroy());
    session.once('localSettings', () => {
      try {
        session.setLocalWindowSize(H2_SESSION_WINDOW);
      } catch {
        // The session died before its settings were acknowledged.
      }
    });
    const interval = this.options.pingIntervalMs ?? 30_000;
    const timer = setInterval(() => {
      if (session.closed || session.destroyed) return;
      const sent = session.ping((err) => {
        if (err !== null && !session.destroyed) session.destroy();
      });
      if (!sent) session.destroy();
    }, interval);
    timer.unref();
    session.once('close', () => {
      clearInterval(timer);
      this.sessions.delete(session);
    });
  }

  private onConnect(req: Http2ServerRequest): void {
    req.stream.on('error', () => req.stream.destroy());
    void this.connect(req.stream, req.headers, req);
  }

  /** `body` is the readable side: the compat request already reads the stream's DATA, so read through it. */
  private async connect(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: Http2ServerRequest): Promise<void> {
    const started = Date.now();
    const info = this.deps.connInfo(stream.session?.socket as Socket);
    const authority = String(headers[':authority'] ?? '');
    let user: string | undefined;
    try {
      const auth = headers['proxy-authorization'];
      user = await this.deps.authenticate(Array.isArray(auth) ? auth[0] : auth, info.client);
      const target = parseEndpoint(authority);
      if (target === undefined || headers[':protocol'] !== undefined) throw new PinholeError('PINHOLE_BAD_REQUEST', 'CONNECT needs :authority host:port.');
      this.deps.admitTunnel(user, info.client);
      const upstream = await this.deps.openUpstream(target, 'connect');
      if (stream.destroyed || stream.closed) {
        upstream.destroy();
        return;
      }
      const untrack = this.deps.trackTunnel(() => {
        upstream.destroy();
        stream.close(constants.NGHTTP2_CANCEL);
      }, { user, client: info.client });
      stream.respond({ ':status': 200 });
      body.pipe(upstream);
      upstream.pipe(stream);
      upstream.on('error', () => {
        if (!stream.closed) stream.close(constants.NGHTTP2_CONNECT_ERROR);
      });
      let closed = 0;
      const onClose = (): void => {
        if (++closed === 1) return;
        untrack();
        this.deps.accessLog({ user, target: formatEndpoint(target), method: 'CONNECT', status: 200, bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, durationMs: Date.now() - started, proto: 'h2', ...info });
      };
      stream.once('close', () => {
        upstream.destroy();
        onClose();
      });
      upstream.once('close', () => {
        // The destination is gone: finish our side, and keep reading the client's side (the pipe
        // stopped reading when the destination closed), or the stream never sees END_STREAM and
        // never closes. A client that never finishes its side is reset after a grace period.
        body.unpipe(upstream);
        body.resume();
        if (!stream.closed && !stream.writableEnded) stream.end();
        const grace = setTimeout(() => {
          if (!stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
        }, H2_CLOSE_GRACE_MS);
        grace.unref();
        stream.once('close', () => clearTimeout(grace));
        onClose();
      });
    } catch (err) {
      const error = asPinholeError(err);
      this.deps.accessLog({ user, target: authority, method: 'CONNECT', status: error.status, code: error.code, bytesUp: 0, bytesDown: 0, durationMs: Date.now() - started, proto: 'h2', ...info });
      if (stream.destroyed || stream.closed) return;
      const body = `${error.status} ${error.code}: ${error.message}\n`;
      stream.respond({
        ':status': error.status,
        'pinhole-error': error.code,
        'content-type': 'text/plain; charset=utf-8',
        ...(error.status === 407 ? { 'proxy-authenticate': AUTH_CHALLENGE } : {}),
        ...(retryAfterOf(error) === undefined ? {} : { 'retry-after': String(retryAfterOf(error)) }),
      });
      stream.end(body);
    }
  }
}
