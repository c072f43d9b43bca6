/**
 * The gateway's composition root: one listener whose every connection enters through the
 * multiplexer (the front door; a TLS-only listener is the sniffer with one row), then the TLS
 * service, then the doors by ALPN, each door running its requests through one TunnelRequest.
 * See docs/request-path.md for one CONNECT's path.
 */
import { availableParallelism } from 'node:os';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from '../shared/log.js';
import type { Endpoint } from '../shared/profile.js';
import { accessLogTo, type AccessLog } from './access-log.js';
import { Authenticator } from './auth/authenticator.js';
import { AuthEvents, type AuthObserver } from './auth/events.js';
import { Penalties } from './auth/penalties.js';
import { connectSharedState, type SharedState } from './auth/shared-state.js';
import { TunnelLimits } from './auth/tunnel-limits.js';
import { parseListen, penaltySettingsOf, type GatewayConfig } from './config.js';
import { ConnectionCap, defaultMaxConnections } from './connection-cap.js';
import { Doors } from './doors.js';
import { notFoundFallback } from './h1-proxy.js';
import { h2NotFound } from './h2-proxy.js';
import { GatewayIdentity, webOption } from './identity/identity.js';
import { drain } from './drain.js';
import { GatewayMetrics } from './metrics.js';
import { multiplexes, routeTableOf, trustedProxyList, webTargetOf, type MuxConfig } from './mux/config.js';
import { Multiplexer } from './mux/multiplexer.js';
import { WebFallback } from './mux/web.js';
import { DestinationPolicy, type Resolver } from './policy.js';
import { PublishedProfile } from './profile/published.js';
import { TLS_HELLO_ONLY } from './sniff/index.js';
import { GatewayCounters, type GatewayStats } from './stats.js';
import { TlsService } from './tls-service.js';
import { TunnelRegistry } from './tunnel-registry.js';
import { TunnelRequest } from './tunnel-request.js';
import { createUdpDestinationCheck } from './udp/udp-policy.js';
import { systemResolver } from './upstream.js';
import { UserStore } from './users.js';
import { listenForControl, type ControlListener } from './control/fleet-channel.js';
import type { LocalControl } from './control/fleet-control.js';
import { targetMatches, type RevocationTarget } from './control/revocation-list.js';
import { Revocations } from './control/revocations.js';
import { addToRevokedFile, removeFromRevokedFile, revokedFileOf } from './control/revoked-file.js';
import { LISTENER_OPTIONS } from '../node/socket-options.js';
import { tunnelTimeoutsOf } from '../shared/tunnel-timeouts.js';
import { listenExplained } from '../node/listen-error.js';
import { PinholeError } from '../shared/errors.js';
import type { NativeBytePath } from '../node/native/byte-path.js';
import { startBytePath } from '../node/native/byte-path-flag.js';

export type { GatewayStats } from './stats.js';

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
  /** The byte path already chosen (null: JavaScript); absent, config.bytePath is loaded here with its one log line. */
  readonly bytePath?: NativeBytePath | null;
}

/** Password checks at once: leave one core to the event loop, and thread-pool threads to DNS. */
const defaultAuthConcurrency = (): number => Math.max(1, Math.min(availableParallelism() - 1, 3));

const PASS_THROUGH_NATIVE =
  'The native byte path moves the bytes of pass-through routes (SNI, ssh, openvpn, http) with splice(); tunnels, and routes inside the gateway TLS, use the JavaScript one.';

