/**
 * The local HTTP proxy applications talk to, on 127.0.0.1: the listener that reads requests and
 * hands each to its job: CONNECT (connect.ts), absolute-URI forwarding (forward.ts), `GET
 * /proxy.pac` (pac.ts). Each request's route comes from the router, once; a tunnel comes from the
 * transport, a direct connection from direct.ts. Every failure becomes an HTTP answer with a
 * `Pinhole-Error` code, never a hang: headers have a deadline, tunnels and origins have timeouts.
 */
import { nativeRelayOf, type NativeRelay } from '../../node/native/byte-path.js';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { PinholeError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { formatEndpoint } from '../../shared/profile.js';
import { LISTENER_OPTIONS } from '../../node/socket-options.js';
import { TUNNEL, type RouteDecision } from '../routing.js';
import type { TunnelOpening } from '../tunnel/opener.js';
import { handleConnect } from './connect.js';
import { TunnelCount, type ForwardHttp, type ProxyContext, type RouteRequest, type Router } from './context.js';
import { dialDirect } from './direct.js';
import { forwardRequest } from './forward.js';
import { everythingThrough, isPacRequest, servePac } from './pac.js';
import { answerRefusal, refusalHead } from './refusal.js';
import { ConnectionAgents } from './tunnel-agent.js';
import { socksJob } from './socks.js';
import { dispatchByFirstByte, toHttpServer } from '../socks/mixed-port.js';
import type { OpenUdpFlow } from '../udp/local-udp.js';
import type { ConnectionGate } from '../lan/allow-list.js';
import type { LocalUsers } from '../lan/local-users.js';
import type { TerminalStats } from '../lan/terminal-stats.js';
import type { SocksSessionRecord } from '../socks/server.js';
import { DEFAULT_TUNNEL_TIMEOUTS, type TunnelTimeouts } from '../../shared/tunnel-timeouts.js';
import { listenError } from '../../node/listen-error.js';

export type { ForwardHttp, RouteRequest, Router } from './context.js';

export interface LocalProxyOptions {
  host?: string;
  port?: number;
  /** Opens tunnels through the gateway (main/tunnel/opener.ts), early ones included. */
  opener: TunnelOpening;
  /** Where each request goes; without one, everything goes through the tunnel. */
  router?: Router;
  forwardHttp?: ForwardHttp;
  /** The PAC file served at /proxy.pac; defaults to "everything through this proxy". */
  pac?: () => string;
  logger: Logger;
  headersTimeoutMs?: number;
  maxHeaderSize?: number;
  directConnectTimeoutMs?: number;
  /** How long an origin may take to start answering a forwarded request. */
  responseTimeoutMs?: number;
  /** Silent tunnels end (issue 28); default DEFAULT_TUNNEL_TIMEOUTS. */
  tunnelTimeouts?: TunnelTimeouts;
  /** SOCKS5 on the same port (issue 14): UDP ASSOCIATE through this when the transport carries UDP. */
  openUdpFlow?: OpenUdpFlow;
  /** LAN box mode (issue 14): terminals outside --allow-from are closed before anything is read. */
  gate?: ConnectionGate;
  /** --local-users: terminals authenticate (HTTP Proxy-Authorization, SOCKS5 RFC 1929). */
  users?: LocalUsers;
  /** Per-terminal counters by source address. */
  terminals?: TerminalStats;
}

export interface ProxyCounters {
  openTunnels: number;
  totalTunnels: number;
  bytesUp: number;
  bytesDown: number;
}

/** What Node's HTTP parser reports about a request it cannot read, as the code the application sees. */
const clientErrorCode = (err: NodeJS.ErrnoException): ErrorCode =>
  err.code === 'HPE_HEADER_OVERFLOW' ? 'PINHOLE_HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT' ? 'PINHOLE_REQUEST_TIMEOUT' : 'PINHOLE_BAD_REQUEST';

export class LocalProxy extends EventEmitter {
  private server: NetServer | undefined;
  private http: HttpServer | undefined;
  private readonly sockets = new Set<Socket>();
  private closedUp = 0;
  private closedDown = 0;
  private bound: AddressInfo | undefined;
  private readonly tunnels = new TunnelCount();
  /** Application connections the native byte path carries now (their sockets are closed here). */
  private readonly handedOver = new Set<NativeRelay>();
  private readonly agents = new ConnectionAgents();
  private readonly context: ProxyContext;

  constructor(private readonly options: LocalProxyOptions) {
    super();
    const { logger } = options;
    this.context = {
      logger,
      tunnels: this.tunnels,
      route: (request) => this.route(request),
      opener: options.opener,
      dialDirect: (target) => dialDirect(target, options.directConnectTimeoutMs ?? 10_000),
      forwardHttp: options.forwardHttp,
      responseTimeoutMs: options.responseTimeoutMs ?? 60_000,
      relayTimeouts: options.tunnelTimeouts ?? DEFAULT_TUNNEL_TIMEOUTS,
      refused: (err, target, route) => {
        const fields = { code: err.code, target, route, ...(err.cause instanceof Error ? { reason: err.cause.message } : {}), ...(err.details ?? {}) };
        if (err.code === 'PINHOLE_AUTH_REJECTED') logger.error(fields, err.message);
        else logger.warn(fields, `A request could not be carried: ${err.message}`);
        this.emit('refused', err);
      },
    };
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
    for (const relay of this.handedOver) {
      up += relay.bytesUp;
      down += relay.bytesDown;
    }
    return { openTunnels: this.tunnels.open, totalTunnels: this.tunnels.total, bytesUp: up, bytesDown: down };
  }

  async start(): Promise<{ host: string; port: number }> {
    const http = createServer({
      ...LISTENER_OPTIONS,
      maxHeaderSize: this.options.maxHeaderSize ?? 16 * 1024,
      headersTimeout: this.options.headersTimeoutMs ?? 10_000,
      requestTimeout: 0,
      keepAliveTimeout: 30_000,
      connectionsCheckingInterval: 1_000,
    });
    http.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
    http.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => void this.onConnect(req, socket, head));
    http.on('request', (req: IncomingMessage, res: ServerResponse) => void this.onRequest(req, res));
    // The HTTP server is fed sockets by the listener below; 'listening' starts its header-timeout sweep.
    http.emit('listening');
    this.http = http;
    // One port for HTTP and SOCKS5: the first byte decides (0x05 is SOCKS5). Paused on connect, so
    // nothing is read before the dispatch.
    const { gate, users, terminals, openUdpFlow } = this.options;
    const socks = socksJob(this.context, {
      ...(openUdpFlow === undefined ? {} : { openUdpFlow }),
      ...(users === undefined ? {} : { users }),
      onSession: (record) => this.socksSession(record),
    });
    const toHttp = toHttpServer(http);
    const server = createNetServer({ ...LISTENER_OPTIONS, pauseOnConnect: true }, (socket: Socket) => {
      if (gate !== undefined && !gate.admit(socket)) {
        terminals?.refusal(socket.remoteAddress ?? '');
        return;
      }
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.closedUp += socket.bytesRead;
        this.closedDown += socket.bytesWritten;
        // Handed to the native byte path: its relay goes on counting until it closes.
        const relay = nativeRelayOf(socket);
        const source = socket.remoteAddress ?? '';
        if (relay === undefined || relay.closed) {
          terminals?.bytes(source, socket.bytesRead + (relay?.bytesUp ?? 0), socket.bytesWritten + (relay?.bytesDown ?? 0));
          if (relay !== undefined) {
            this.closedUp += relay.bytesUp;
            this.closedDown += relay.bytesDown;
          }
          return;
        }
        const [jsUp, jsDown] = [socket.bytesRead, socket.bytesWritten];
        this.handedOver.add(relay);
        void relay.done.then((result) => {
          this.handedOver.delete(relay);
          this.closedUp += result.bytesUp;
          this.closedDown += result.bytesDown;
          terminals?.bytes(source, jsUp + result.bytesUp, jsDown + result.bytesDown);
        });
      });
      dispatchByFirstByte(socket, { socks, http: toHttp });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(listenError(err, { host: this.options.host ?? '127.0.0.1', port: this.options.port ?? 0, what: 'The local proxy', flag: '--listen' })));
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
    this.http?.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
      for (const relay of this.handedOver) relay.destroy();
    });
  }

  pac(): string {
    return this.options.pac ? this.options.pac() : everythingThrough(this.address);
  }

  /** Where a request goes: the router's decision, else (no router, no decision, a failing router) the tunnel, decided here only. */
  private async route(request: RouteRequest): Promise<RouteDecision> {
    let decision: RouteDecision | undefined;
    try {
      decision = await this.options.router?.route(request);
    } catch (err) {
      this.options.logger.warn({ err, target: formatEndpoint(request) }, 'The routing rule failed; the request goes through the tunnel.');
    }
    return decision ?? TUNNEL;
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const code = clientErrorCode(err);
    this.options.logger.info({ code, reason: err.code ?? err.message }, 'An application sent a request the local proxy cannot read.');
    if (socket.writable && !(socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) socket.end(refusalHead(new PinholeError(code)));
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  /**
   * --local-users: the terminal's Proxy-Authorization, checked before anything else (407 with a
   * challenge otherwise); counted per terminal. True when the request may go on.
   */
  private async admitRequest(req: IncomingMessage, refuse: (err: PinholeError) => void): Promise<boolean> {
    const source = req.socket.remoteAddress ?? '';
    const { users, terminals } = this.options;
    terminals?.request(source);
    // LAN box mode's access log: one line per terminal request, with the terminal's address.
    if (terminals !== undefined) this.options.logger.info({ source, method: req.method, target: req.url }, 'A terminal sent a request.');
    if (users === undefined) return true;
    try {
      await users.authenticateHeader(req.headers['proxy-authorization'], source);
      return true;
    } catch (err) {
      const error = err instanceof PinholeError ? err : new PinholeError('PINHOLE_LOCAL_AUTH_REJECTED', undefined, { cause: err });
      terminals?.refusal(source);
      this.options.logger.info({ source, code: error.code, target: req.url }, error.message);
      refuse(error);
      return false;
    }
  }

  private async onConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    if (!(await this.admitRequest(req, (err) => socket.end(refusalHead(err))))) return;
    await handleConnect(this.context, req, socket, head);
  }

  private socksSession(record: SocksSessionRecord): void {
    const { terminals } = this.options;
    terminals?.request(record.source);
    if (record.code !== undefined) terminals?.refusal(record.source);
    if (terminals !== undefined) this.options.logger.info({ ...record, proto: 'socks5' }, 'A terminal\'s SOCKS5 session ended.');
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.socket.on('error', () => undefined);
    const raw = req.url ?? '';
    // The PAC file is served to anyone admitted by the gate: browsers fetch it without proxy credentials.
    if (isPacRequest(req.method, raw)) {
      servePac(res, this.pac());
      return;
    }
    if (!(await this.admitRequest(req, (err) => answerRefusal(res, err)))) return;
    if (!raw.startsWith('/')) {
      void forwardRequest(this.context, this.agents, req, res);
      return;
    }
    if (isPacRequest(req.method, raw)) servePac(res, this.pac());
    else answerRefusal(res, new PinholeError('PINHOLE_BAD_REQUEST', 'This is the Pinhole local proxy: send absolute-URI requests (http://host/path) or CONNECT.'));
  }
}
