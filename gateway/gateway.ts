/**
 * The gateway: one listener, TLS terminated here, then HTTP/2 or HTTP/1.1 by ALPN.
 * Accept pipeline seams: handleRawSocket (the sniffer plugs in here) -> handleTlsSocket.
 */
import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { availableParallelism } from 'node:os';
import { constants as h2constants } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from '../shared/log.js';
import type { Endpoint } from '../shared/profile.js';
import { accessLogTo, type AccessLog } from './access-log.js';
import { configPath, loadConfig, parseListen, type GatewayConfig } from './config.js';
import { createProfileHandler, type ProfileHandler } from './profile/handler.js';
import { buildProfileDocument, loadProfileSource, type ProfileSource } from './profile/profile-document.js';
import { H1Proxy } from './h1-proxy.js';
import { H2Proxy } from './h2-proxy.js';
import { DestinationPolicy, type Resolver } from './policy.js';
import { createUdpDestinationCheck } from './udp/udp-policy.js';
import { systemResolver } from './upstream.js';
import { multiplexes, routeTableOf, trustedProxyList, webTargetOf, type MuxConfig } from './mux/config.js';
import { connectionOf, numberConnection, type Connection } from './mux/connection.js';
import { TunnelRegistry } from './tunnel-registry.js';
import { TunnelRequest } from './tunnel-request.js';
import { dispatchInsideTls } from './mux/inside-tls.js';
import { Multiplexer } from './mux/multiplexer.js';
import { TLS_ONLY, sniff } from './sniff/index.js';
import { WebFallback } from './mux/web.js';
import { UserStore } from './users.js';
import { Authenticator } from './auth/authenticator.js';
import { AuthEvents, type AuthObserver } from './auth/events.js';
import { Penalties } from './auth/penalties.js';
import { connectSharedState, type SharedState } from './auth/shared-state.js';
import { TunnelLimits } from './auth/tunnel-limits.js';
import { GatewayMetrics } from './metrics.js';
import { keyNameOf, readTicketKeys, ticketKeyNameOf } from './ticket-keys.js';

export interface GatewayStats {
  tlsConnections: number;
  activeTlsConnections: number;
  activeTunnels: number;
  totalTunnels: number;
  h2Sessions: number;
  rejectedNotTls: number;
  authFailures: number;
  authPenalties: number;
  /** Requests refused by a limit: the check queue full (503) or too many tunnels (429). */
  limitRefusals: number;
}

export interface GatewayDeps {
  readonly logger: Logger;
  readonly resolver?: Resolver;
  readonly accessLog?: AccessLog;
  /** sslh-style routes, trusted balancers, web site and WebSocket path (issue 3); absent = TLS only. */
  readonly mux?: MuxConfig;
  /** 48 bytes of TLS session-ticket keys shared by every worker, so a ticket from one resumes on another. */
  readonly ticketKeys?: Buffer;
  /** Told of every auth failure and penalty (and limit refusal): the fleet's /metrics counts them. */
  readonly authEvents?: AuthObserver;
  /** The fleet (issue 10): a ticket-keys file (first key encrypts, all decrypt; reloaded when it changes) and the metrics to feed. */
  readonly ticketKeysFile?: string;
  readonly metrics?: GatewayMetrics;
}

/** Password checks at once: leave one core to the event loop, and thread-pool threads to DNS. */
const defaultAuthConcurrency = (): number => Math.max(1, Math.min(availableParallelism() - 1, 3));

const FIRST_BYTE_TIMEOUT_MS = 10_000;