/** How long a TLS-only listener waits for a ClientHello. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;

export class Gateway {
  readonly users: UserStore;
  readonly policy: DestinationPolicy;
  readonly metrics: GatewayMetrics;
  /** 'failure' | 'penalty' | 'refusal', each with { client, source, user, code, ... } (gateway/auth/events.ts). */
  readonly authEvents: AuthEvents;
  readonly auth: Authenticator;
  readonly limits: TunnelLimits;
  readonly tunnels: TunnelRegistry;
  /** Sign-in with identity providers and tunnel credentials (gateway.yaml's `identity:`), absent when not set up. */
  readonly identity: GatewayIdentity | undefined;
  /** Who may no longer open tunnels: the `revoked` file and the fleet's deny list (gateway/control/). */
  readonly revocations: Revocations;
  /** The operator console's local side of the fleet control channel (control/fleet-control.ts). */
  readonly localControl: LocalControl;
  /** --max-connections: accepted and dialled sockets, 503 for new requests beyond it (gateway/connection-cap.ts). */
  readonly cap: ConnectionCap;
  readonly doors: Doors;
  readonly tlsService: TlsService;
  /** The front door: every accepted connection goes through it. */
  readonly front: Multiplexer;
  private readonly net: NetServer;
  private readonly logger: Logger;
  private readonly counters: GatewayCounters;
  private readonly profile: PublishedProfile;
  private readonly state: SharedState | undefined;
  private readonly control: ControlListener | undefined;
  private readonly sockets = new Set<Socket>();
  private closing = false;
  private draining = false;

  constructor(
    readonly config: GatewayConfig,
    deps: GatewayDeps,
  ) {
    const logger = (this.logger = deps.logger);
    const resolver = deps.resolver ?? systemResolver;
    this.users = new UserStore(config.usersFile, logger);
    this.policy = new DestinationPolicy({ allowPorts: config.allowPorts, httpPorts: config.httpPorts, restrictTo: config.restrictTo }, resolver);
    const metrics = (this.metrics = deps.metrics ?? new GatewayMetrics({ defaultMetrics: false }));
    this.authEvents = new AuthEvents(deps.authEvents);
    this.counters = new GatewayCounters(this.authEvents, metrics);
    this.state = config.state === undefined ? undefined : connectSharedState(config.state, logger, config.stateTimeoutSeconds * 1000);
    const penalties = new Penalties(penaltySettingsOf(config), this.state?.limiters);
    const identity = (this.identity = config.identity === undefined ? undefined : new GatewayIdentity(config.identity, config.dir, logger));
    const revokedFile = revokedFileOf(config.dir);
    const revocations = (this.revocations = new Revocations(revokedFile, logger));
    this.auth = new Authenticator(
      this.users,
      penalties,
      this.authEvents,
      logger,
      { concurrency: config.authConcurrency ?? defaultAuthConcurrency(), maxPending: config.authMaxPending, negativeCacheMs: config.authNegativeCacheSeconds * 1000 },
      identity?.credentials,
      revocations,
    );
    this.limits = new TunnelLimits({ maxTunnelsPerUser: config.maxTunnelsPerUser, maxTunnelsPerSource: config.maxTunnelsPerSource });
    this.tunnels = new TunnelRegistry(this.limits, metrics);
    revocations.on('revoked', (target) => this.endRevoked(target));
    revocations.on('disconnect', (session) => {
      if (this.tunnels.sessions.end(session)) logger.info({ session }, "The operator ended a session: its tunnels were closed.");
    });
    revocations.load();
    this.control =
      config.state === undefined
        ? undefined
        : listenForControl({
            url: config.state,
            logger,
            timeoutMs: Math.max(1_000, config.stateTimeoutSeconds * 1000),
            onMessage: (message) => revocations.fleetMessage(message),
            onSnapshot: (entries) => revocations.fleetSnapshot(entries),
          });
    this.localControl = {
      revoke: async (entry) => {
        revocations.revokeHere(entry);
        await addToRevokedFile(revokedFile, entry);
      },
      restore: async (target) => {
        revocations.restoreHere(target);
        await removeFromRevokedFile(revokedFile, target);
      },
      disconnect: (session) => Promise.resolve(this.tunnels.sessions.end(session)),
    };
    const cap = (this.cap = new ConnectionCap({ max: config.maxConnections ?? defaultMaxConnections(), logger, onRefused: (refused) => metrics.capRefusals.inc({ refused }), onCount: (n) => metrics.connectionsOpen.set(n) }));
    const relayTimeouts = tunnelTimeoutsOf(config);
    const native = deps.bytePath === undefined ? startBytePath(config.bytePath, logger, PASS_THROUGH_NATIVE, 'the bytes of pass-through routes') : (deps.bytePath ?? undefined);
    const requests = new TunnelRequest({
      auth: this.auth,
      authEvents: this.authEvents,
      limits: this.limits,
      policy: this.policy,
      registry: this.tunnels,
      cap,
      relayTimeouts,
      metrics,
      accessLog: deps.accessLog ?? accessLogTo(logger),
      logger,
      connectTimeoutMs: config.connectTimeoutMs,
      udp: { decide: createUdpDestinationCheck({ udpPorts: config.allowUdpPorts, restrictTo: config.restrictTo }, resolver), idleTimeoutMs: config.udpTimeoutSeconds * 1000 },
    });
    const mux = deps.mux;
    const web = mux === undefined ? undefined : new WebFallback({ web: webTargetOf(mux), logger, relayTimeouts });
    this.profile = new PublishedProfile(config, logger);
    this.doors = new Doors(
      requests,
      {
        h1: {
          profile: this.profile.handler,
          headerTimeoutMs: config.headerTimeoutMs,
          maxHeaderBytes: config.maxHeaderBytes,
          ...(mux === undefined ? {} : { wsPath: mux.wsPath }),
          ...webOption(identity, web === undefined ? undefined : (req, res) => web.handle(req, res), notFoundFallback),
          ...(web === undefined ? {} : { upgrade: (req, socket, head) => web.upgrade(req, socket, head) }),
        },
        h2: {
          profile: this.profile.handler,
          maxStreams: config.maxStreamsPerSession,
          maxHeaderBytes: config.maxHeaderBytes,
          ...webOption(identity, web === undefined ? undefined : (req, res) => web.handle(req, res), h2NotFound),
        },
      },
      { mux, relayTimeouts, cap },
      logger,
    );
    this.tlsService = new TlsService(
      { certFile: config.certFile, keyFile: config.keyFile, hostname: config.hostname, tlsProfile: config.tlsProfile, ticketKeys: deps.ticketKeys, ticketKeysFile: deps.ticketKeysFile },
      this.doors,
      metrics,
      logger,
    );
    const routed = mux !== undefined && multiplexes(mux);
    const trusted = mux === undefined ? undefined : trustedProxyList(mux.trustedProxies);
    this.front = new Multiplexer({
      // Without routes the front door is the sniffer with one row: a TLS ClientHello.
      table: routed ? routeTableOf(mux) : { sni: [] },
      ...(routed ? {} : { probes: TLS_HELLO_ONLY }),
      ownNames: [config.hostname],
      ...(trusted === undefined ? {} : { trustedProxies: trusted }),
      sniffTimeoutMs: routed ? mux.sniffTimeoutMs : FIRST_BYTES_TIMEOUT_MS,
      connectTimeoutMs: config.connectTimeoutMs,
      relayTimeouts,
      cap,
      native,
      logger,
      tls: this.tlsService,
      onRoute: (route, sniffed) => this.counters.routed(route, sniffed),
    });
    this.net = createNetServer(LISTENER_OPTIONS, (socket) => this.accept(socket));
  }

  /** The TLS server whose ticket key encrypts new tickets. */
  get tls(): TlsServer {
    return this.tlsService.tls;
  }

  reloadTicketKeys(): void {
    this.tlsService.reloadTicketKeys();
  }

  reloadProfile(): void {
    this.profile.reload();
  }

  /** Reload cert/key from disk into the live TLS servers (no restart); the profile's pins follow. */
  reloadCertificate(): void {
    this.profile.reload();
    this.tlsService.reloadCertificate();
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
    if (ep === undefined) throw new PinholeError('PINHOLE_CONFIG_INVALID', `The listen address ${String(listen)} is not HOST:PORT.`);
    await listenExplained(this.net, { host: ep.host, port: ep.port, what: 'The gateway', flag: '--listen (or listen: in gateway.yaml)' });
    // A user disabled in the users file loses their open tunnels at its reload (within a second or two).
    this.users.watch(() => {
      for (const value of this.users.disabledUsers()) this.endRevoked({ kind: 'user', value }, 'the users file');
    });
    this.revocations.watch();
    this.tlsService.watch(() => this.profile.reload());
    this.profile.watch();
    this.identity?.watch();
    return this.net.address() as AddressInfo;
  }

  address(): AddressInfo {
    return this.net.address() as AddressInfo;
  }

  /** Every accepted TCP socket, owned here until it closes, enters through the front door. */
  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (!this.cap.accepted(socket)) return;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.front.accept(socket);
  }

  /** End the open tunnels of whoever `target` names (a revocation), with one line when there were any. */
  private endRevoked(target: RevocationTarget, from = 'a revocation'): void {
    const ended = this.tunnels.sessions.endWhere((principal) => targetMatches(target, principal));
    if (ended > 0) this.logger.info({ kind: target.kind, value: target.value, tunnels: ended, from }, "A revoked user's open tunnels were ended.");
  }

  stats(): GatewayStats {
    return this.counters.stats(this.doors, this.tunnels);
  }

  /** Stop accepting, GOAWAY h2 sessions, wait up to drainMs for open tunnels, then close everything. */
  async close(drainMs = this.config.drainSeconds * 1000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // The drain deadline counts from the stop, GOAWAY round trip included (a client may not answer it).
    const deadline = Date.now() + drainMs;
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    this.users.unwatch();
    this.tlsService.unwatch();
    this.profile.unwatch();
    this.identity?.unwatch();
    this.revocations.unwatch();
    this.control?.close();
    await drain(this.doors, this.tunnels, deadline, this.logger, this.front);
    for (const socket of this.sockets) socket.destroy();
    await closed;
    await this.state?.close();
  }
}
