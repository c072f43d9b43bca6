/**
 * The HTTP/2 proxy inside TLS: CONNECT streams (RFC 9113 8.5), many per connection, auth per
 * stream, windows sized for bulk transfer, PING keepalive, GOAWAY on shutdown.
 */
import { constants, createServer, Http2ServerRequest, Http2ServerResponse, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { PinholeError } from '../shared/errors.js';
import { parseEndpoint } from '../shared/profile.js';
import { refusalFor } from '../node/refusal.js';
import { NOT_FOUND_PAGE } from './h1-proxy.js';
import { connectionOf } from './mux/connection.js';
import type { TunnelRequest } from './tunnel-request.js';
import { connectUdpDoor, isConnectUdpRequest } from './udp/connect-udp.js';
import { isProfileRequest, serveProfileRequest, type ProfileHandler } from './profile/handler.js';
import { LISTENER_OPTIONS } from '../node/socket-options.js';

export const H2_STREAM_WINDOW = 16 * 1024 * 1024;
export const H2_SESSION_WINDOW = 64 * 1024 * 1024;
/**
 * Streams (tunnels) one client session may hold open at once. Every tunnel of a client rides one
 * session, so this bounds a client's concurrent tunnels; 1,000 stalled the idle-tunnel figure.
 */
export const H2_MAX_CONCURRENT_STREAMS = 100_000;

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
  /** GET /.well-known/pinhole/profile for an authenticated user (gateway/profile/handler.ts). */
  profile?: ProfileHandler;
}

/** The HTTP/2 door: translates CONNECT streams into tunnel requests. */
export class H2Proxy {
  readonly server: Http2Server;
  readonly sessions = new Set<ServerHttp2Session>();

  constructor(
    private readonly requests: TunnelRequest,
    private readonly options: H2Options = {},
  ) {
    this.server = createServer({
      ...LISTENER_OPTIONS,
      maxSessionMemory: 256,
      settings: {
        initialWindowSize: H2_STREAM_WINDOW,
        maxConcurrentStreams: options.maxStreams ?? H2_MAX_CONCURRENT_STREAMS,
        enablePush: false,
        enableConnectProtocol: true, // RFC 8441 extended CONNECT, for CONNECT-UDP (RFC 9298)
        ...(options.maxHeaderBytes === undefined ? {} : { maxHeaderListSize: options.maxHeaderBytes }),
      },
    });
    this.server.on('session', (session: ServerHttp2Session) => this.onSession(session));
    // CONNECT streams on the stream API (no compat request reading DATA in between); only the web
    // fallback gets the compat request/response pair. No 'request' listener, so node:http2 builds
    // no compat objects for tunnels.
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      if (isConnectUdpRequest(headers)) {
        // UDP (issue 14): CONNECT-UDP streams, one more door of the tunnel request; refused when this gateway carries no UDP.
        if (this.requests.carriesUdp) void this.requests.run(connectUdpDoor(stream, headers, connectionOf(stream.session?.socket), this.requests)).catch(() => stream.destroy());
        else this.refuseUdp(stream);
      } else if (headers[':method'] === 'CONNECT') {
        stream.on('error', () => stream.destroy());
        void this.connect(stream, headers);
      } else this.web(new Http2ServerRequest(stream, headers, {}, rawHeaders), new Http2ServerResponse(stream));
    });
  }

  handle(socket: Socket): void {
    this.server.emit('connection', socket);
  }

  /** Every non-CONNECT request: the profile route for an authenticated user, else the web fallback. */
  private web(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const web = this.options.web ?? h2NotFound;
    const profile = this.options.profile;
    if (!profile || !isProfileRequest(req)) return web(req, res);
    const client = connectionOf(req.stream.session?.socket).client;
    void serveProfileRequest(req, res, { authenticate: (header) => this.requests.authenticate(header, client), handler: profile, fallback: (r, s) => web(r as Http2ServerRequest, s as Http2ServerResponse) });
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
    // A PING still unanswered a whole interval later: the client is gone, or the connection is no
    // longer read; the session and its socket end rather than stay held (issue 28 item 8).
    let unanswered = false;
    const timer = setInterval(() => {
      if (session.closed || session.destroyed) return;
      if (unanswered) {
        session.destroy();
        return;
      }
      unanswered = true;
      const sent = session.ping((err) => {
        unanswered = false;
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

  private refuseUdp(stream: ServerHttp2Stream): void {
    stream.on('error', () => stream.destroy());
    respondRefusal(stream, new PinholeError('PINHOLE_BAD_REQUEST', 'This gateway does not carry UDP.'), undefined);
  }

  private connect(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const authority = String(headers[':authority'] ?? '');
    const auth = headers['proxy-authorization'];
    return this.requests.run({
      proto: 'h2',
      method: 'CONNECT',
      kind: 'connect',
      connection: connectionOf(stream.session?.socket),
      credentials: Array.isArray(auth) ? auth[0] : auth,
      targetText: authority,
      target: () => {
        const target = parseEndpoint(authority);
        if (target === undefined || headers[':protocol'] !== undefined) throw new PinholeError('PINHOLE_BAD_REQUEST', 'CONNECT needs :authority host:port.');
        return target;
      },
      gone: () => stream.destroyed || stream.closed,
      // END_STREAM from the client is a FIN to the destination and the other way round; an error
      // or reset on either side tears both down.
      answer: () => {
        stream.respond({ ':status': 200 });
        return stream;
      },
      refuse: (error, user) => {
        if (!stream.destroyed && !stream.closed) respondRefusal(stream, error, user);
      },
      abort: () => {
        if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      },
    });
  }
}

/** A refusal on a stream: with the code for an authenticated `user`, plain for a stranger (node/refusal.ts). */
function respondRefusal(stream: ServerHttp2Stream, error: PinholeError, user: string | undefined): void {
  const { status, headers, body } = refusalFor(error, user);
  const { 'content-length': _length, ...headersOut } = headers;
  stream.respond({ ':status': status, ...headersOut });
  stream.end(body);
}
