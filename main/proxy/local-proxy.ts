/**
 * The local HTTP proxy applications talk to, on 127.0.0.1: CONNECT for anything TLS, absolute-URI
 * requests for plain HTTP (any method, bodies, chunked, keep-alive with the application), and
 * `GET /proxy.pac`. Each destination is decided (tunnel / direct / block) by an injected hook; a
 * tunnel comes from the transport. Every failure becomes an HTTP answer with a `Pinhole-Error`
 * code, never a hang: headers have a deadline, tunnels and origins have timeouts.
 */
import { EventEmitter } from 'node:events';
import { Agent, createServer, request as httpRequest, type ClientRequest, type ClientRequestArgs, type IncomingMessage, type Server, type ServerResponse, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect as netConnect, isIP, Socket as NetSocket, type AddressInfo, type Socket } from 'node:net';
import { pipeline, type Duplex } from 'node:stream';
import { ERRORS, PinholeError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { formatEndpoint, parseEndpoint } from '../../shared/profile.js';
import { refusalError } from '../tunnel/refusal.js';
import type { EarlyTunnel } from '../tunnel/transport.js';

export type Decision = 'tunnel' | 'direct' | 'block';

export interface DecideRequest {
  host: string;
  port: number;
  /** The application's connection to the local proxy (per-app lookup uses its port). */
  socket: Socket;
}

export type Decide = (request: DecideRequest) => Promise<Decision> | Decision;
/** Opens a tunnel through the gateway (the transport); rejects with a PinholeError. */
export type OpenTunnel = (target: { host: string; port: number }) => Promise<Duplex>;

export interface LocalProxyOptions {
  host?: string;
  port?: number;
  open: OpenTunnel;
  /**
   * A tunnel that takes the application's bytes before the gateway answers, or `undefined` when
   * this destination must wait for the answer (see RecentDestinations). CONNECT only.
   */
  openEarly?: (target: { host: string; port: number }) => Promise<EarlyTunnel> | undefined;
  decide?: Decide;
  /**
   * For HTTP/1.1 gateways (Squid refuses CONNECT to non-TLS ports): a connection to the gateway
   * that takes absolute-URI requests with this Proxy-Authorization. Plain HTTP then travels as a
   * proxy request instead of a CONNECT tunnel.
   */
  forwardHttp?: { authorization: string; user: string; open: () => Promise<Duplex> };
  /** The PAC file served at /proxy.pac; defaults to "everything through this proxy". */
  pac?: () => string;
  logger: Logger;
  /** Whether a destination was blocked by an app rule or a domain rule (for the code in a 403). */
  blockCode?: (request: DecideRequest) => 'PINHOLE_APP_BLOCKED' | 'PINHOLE_DOMAIN_BLOCKED';
  headersTimeoutMs?: number;
  maxHeaderSize?: number;
  directConnectTimeoutMs?: number;
  /** How long an origin may take to start answering a forwarded request. */
  responseTimeoutMs?: number;
}

export interface ProxyCounters {
  openTunnels: number;
  totalTunnels: number;
  bytesUp: number;
  bytesDown: number;
}

/** The status an application sees for a failure. A gateway 407 is not the application's to answer. */
export const statusFor = (code: ErrorCode): number => (code === 'PINHOLE_AUTH_REJECTED' || code === 'PINHOLE_AUTH_MISSING' ? 502 : ERRORS[code].status);

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 408: 'Request Timeout', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

const errorHead = (code: ErrorCode, message: string): string => {
  const status = statusFor(code);
  const body = `${message}\n`;
  return (
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nPinhole-Error: ${code}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
};

const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

const forwardHeaders = (headers: IncomingHttpHeaders): OutgoingHttpHeaders => {
  const named = new Set((headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()));
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
};

const asPinholeError = (err: unknown, fallback: ErrorCode): PinholeError =>
  err instanceof PinholeError ? err : new PinholeError(fallback, undefined, { cause: err, details: { reason: (err as Error | undefined)?.message } });

/**
 * The HTTP client writes its request head as a latin1 string; an HTTP/2 stream given such a string
 * inside a corked writev has been seen to send corrupted bytes. Heads become Buffers here (once
 * per request head, not per body chunk: bodies are Buffers already).
 */
const withBufferWrites = (stream: Duplex): Duplex => {
  const write = stream.write.bind(stream) as (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;
  (stream as { write: unknown }).write = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean =>
    typeof chunk === 'string' ? write(Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'), typeof encoding === 'function' ? encoding : cb) : write(chunk, encoding, cb);
  return stream;
};

/** A refusal by the gateway itself (not the origin's answer): 407 always, or marked by Pinhole or Squid. */
const proxyRefusal = (res: IncomingMessage, user: string, target: string): PinholeError | undefined => {
  const status = res.statusCode ?? 502;
  const code = res.headers['pinhole-error'];
  if (status !== 407 && code === undefined && res.headers['x-squid-error'] === undefined) return undefined;
  if (status < 400) return undefined;
  return refusalError(status, typeof code === 'string' ? code : undefined, user, target);
};

/** An http.Agent whose connections are tunnels (or gateway connections) instead of TCP sockets. */
class TunnelAgent extends Agent {
  constructor(private readonly connectTo: (target: { host: string; port: number }) => Promise<Duplex>) {
    super({ keepAlive: true, maxSockets: 6, maxFreeSockets: 6 });
  }

  override createConnection(options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    const host = String(options.host ?? '').replace(/^\[|\]$/g, '');
    this.connectTo({ host, port: Number(options.port) }).then(
      (stream) => {
        callback?.(null, stream instanceof NetSocket ? stream : withBufferWrites(stream));
        // Transports hand streams over paused; the HTTP client attaches its reader on the next tick.
        process.nextTick(() => stream.resume());
      },
      (err: unknown) => callback?.(err as Error, undefined as unknown as Duplex),
    );
    // Node's Agent accepts a connection later through the callback when none is returned.
    return undefined as unknown as Duplex;
  }

  // HTTP/2 streams have no TCP keep-alive or ref/unref; sockets keep Node's own behaviour.
  override keepSocketAlive(socket: Duplex): void {
    if (socket instanceof NetSocket) super.keepSocketAlive(socket);
    // Returning true (not void) tells Node's Agent to keep the socket; the typings say void.
    return true as unknown as void;
  }

  override reuseSocket(socket: Duplex, req: ClientRequest): void {
    if (socket instanceof NetSocket) super.reuseSocket(socket, req);
  }
}

export class LocalProxy extends EventEmitter {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private closedUp = 0;
  private closedDown = 0;
  private openTunnels = 0;
  private totalTunnels = 0;
  private bound: AddressInfo | undefined;
  private readonly agents = new WeakMap<Socket, Map<string, Agent>>();

  constructor(private readonly options: LocalProxyOptions) {
    super();
  }

  get address(): { host: string; port: number } {
    if (!this.bound) throw new PinholeError('PINHOLE_NOT_CONNECTED', 'The local proxy is not listening.');
    return { host: this.bound.address, port: this.bound.port };
  }

  /** Sampled from the sockets themselves: nothing is counted per chunk. */
  counters(): ProxyCounters {
    let up = this.closedUp;
    let down = this.closedDown;
    for (const socket of this.sockets) {
      up += socket.bytesRead;
      down += socket.bytesWritten;
    }
    return { openTunnels: this.openTunnels, totalTunnels: this.totalTunnels, bytesUp: up, bytesDown: down };
  }

  async start(): Promise<{ host: string; port: number }> {
    const server = createServer({
      maxHeaderSize: this.options.maxHeaderSize ?? 16 * 1024,
      headersTimeout: this.options.headersTimeoutMs ?? 10_000,
      requestTimeout: 0,
      keepAliveTimeout: 30_000,
      connectionsCheckingInterval: 1_000,
    });
    this.server = server;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.closedUp += socket.bytesRead;
        this.closedDown += socket.bytesWritten;
      });
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
    server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => void this.onConnect(req, socket, head));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.onRequest(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new PinholeError('PINHOLE_CONFIG_INVALID', `The local proxy cannot listen on ${this.options.host ?? '127.0.0.1'}:${this.options.port ?? 0}: ${err.code ?? err.message}.`, { cause: err })),
      );
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    server.on('error', (err) => this.options.logger.error({ err }, 'The local proxy reported an error.'));
    this.bound = server.address() as AddressInfo;
    return this.address;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  pac(): string {
    if (this.options.pac) return this.options.pac();
    const { host, port } = this.address;
    return `function FindProxyForURL(url, host) {\n  return "PROXY ${host}:${port}";\n}\n`;
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const code: ErrorCode =
      err.code === 'HPE_HEADER_OVERFLOW' ? 'PINHOLE_HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT' ? 'PINHOLE_REQUEST_TIMEOUT' : 'PINHOLE_BAD_REQUEST';
    this.options.logger.info({ code, reason: err.code ?? err.message }, 'An application sent a request the local proxy cannot read.');
    if (socket.writable && !(socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      const status = ERRORS[code].status;
      const body = `${ERRORS[code].sentence}\n`;
      socket.end(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nPinhole-Error: ${code}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  private async decide(request: DecideRequest): Promise<Decision> {
    if (!this.options.decide) return 'tunnel';
    try {
      return await this.options.decide(request);
    } catch (err) {
      this.options.logger.warn({ err, target: formatEndpoint(request) }, 'The routing rule failed; the request goes through the tunnel.');
      return 'tunnel';
    }
  }

  /** A byte stream to the destination, by the decided route. */
  private async reach(target: { host: string; port: number }, decision: Decision): Promise<Duplex> {
    if (decision === 'direct') return this.direct(target);
    return this.options.open(target);
  }

  private direct(target: { host: string; port: number }): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: target.host, port: target.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new PinholeError('PINHOLE_CONNECT_TIMEOUT', undefined, { details: { target: formatEndpoint(target), route: 'direct' } }));
      }, this.options.directConnectTimeoutMs ?? 10_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
        resolve(socket);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new PinholeError(err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? 'PINHOLE_DNS_FAILED' : 'PINHOLE_CONNECT_FAILED', undefined, { cause: err, details: { target: formatEndpoint(target), route: 'direct' } }));
      });
    });
  }

  private blockError(request: DecideRequest): PinholeError {
    const code = this.options.blockCode?.(request) ?? 'PINHOLE_DOMAIN_BLOCKED';
    const app = (request as DecideRequest & { name?: string }).name;
    return new PinholeError(code, `${ERRORS[code].sentence} (${app ? `${app} -> ` : ''}${formatEndpoint(request)})`, { details: app ? { app } : undefined });
  }

  private refuse(err: PinholeError, target: string, route: string): void {
    const fields = { code: err.code, target, route, ...(err.details ?? {}) };
    if (err.code === 'PINHOLE_AUTH_REJECTED') this.options.logger.error(fields, err.message);
    else this.options.logger.warn(fields, `A request could not be carried: ${err.message}`);
    this.emit('refused', err);
  }

  private async onConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    const target = parseEndpoint(req.url ?? '');
    if (!target) {
      socket.end(errorHead('PINHOLE_BAD_REQUEST', 'CONNECT needs a target of the form host:port.'));
      return;
    }
    const request = { ...target, socket };
    const decision = await this.decide(request);
    if (decision === 'block') {
      const err = this.blockError(request);
      this.refuse(err, req.url ?? '', 'block');
      socket.end(errorHead(err.code, err.message));
      return;
    }
    const early = decision === 'tunnel' ? this.options.openEarly?.(target) : undefined;
    let upstream: Duplex;
    let answered: Promise<void> | undefined;
    try {
      if (early) ({ stream: upstream, answered } = await early);
      else upstream = await this.reach(target, decision);
    } catch (err) {
      const error = asPinholeError(err, 'PINHOLE_CONNECT_FAILED');
      this.refuse(error, formatEndpoint(target), decision);
      if (!socket.destroyed) socket.end(errorHead(error.code, error.message));
      return;
    }
    if (socket.destroyed) {
      upstream.destroy();
      return;
    }
    this.openTunnels += 1;
    this.totalTunnels += 1;
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    this.splice(socket, upstream, answered);
    // Started early, the application already has its 200: a refusal can only end the connection.
    answered?.catch((err: unknown) => {
      this.refuse(asPinholeError(err, 'PINHOLE_CONNECT_FAILED'), formatEndpoint(target), 'tunnel, started early');
      socket.destroy();
    });
  }

  /**
   * Bytes both ways until both sides end; an error on either side ends the other promptly. A clean
   * finish is left to close by itself, so an HTTP/2 stream ends with END_STREAM, not a reset. An
   * early tunnel sends at once but delivers only once `answered`, so nothing of a refusal reaches
   * the application.
   */
  private splice(socket: Socket, upstream: Duplex, answered?: Promise<void>): void {
    let pending = 2;
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      this.openTunnels -= 1;
    };
    const done = (err?: Error | null): void => {
      pending -= 1;
      if (err) {
        socket.destroy();
        upstream.destroy();
      }
      if (err || pending === 0) release();
    };
    pipeline(socket, upstream, done);
    if (answered) answered.then(() => pipeline(upstream, socket, done), done);
    else pipeline(upstream, socket, done);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.socket.on('error', () => undefined);
    const raw = req.url ?? '';
    if (raw.startsWith('/')) {
      if (req.method === 'GET' && raw.split('?')[0] === '/proxy.pac') {
        const pac = this.pac();
        res.writeHead(200, { 'content-type': 'application/x-ns-proxy-autoconfig', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(pac) });
        res.end(pac);
        return;
      }
      this.answer(res, new PinholeError('PINHOLE_BAD_REQUEST', 'This is the Pinhole local proxy: send absolute-URI requests (http://host/path) or CONNECT.'));
      return;
    }
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      this.answer(res, new PinholeError('PINHOLE_BAD_REQUEST', 'The request target is not a valid URL.'));
      return;
    }
    if (url.protocol !== 'http:') {
      this.answer(res, new PinholeError('PINHOLE_BAD_REQUEST', `The local proxy forwards http:// URLs; use CONNECT for ${url.protocol}//.`));
      return;
    }
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const target = { host, port: url.port === '' ? 80 : Number(url.port) };
    const request = { ...target, socket: req.socket };
    const decision = await this.decide(request);
    if (decision === 'block') {
      const err = this.blockError(request);
      this.refuse(err, formatEndpoint(target), 'block');
      this.answer(res, err);
      return;
    }
    const headers = forwardHeaders(req.headers);
    headers.host = url.host;
    const viaProxy = decision === 'tunnel' && this.options.forwardHttp !== undefined;
    const forward = viaProxy ? this.options.forwardHttp : undefined;
    if (forward) headers['proxy-authorization'] = forward.authorization;
    const upstreamReq = httpRequest({
      host: isIP(host) === 6 ? `[${host}]` : host,
      port: target.port,
      method: req.method,
      path: viaProxy ? url.href : `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      agent: this.agentFor(req.socket, decision, forward),
    });
    upstreamReq.setTimeout(this.options.responseTimeoutMs ?? 60_000, () =>
      upstreamReq.destroy(new PinholeError('PINHOLE_CONNECT_TIMEOUT', 'The destination did not answer in time.')),
    );
    upstreamReq.once('error', (err) => {
      const error = asPinholeError(err, 'PINHOLE_CONNECT_FAILED');
      this.refuse(error, formatEndpoint(target), decision);
      req.unpipe(upstreamReq);
      if (!res.headersSent) this.answer(res, error);
      else res.destroy();
    });
    upstreamReq.once('response', (upstreamRes) => {
      upstreamReq.setTimeout(0);
      const refusal = forward ? proxyRefusal(upstreamRes, forward.user, formatEndpoint(target)) : undefined;
      if (refusal) {
        upstreamRes.resume();
        this.refuse(refusal, formatEndpoint(target), decision);
        this.answer(res, refusal);
        return;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, forwardHeaders(upstreamRes.headers));
      pipeline(upstreamRes, res, (err) => {
        if (err) res.destroy();
      });
    });
    res.once('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    pipeline(req, upstreamReq, () => undefined);
  }

  /**
   * Keep-alive towards destinations, per application connection and route: requests to the same
   * host:port reuse their tunnel (or gateway connection) while the application's connection lives.
   */
  private agentFor(client: Socket, decision: Decision, forward: LocalProxyOptions['forwardHttp']): Agent {
    let agents = this.agents.get(client);
    if (!agents) {
      const created = new Map<string, Agent>();
      agents = created;
      this.agents.set(client, created);
      client.once('close', () => {
        for (const agent of created.values()) agent.destroy();
      });
    }
    const key = forward ? 'gateway-proxy' : decision;
    let agent = agents.get(key);
    if (!agent) {
      agent = new TunnelAgent((target) => {
        const opening = forward ? forward.open() : this.reach(target, decision);
        return opening.then((stream) => {
          this.openTunnels += 1;
          this.totalTunnels += 1;
          stream.once('close', () => {
            this.openTunnels -= 1;
          });
          return stream;
        });
      });
      agents.set(key, agent);
    }
    return agent;
  }

  private answer(res: ServerResponse, err: PinholeError): void {
    const body = `${err.message}\n`;
    res.writeHead(statusFor(err.code), { 'pinhole-error': err.code, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