export class Gateway {
  readonly users: UserStore;
  readonly policy: DestinationPolicy;
  readonly h1: H1Proxy;
  readonly h2: H2Proxy;
  readonly tls: TlsServer;
  private readonly net: NetServer;
  private readonly logger: Logger;
  private readonly counters = { tlsConnections: 0, rejectedNotTls: 0, authFailures: 0, authPenalties: 0, limitRefusals: 0 };
  /** 'failure' | 'penalty' | 'refusal', each with { client, source, user, code, ... } (gateway/auth/events.ts). */
  readonly authEvents: AuthEvents;
  readonly auth: Authenticator;
  readonly limits: TunnelLimits;
  private readonly state: SharedState | undefined;
  readonly tunnels: TunnelRegistry;
  private readonly sockets = new Set<Socket>();
  private closing = false;
  /** The sniffer/router in front of TLS, when routes are configured. */
  readonly front: Multiplexer | undefined;
  private readonly mux: MuxConfig | undefined;
  private ticketKeys: Buffer | undefined;
  readonly metrics: GatewayMetrics;
  /** Fleet: one TLS server per older ticket key, by key name, so tickets they issued still resume. */
  private decryptOnly = new Map<string, TlsServer>();
  private readonly ticketKeysFile: string | undefined;
  private draining = false;
  /** What the profile route serves (endpoints, pins, defaults); rebuilt when gateway.yaml or the certificate changes. */
  private profileSource: ProfileSource;
  private profileEndpointsConfigured = false;

