/**
 * The HTTP/1.1 proxy inside TLS: CONNECT host:port and absolute-URI requests with Basic
 * Proxy-Authorization, WebSocket tunnels, and a replaceable web fallback for everything else.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { PinholeError } from '../shared/errors.js';
import { formatEndpoint, parseEndpoint } from '../shared/profile.js';
import { connectionOf } from './mux/connection.js';
import { isProfileRequest, serveProfileRequest, type ProfileHandler } from './profile/handler.js';
import { plainRefusalHead, refusalFor, refusalHeadFor } from '../node/refusal.js';
import type { ExchangeOutcome, TunnelRequest } from './tunnel-request.js';
import { handleTunnelUpgrade, isTunnelUpgrade } from './ws-tunnel.js';
import { isUdpUpgrade, udpWebSocketDoor } from './udp/connect-udp.js';
import { LISTENER_OPTIONS } from '../node/socket-options.js';
import { EARLY_DATA_HEADER } from '../shared/early-data.js';

const ESTABLISHED = `HTTP/1.1 200 Connection Established\r\n${EARLY_DATA_HEADER}: 1\r\n\r\n`;

export type WebFallback = (req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeFallback = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export const NOT_FOUND_PAGE =
  '<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n';

export const notFoundFallback: WebFallback = (_req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(NOT_FOUND_PAGE) });
  res.end(NOT_FOUND_PAGE);
};

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Drop hop-by-hop headers and those named in Connection. Pure. */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ''),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || name.startsWith('proxy-')) continue;
    out[name] = value;
  }
  return out;
}

export interface H1Options {
  readonly headerTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly wsPath?: string;
  web?: WebFallback;
  upgrade?: UpgradeFallback;
  /** GET /.well-known/pinhole/profile for an authenticated user (gateway/profile/handler.ts). */
  profile?: ProfileHandler;
}

/** The HTTP/1.1 door: translates CONNECT, absolute-URI requests and WebSocket upgrades into tunnel requests. */
export class H1Proxy {
  readonly server: Server;

  constructor(
    private readonly requests: TunnelRequest,
    private readonly options: H1Options,
  ) {
    this.server = createServer({
      ...LISTENER_OPTIONS,
      maxHeaderSize: options.maxHeaderBytes,
      headersTimeout: options.headerTimeoutMs,
      requestTimeout: 0,
      connectionsCheckingInterval: 500,
      keepAliveTimeout: 30_000,
    });
    this.server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.headArrived(socket);
      void this.onConnect(req, socket as Socket, head);
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.headArrived(req.socket);
      this.onRequest(req, res);
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // node:http let go of the socket's 'error' before this event: whatever answers it, a reset must not throw.
      socket.on('error', () => socket.destroy());
      this.headArrived(socket);
      this.onUpgrade(req, socket, head);
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
  }

  /** Serve one TLS connection (ALPN http/1.1 or none). */
  handle(socket: Socket): void {
    // node:http only runs its header-timeout sweep for servers that listen themselves; this one is
    // fed sockets, so the first request head gets its own timer (later ones are bounded by keep-alive).
    const timer = setTimeout(() => {
      const err = Object.assign(new Error('The request head did not arrive in time.'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
      this.onClientError(err, socket);
    }, this.options.headerTimeoutMs);
    timer.unref();
    this.headTimers.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
    this.server.emit('connection', socket);
    // A socket that went through a sniffer arrives paused with its first bytes put back.
    if (socket.isPaused()) socket.resume();
  }

  private readonly headTimers = new WeakMap<Duplex, NodeJS.Timeout>();

  private headArrived(socket: Duplex): void {
    const timer = this.headTimers.get(socket);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.headTimers.delete(socket);
    }
  }

  private readonly refused = new WeakSet<Duplex>();

  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    // The parser can report more than once for one connection; answer once, let the answer drain.
    if (this.refused.has(socket)) return;
    this.refused.add(socket);
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'PINHOLE_HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'PINHOLE_REQUEST_TIMEOUT' : 'PINHOLE_BAD_REQUEST';
    const error = new PinholeError(code);
    this.requests.logger.info({ code, parserError: err.code, ...connectionOf(socket as Socket) }, 'A client sent a request the proxy could not accept.');
    if (socket.writable && !(socket as Socket & { _httpMessage?: unknown })._httpMessage) {
      // Answer, keep reading (so the peer's remaining bytes do not reset the answer away), then close.
      // Nobody has authenticated on a connection whose request could not be read: the plain answer.
      socket.end(plainRefusalHead(error));
      socket.resume();
      setTimeout(() => socket.destroy(), 2000).unref();
    } else socket.destroy();
  }

