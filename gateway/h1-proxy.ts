/**
 * The HTTP/1.1 proxy inside TLS: CONNECT host:port and absolute-URI requests with Basic
 * Proxy-Authorization, WebSocket tunnels, and a replaceable web fallback for everything else.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { PinholeError } from '../shared/errors.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../shared/profile.js';
import type { ProxyDeps } from './proxy-deps.js';
import { isProfileRequest, serveProfileRequest, type ProfileHandler } from './profile/handler.js';
import { relay } from '../node/relay.js';
import { asPinholeError, refusalBody, refusalHead, refusalHeaders } from '../node/refusal.js';
import { handleTunnelUpgrade, isTunnelUpgrade } from './ws-tunnel.js';
import { handleUdpWebSocketUpgrade, isUdpUpgrade } from './udp/connect-udp.js';
import { udpDepsFor } from './udp/proxy-udp.js';
import { LISTENER_OPTIONS } from '../node/socket-options.js';

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

export class H1Proxy {
  readonly server: Server;
  /** CONNECTs still being checked or dialled (not yet a tunnel): a drain waits for them too. */
  pendingConnects = 0;

  constructor(
    private readonly deps: ProxyDeps,
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
      this.pendingConnects++;
      void this.onConnect(req, socket as Socket, head).finally(() => this.pendingConnects--);
    });
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.headArrived(req.socket);
      this.onRequest(req, res);
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
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
    this.deps.logger.info({ code, parserError: err.code, ...this.deps.connInfo(socket as Socket) }, 'A client sent a request the proxy could not accept.');
    if (socket.writable && !(socket as Socket & { _httpMessage?: unknown })._httpMessage) {
      // Answer, keep reading (so the peer's remaining bytes do not reset the answer away), then close.
      socket.end(refusalHead(error));
      socket.resume();
      setTimeout(() => socket.destroy(), 2000).unref();
    } else socket.destroy();
  }

  private async onConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const started = Date.now();
    const info = this.deps.connInfo(socket);
    const target = parseEndpoint(req.url ?? '');
    let user: string | undefined;
    socket.on('error', () => socket.destroy());
    try {
      user = await this.deps.authenticate(req.headers['proxy-authorization'], info.client);
      if (target === undefined) throw new PinholeError('PINHOLE_BAD_REQUEST', 'CONNECT needs host:port.');
      this.deps.admitTunnel(user, info.client);
      const upstream = await this.deps.openUpstream(target, 'connect');
      if (socket.destroyed) {
        upstream.destroy();
        return;
      }
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      // Each direction ends on its own: a client may send its request and a FIN and still read the answer.
      const tunnel = relay(socket, upstream, {
        done: ({ bytesUp, bytesDown }) => {
          untrack();
          this.deps.accessLog({ user, target: formatEndpoint(target), method: 'CONNECT', status: 200, bytesUp: bytesUp + head.length, bytesDown, durationMs: Date.now() - started, proto: 'http/1.1', ...info });
        },
      });
      const untrack = this.deps.trackTunnel(() => tunnel.destroy(), { user, client: info.client });
    } catch (err) {
      const error = asPinholeError(err);
      this.deps.accessLog({ user, target: req.url ?? '', method: 'CONNECT', status: error.status, code: error.code, bytesUp: 0, bytesDown: 0, durationMs: Date.now() - started, proto: 'http/1.1', ...info });
      if (!socket.destroyed) socket.end(refusalHead(error));
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
      const web = this.options.web ?? notFoundFallback;
      const profile = this.options.profile;
      if (profile && isProfileRequest(req)) {
        const client = this.deps.connInfo(req.socket).client;
        void serveProfileRequest(req, res, { authenticate: (header) => this.deps.authenticate(header, client), handler: profile, fallback: (r, s) => web(r as IncomingMessage, s as ServerResponse) });
        return;
      }
      web(req, res);
      return;
    }
    void this.forward(req, res, url);
  }

  private async forward(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const started = Date.now();
    const info = this.deps.connInfo(req.socket);
    let user: string | undefined;
    let target: Endpoint | undefined;
    const refuse = (error: PinholeError): void => {
      this.deps.accessLog({ user, target: target ? formatEndpoint(target) : url.slice(0, 200), method: req.method ?? '', status: error.status, code: error.code, bytesUp: 0, bytesDown: 0, durationMs: Date.now() - started, proto: 'http/1.1', ...info });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const body = refusalBody(error);
      res.writeHead(error.status, refusalHeaders(error, body));
      res.end(body);
      req.resume();
    };
    try {
      user = await this.deps.authenticate(req.headers['proxy-authorization'], info.client);
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new PinholeError('PINHOLE_BAD_REQUEST', 'The request URL is malformed.');
      }
      if (parsed.protocol !== 'http:') throw new PinholeError('PINHOLE_BAD_REQUEST', 'Only http:// URLs can be proxied; use CONNECT for https.');
      target = { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port === '' ? 80 : Number(parsed.port) };
      this.deps.admitTunnel(user, info.client);
      const upstream = await this.deps.openUpstream(target, 'http');
      if (req.socket.destroyed) {
        upstream.destroy(); // the client left while it was checked and dialed
        return;
      }
      const untrack = this.deps.trackTunnel(() => upstream.destroy(), { user, client: info.client });
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
          this.deps.logger.info({ err: err.message }, 'The destination failed the request.');
          refuse(new PinholeError('PINHOLE_CONNECT_FAILED', 'The destination closed the connection.', { cause: err }));
        }
        else res.destroy();
      });
      const finish = (): void => {
        untrack();
        upstream.destroy();
        if (status !== 0) this.deps.accessLog({ user, target: formatEndpoint(target!), method: req.method ?? '', status, bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, durationMs: Date.now() - started, proto: 'http/1.1', ...info });
      };
      res.once('close', finish);
      req.pipe(outgoing);
    } catch (err) {
      refuse(asPinholeError(err));
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // UDP over the WebSocket transport (issue 14): one datagram per binary message on UDP_WS_PATH.
    const udp = isUdpUpgrade(req) ? udpDepsFor(this.deps, socket as Socket) : undefined;
    if (udp !== undefined) {
      void handleUdpWebSocketUpgrade(req, socket, head, udp).catch(() => socket.destroy());
      return;
    }
    if (isTunnelUpgrade(req, this.options.wsPath)) {
      const info = this.deps.connInfo(socket as Socket);
      let untrack: (() => void) | undefined;
      void handleTunnelUpgrade(
        req,
        socket,
        head,
        {
          authenticate: (header) => this.deps.authenticate(header, info.client),
          openUpstream: async (target, user) => {
            this.deps.admitTunnel(user, info.client);
            const up = await this.deps.openUpstream(target, 'connect');
            untrack = this.deps.trackTunnel(() => {
              up.destroy();
              socket.destroy();
            }, { user, client: info.client });
            up.once('close', () => untrack?.());
            return up;
          },
          logger: this.deps.logger,
          accessLog: (record) => this.deps.accessLog({ ...record, method: 'CONNECT', connId: info.connId, client: record.client ?? info.client }),
        },
        { connId: info.connId, client: info.client },
      ).catch(() => socket.destroy());
      return;
    }
    if (this.options.upgrade !== undefined) {
      this.options.upgrade(req, socket, head);
      return;
    }
    socket.end(refusalHead(new PinholeError('PINHOLE_BAD_REQUEST', 'Not found.')));
  }
}