  constructor(
    readonly config: GatewayConfig,
    deps: GatewayDeps,
  ) {
    this.logger = deps.logger;
    this.users = new UserStore(config.usersFile, this.logger);
    this.policy = new DestinationPolicy({ allowPorts: config.allowPorts, httpPorts: config.httpPorts, restrictTo: config.restrictTo }, deps.resolver ?? systemResolver);
    const metrics = (this.metrics = deps.metrics ?? new GatewayMetrics({ defaultMetrics: false }));
    const writeAccess = deps.accessLog ?? accessLogTo(this.logger);
    this.authEvents = new AuthEvents(deps.authEvents);
    this.authEvents.on('failure', () => {
      this.counters.authFailures++;
      metrics.authFailures.inc();
    });
    this.authEvents.on('penalty', () => {
      this.counters.authPenalties++;
      metrics.authPenalties.inc();
    });
    this.authEvents.on('refusal', () => this.counters.limitRefusals++);
    this.state = config.state === undefined ? undefined : connectSharedState(config.state, this.logger);
    const penalties = new Penalties(
      {
        maxFailures: config.authMaxFailures,
        maxSourceFailures: config.authMaxSourceFailures,
        delayAfter: config.authDelayAfter,
        delayMs: config.authDelaySeconds * 1000,
        delayMaxMs: config.authDelayMaxSeconds * 1000,
        windowSeconds: config.authWindowSeconds,
        blockSeconds: config.authBlockSeconds,
        blockMaxSeconds: config.authBlockMaxSeconds,
      },
      this.state?.limiters,
    );
    this.auth = new Authenticator(this.users, penalties, this.authEvents, this.logger, {
      concurrency: config.authConcurrency ?? defaultAuthConcurrency(),
      maxPending: config.authMaxPending,
      negativeCacheMs: config.authNegativeCacheSeconds * 1000,
    });
    this.limits = new TunnelLimits({ maxTunnelsPerUser: config.maxTunnelsPerUser, maxTunnelsPerSource: config.maxTunnelsPerSource });
    const udpCheck = createUdpDestinationCheck({ udpPorts: config.allowUdpPorts, restrictTo: config.restrictTo }, deps.resolver ?? systemResolver);
    this.tunnels = new TunnelRegistry(this.limits, metrics);
    const requests = new TunnelRequest({
      auth: this.auth,
      authEvents: this.authEvents,
      limits: this.limits,
      policy: this.policy,
      registry: this.tunnels,
      metrics,
      accessLog: writeAccess,
      logger: this.logger,
      connectTimeoutMs: config.connectTimeoutMs,
      udp: { decide: udpCheck, idleTimeoutMs: config.udpTimeoutSeconds * 1000 },
    });
    this.mux = deps.mux;
    const web = deps.mux === undefined ? undefined : new WebFallback({ web: webTargetOf(deps.mux), logger: this.logger });
    this.profileSource = this.readProfileSource(config);
    const serveProfile = createProfileHandler((user) => buildProfileDocument(this.profileSource, user), this.logger);
    // A gateway told no endpoints (gateway.yaml `endpoints:`, `run --endpoint`) cannot say which ones clients should use:
    // it publishes no profile (404: clients keep the link's endpoints) rather than a guess that would drop theirs.
    const profile: ProfileHandler = (req, res, user) => {
      if (this.profileEndpointsConfigured) return serveProfile(req, res, user);
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end('This gateway publishes no profile: no endpoints are configured.\n');
    };
    this.h1 = new H1Proxy(requests, {
      profile,
      headerTimeoutMs: config.headerTimeoutMs,
      maxHeaderBytes: config.maxHeaderBytes,
      ...(deps.mux === undefined ? {} : { wsPath: deps.mux.wsPath }),
      ...(web === undefined ? {} : { web: (req, res) => web.handle(req, res), upgrade: (req, socket, head) => web.upgrade(req, socket, head) }),
    });
    const trusted = deps.mux === undefined ? undefined : trustedProxyList(deps.mux.trustedProxies);
    this.front =
      deps.mux !== undefined && multiplexes(deps.mux)
        ? new Multiplexer({
            table: routeTableOf(deps.mux),
            ownNames: [config.hostname],
            ...(trusted === undefined ? {} : { trustedProxies: trusted }),
            sniffTimeoutMs: deps.mux.sniffTimeoutMs,
            connectTimeoutMs: config.connectTimeoutMs,
            logger: this.logger,
            terminate: (socket) => this.terminateTls(socket),
            onRoute: (route) => metrics.connections.inc({ route }),
          })
        : undefined;
    this.h2 = new H2Proxy(requests, {
      profile,
      maxStreams: config.maxStreamsPerSession,
      maxHeaderBytes: config.maxHeaderBytes,
      ...(web === undefined ? {} : { web: (req, res) => web.handle(req, res) }),
    });
    this.ticketKeys = deps.ticketKeys;
    this.ticketKeysFile = deps.ticketKeysFile;
    const fileKeys = this.ticketKeysFile === undefined ? undefined : readTicketKeys(this.ticketKeysFile);
    if (fileKeys !== undefined) this.ticketKeys = fileKeys[0];
    this.tls = this.createTls(this.ticketKeys);
    if (fileKeys !== undefined) this.useDecryptOnlyKeys(fileKeys.slice(1));
    this.net = createNetServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  private secureContextOptions(ticketKeys = this.ticketKeys): SecureContextOptions & { ticketKeys?: Buffer } {
    return {
      cert: readFileSync(this.config.certFile),
      key: readFileSync(this.config.keyFile),
      // Node's default context is a hash of this process's argv, which differs between the gateways
      // of a fleet and would make OpenSSL refuse every ticket another gateway issued.
      sessionIdContext: createHash('sha256').update(`pinhole-gateway ${this.config.hostname}`).digest('hex').slice(0, 32),
      ...(ticketKeys === undefined ? {} : { ticketKeys }),
    };
  }

  private createTls(ticketKeys: Buffer | undefined): TlsServer {
    const tls = createTlsServer({
      ...this.secureContextOptions(ticketKeys),
      ALPNProtocols: ['h2', 'http/1.1'],
      minVersion: 'TLSv1.2',
      honorCipherOrder: true,
      handshakeTimeout: 10_000,
    });
    tls.on('secureConnection', (socket: TLSSocket) => {
      this.metrics.tlsHandshakes.inc({ resumed: String(socket.isSessionReused()) });
      this.handleTlsSocket(socket);
    });
    tls.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.logger.info({ err: err.message, client: this.connInfo(socket).client }, 'A TLS handshake failed.');
      socket.destroy();
    });
    return tls;
  }

  private useDecryptOnlyKeys(keys: readonly Buffer[]): void {
    const next = new Map<string, TlsServer>();
    for (const key of keys) {
      const name = keyNameOf(key);
      if (this.ticketKeys !== undefined && name === keyNameOf(this.ticketKeys)) continue;
      const server = this.decryptOnly.get(name) ?? this.createTls(key);
      server.setTicketKeys(key);
      next.set(name, server);
    }
    this.decryptOnly = next;
  }

  /** Re-read the ticket-keys file: the first key encrypts from now on, the others still decrypt. A bad file keeps the keys in use. */
  reloadTicketKeys(): void {
    if (this.ticketKeysFile === undefined) return;
    try {
      const [first, ...older] = readTicketKeys(this.ticketKeysFile);
      this.ticketKeys = first;
      if (first !== undefined) this.tls.setTicketKeys(first);
      this.useDecryptOnlyKeys(older);
      this.logger.info({ file: this.ticketKeysFile, keys: older.length + 1 }, 'The TLS session-ticket keys were reloaded.');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, file: this.ticketKeysFile }, 'The TLS session-ticket keys could not be reloaded; the previous ones stay.');
    }
  }

  /** The profile document's source: the file's profile settings plus `run --endpoint`, and the certificates' pins. */
  private readProfileSource(config: GatewayConfig): ProfileSource {
    const endpoints = [...new Set([...config.endpoints, ...(this.config.endpointFlags ?? [])])];
    this.profileEndpointsConfigured = endpoints.length > 0;
    return loadProfileSource(config, { ...config, endpoints });
  }

  /** gateway.yaml changed: what clients are told in their profile (an endpoint added, a next certificate) follows without a restart. A bad file keeps the previous profile. */
  reloadProfile(): void {
    try {
      const next = this.readProfileSource(loadConfig(this.config.dir));
      const changed = JSON.stringify(next) !== JSON.stringify(this.profileSource);
      this.profileSource = next;
      if (changed) this.logger.info({ endpoints: next.endpoints, pins: next.pins.length }, 'The profile served to clients was reloaded.');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, file: configPath(this.config.dir) }, 'The profile settings could not be reloaded; clients keep getting the previous profile.');
    }
  }

  /** Reload cert/key from disk into the live TLS servers (no restart). */
  reloadCertificate(): void {
    this.reloadProfile();
    try {
      this.tls.setSecureContext({ ...this.secureContextOptions(), minVersion: 'TLSv1.2' });
      for (const [, server] of this.decryptOnly) server.setSecureContext({ ...this.secureContextOptions(server.getTicketKeys()), minVersion: 'TLSv1.2' });
      this.logger.info({ cert: this.config.certFile }, 'The certificate was reloaded.');
    } catch (err) {
      this.logger.warn({ err, cert: this.config.certFile }, 'The certificate could not be reloaded; the previous one stays.');
    }
  }

  /** True while the gateway takes new tunnels: false from the moment a drain starts (`/readyz`). */
  get ready(): boolean {
    return this.net.listening && !this.draining && !this.closing;
  }

  /** A drain begins: `/readyz` answers 503 so balancers move new connections elsewhere; tunnels keep being accepted until close(). */
  beginDrain(): void {
    this.draining = true;
  }

  async listen(listen: Endpoint | string = this.config.listen): Promise<AddressInfo> {
    const ep = typeof listen === 'string' ? parseListen(listen) : listen;
    if (ep === undefined) throw new Error(`Bad listen address ${String(listen)}`);
    await new Promise<void>((resolve, reject) => {
      this.net.once('error', reject);
      this.net.listen({ host: ep.host, port: ep.port }, () => {
        this.net.off('error', reject);
        resolve();
      });
    });
    this.users.watch();
    const reload = (): void => this.reloadCertificate();
    watchFile(this.config.certFile, { interval: 2000 }, reload);
    watchFile(this.config.keyFile, { interval: 2000 }, reload);
    watchFile(configPath(this.config.dir), { interval: 1000 }, () => this.reloadProfile());
    if (this.ticketKeysFile !== undefined) watchFile(this.ticketKeysFile, { interval: 1000 }, () => this.reloadTicketKeys());
    return this.net.address() as AddressInfo;
  }

  address(): AddressInfo {
    return this.net.address() as AddressInfo;
  }

  /** Every accepted TCP socket: through the multiplexer when routes are configured, else straight to TLS. */
  private accept(socket: Socket): void {
    if (this.front === undefined) {
      this.handleRawSocket(socket);
      return;
    }
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.front.accept(socket);
  }

  /** Accept seam: every raw TCP socket comes here (a sniffer can sit in front and call handleTlsSocket's TLS side). */
  handleRawSocket(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const connId = numberConnection(socket);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // A TLS-only listener is the sniffer with one row (the first byte of a TLS record).
    void sniff(socket, { probes: TLS_ONLY, timeoutMs: FIRST_BYTE_TIMEOUT_MS }).then((verdict) => {
      this.metrics.connections.inc({ route: verdict.result === 'match' ? 'gateway' : 'closed' });
      if (verdict.result === 'match') {
        this.terminateTls(socket);
        return;
      }
      if (verdict.result === 'none') {
        this.counters.rejectedNotTls++;
        this.logger.info({ connId, client: socket.remoteAddress, firstByte: verdict.head[0] }, 'A client sent bytes that are not TLS.');
      }
      socket.destroy();
    });
  }

  /** Hand a raw socket (its first bytes put back) to the TLS server. */
  terminateTls(socket: Socket): void {
    this.tlsServerFor(socket).emit('connection', socket);
  }

  /** The TLS server whose ticket key the ClientHello's ticket names (peeked, put back), else the one that encrypts. */
  private tlsServerFor(socket: Socket): TlsServer {
    if (this.decryptOnly.size === 0) return this.tls;
    const head = socket.read() as Buffer | null;
    if (head === null) return this.tls;
    socket.unshift(head);
    const name = ticketKeyNameOf(head);
    return (name === undefined ? undefined : this.decryptOnly.get(name)) ?? this.tls;
  }

  /** Inside TLS: dispatch by ALPN. */
  handleTlsSocket(socket: TLSSocket): void {
    this.counters.tlsConnections++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    if (socket.alpnProtocol === 'h2') this.h2.handle(socket);
    else if (this.mux !== undefined && (this.mux.ssh !== undefined || this.mux.openvpn !== undefined)) {
      const table = routeTableOf(this.mux);
      void dispatchInsideTls(socket, { ssh: table.ssh, openvpn: table.openvpn, sniffTimeoutMs: this.mux.sniffTimeoutMs, logger: this.logger, http1: (s) => this.h1.handle(s) });
    } else this.h1.handle(socket);
  }

  connInfo(socket: Socket | undefined): Connection {
    return connectionOf(socket);
  }

  stats(): GatewayStats {
    return {
      tlsConnections: this.counters.tlsConnections,
      activeTlsConnections: [...this.sockets].filter((s) => 'encrypted' in s).length,
      activeTunnels: this.tunnels.size,
      totalTunnels: this.tunnels.total,
      h2Sessions: this.h2.sessions.size,
      rejectedNotTls: this.counters.rejectedNotTls,
      authFailures: this.counters.authFailures,
      authPenalties: this.counters.authPenalties,
      limitRefusals: this.counters.limitRefusals,
    };
  }

  /**
   * HTTP/2 graceful shutdown (RFC 9113 6.8): a first GOAWAY naming the highest possible stream, so
   * clients stop opening streams here while every stream already on its way is still served, then
   * one PING round trip, after which the final GOAWAY (the last stream really received) refuses
   * nothing a client had sent. Without it, a CONNECT crossing the GOAWAY on the wire is refused.
   */
  private async announceGoaway(): Promise<void> {
    const sessions = [...this.h2.sessions].filter((s) => !s.closed && !s.destroyed);
    await Promise.all(
      sessions.map(
        (session) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 2_000);
            try {
              session.goaway(h2constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1);
              session.ping(() => {
                clearTimeout(timer);
                resolve();
              });
            } catch {
              clearTimeout(timer);
              resolve();
            }
          }),
      ),
    );
  }

  /** Stop accepting, GOAWAY h2 sessions, wait up to drainMs for open tunnels, then close everything. */
  async close(drainMs = this.config.drainSeconds * 1000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    this.users.unwatch();
    unwatchFile(this.config.certFile);
    unwatchFile(this.config.keyFile);
    unwatchFile(configPath(this.config.dir));
    if (this.ticketKeysFile !== undefined) unwatchFile(this.ticketKeysFile);
    await this.announceGoaway();
    this.h2.goaway();
    this.h1.server.closeIdleConnections();
    const deadline = Date.now() + drainMs;
    // A CONNECT accepted before the GOAWAY but still being checked or dialled becomes a tunnel in a
    // moment: destroying its session now would fail a request the client can no longer re-send.
    const busy = (): boolean => this.tunnels.size > 0 || this.tunnels.pending > 0;
    while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (this.tunnels.size > 0) this.logger.warn({ openTunnels: this.tunnels.size }, 'The drain time ran out; closing the open tunnels.');
    this.tunnels.abortAll();
    for (const session of this.h2.sessions) session.destroy();
    this.h1.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
    await this.state?.close();
  }
}