  private onConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    return this.requests.run({
      proto: 'http/1.1',
      method: 'CONNECT',
      kind: 'connect',
      connection: connectionOf(socket),
      credentials: req.headers['proxy-authorization'],
      targetText: req.url ?? '',
      early: head,
      target: () => {
        const target = parseEndpoint(req.url ?? '');
        if (target === undefined) throw new PinholeError('PINHOLE_BAD_REQUEST', 'CONNECT needs host:port.');
        return target;
      },
      gone: () => socket.destroyed,
      answer: () => {
        // The header tells the client it may start its next tunnels early (shared/early-data.ts): bytes after the head are read as the tunnel's.
        socket.write(ESTABLISHED);
        return socket;
      },
      refuse: (error, user) => {
        if (!socket.destroyed) socket.end(refusalHeadFor(error, user));
      },
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
      const web = this.options.web ?? notFoundFallback;
      const profile = this.options.profile;
      if (profile && isProfileRequest(req)) {
        const client = connectionOf(req.socket).client;
        void serveProfileRequest(req, res, { authenticate: (header) => this.requests.authenticate(header, client), handler: profile, fallback: (r, s) => web(r as IncomingMessage, s as ServerResponse) });
        return;
      }
      web(req, res);
      return;
    }
    void this.forward(req, res, url);
  }

  /** An absolute-URI request (http:// only): the same request sequence, carried as one request and its answer. */
  private forward(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    let parsed: URL | undefined;
    let targetText = url.slice(0, 200);
    return this.requests.run({
      proto: 'http/1.1',
      method: req.method ?? '',
      kind: 'http',
      connection: connectionOf(req.socket),
      credentials: req.headers['proxy-authorization'],
      get targetText() {
        return targetText;
      },
      target: () => {
        try {
          parsed = new URL(url);
        } catch {
          throw new PinholeError('PINHOLE_BAD_REQUEST', 'The request URL is malformed.');
        }
        if (parsed.protocol !== 'http:') throw new PinholeError('PINHOLE_BAD_REQUEST', 'Only http:// URLs can be proxied; use CONNECT for https.');
        const target = { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port === '' ? 80 : Number(parsed.port) };
        targetText = formatEndpoint(target);
        return target;
      },
      // The client left while it was checked and dialed.
      gone: () => req.socket.destroyed,
      answer: (upstream) => ({
        ended: this.exchange(req, res, parsed!, upstream),
        abort: () => upstream.destroy(),
      }),
      refuse: (error, user) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const { status, headers, body } = refusalFor(error, user);
        res.writeHead(status, headers);
        res.end(body);
        req.resume();
      },
    });
  }

  /** Send the request to the destination and its answer back; settles when the client's response closes. */
  private exchange(req: IncomingMessage, res: ServerResponse, parsed: URL, upstream: Socket): Promise<ExchangeOutcome> {
    return new Promise((resolve) => {
      const headers = endToEndHeaders(req.headers);
      headers.host = parsed.host;
      const outgoing = httpRequest({ createConnection: () => upstream, method: req.method, path: `${parsed.pathname}${parsed.search}`, headers, setHost: false });
      let status = 0;
      outgoing.on('response', (answer) => {
        status = answer.statusCode ?? 502;
        res.writeHead(status, answer.statusMessage, endToEndHeaders(answer.headers));
        answer.pipe(res);
      });
      outgoing.on('error', (err) => {
        if (status === 0) {
          this.requests.logger.info({ err: err.message }, 'The destination failed the request.');
          resolve(new PinholeError('PINHOLE_CONNECT_FAILED', 'The destination closed the connection.', { cause: err }));
        } else res.destroy();
      });
      res.once('close', () => {
        upstream.destroy();
        resolve(status === 0 ? undefined : { status, bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead });
      });
      req.pipe(outgoing);
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // UDP over the WebSocket transport (issue 14): one datagram per binary message on UDP_WS_PATH.
    if (this.requests.carriesUdp && isUdpUpgrade(req)) {
      void this.requests.run(udpWebSocketDoor(req, socket, head, connectionOf(socket as Socket), this.requests)).catch(() => socket.destroy());
      return;
    }
    if (isTunnelUpgrade(req, this.options.wsPath)) {
      void this.requests.whilePending(() => handleTunnelUpgrade(req, socket, head, this.requests, connectionOf(socket as Socket))).catch(() => socket.destroy());
      return;
    }
    if (this.options.upgrade !== undefined) {
      this.options.upgrade(req, socket, head);
      return;
    }
    socket.end(plainRefusalHead(new PinholeError('PINHOLE_BAD_REQUEST', 'Not found.')));
  }
}
