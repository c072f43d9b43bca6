/**
 * The client engine: a local proxy on 127.0.0.1 whose tunnels go through one gateway, and what
 * every front end drives (CLI, console, Electron main). A composition root: per connection it wires
 * the transport (tunnel/negotiate.ts), the tunnel opener, the reconnect (reconnect.ts), the router
 * (app-router.ts), the local proxy and the profile's refresh (gateways/connection-profile.ts); it
 * holds the connection state (connection-status.ts), live stats and the bounded log (engine-log.ts).
 * No Electron, no UI here.
 */
import type { NativeBytePath } from '../node/native/byte-path.js';
import type { ConnectionGate } from './lan/allow-list.js';
import type { LocalUsers } from './lan/local-users.js';
import type { TerminalStats } from './lan/terminal-stats.js';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Disposer, EngineApi, EngineEvents, EngineStats, EngineStatus, LogLine, NetworkChangeReason, SeenApp, SignInPrompt } from '../shared/engine-api.js';
import { ERRORS, PinholeError, toWire } from '../shared/errors.js';
import type { GatewaysStatus } from '../shared/gateway-status.js';
import type { Logger } from '../shared/log.js';
import { formatEndpoint, parseEndpoint, type GatewayTarget } from '../shared/profile.js';
import type { TunnelTimeouts } from '../shared/tunnel-timeouts.js';
import { AppRouter, SeenApps } from './app-router.js';
import { ConnectionStatus } from './connection-status.js';
import { createEngineLog, type EngineLogOptions } from './engine-log.js';
import { parseListen } from './listen-address.js';
import type { LogRing } from './log-ring.js';
import { LocalProxy } from './proxy/local-proxy.js';
import { isCertificateFailure, Reconnect } from './reconnect.js';
import { defaultPortalProbe, findCaptivePortal } from './network/captive-portal.js';
import { NetworkWatch } from './network/network-watch.js';
import { Roaming } from './network/roaming.js';
import { SuspendWatch } from './network/suspend-watch.js';
import type { CallingApp, RouteDecision, RouteQuery } from './routing.js';
import { ConnectionProfile } from './gateways/connection-profile.js';
import { checkCredentialAtStart } from './gateways/credential-check.js';
import type { RefreshOutcome } from './gateways/refresh.js';
import type { SignedInCredential } from './identity/signed-in-credential.js';
import { openTransport } from './tunnel/negotiate.js';
import { TunnelOpener } from './tunnel/opener.js';
import type { GatewayChoiceOptions, Transport, UpstreamProxy } from './tunnel/transport.js';
import { INSECURE_WARNING, warnIfInsecure } from './tunnel/verify.js';

export interface EngineConnectOptions {
  /** Where the local proxy listens, "127.0.0.1:PORT" (port 0 picks one). Default 127.0.0.1:8080. */
  listen?: string;
  profileName?: string;
  /** Where each request goes (main/routing.ts), asked once per request with the calling app when it is known; default: the tunnel. */
  decide?: (query: RouteQuery) => RouteDecision;
  /** Finds the application behind a local connection (main/apps); enables per-app routing and getApps(). */
  identifyApp?: (socket: Socket) => Promise<CallingApp | undefined>;
  upstreamProxy?: UpstreamProxy;
  /** The PAC served at /proxy.pac for the proxy at `listen` (the rule engine, main/routing.ts); default sends everything to the local proxy. */
  pac?: (listen: string) => string;
  /**
   * Start tunnels to destinations the gateway accepted in the last minutes without waiting for
   * its answer (saves one round trip per new connection; HTTP/2 transport). Default true.
   */
  earlyStart?: boolean;
  /** LAN box mode (issue 14): the allow-list gate, --local-users, per-terminal counters (in getStats()). */
  lan?: { gate?: ConnectionGate; users?: LocalUsers; terminals?: TerminalStats };
  /** How the gateway is chosen among the profile's endpoints (probe interval, tolerance, liveness timeout, the racing dial's stagger); defaults in main/gateways/. */
  gatewayChoice?: GatewayChoiceOptions & { staggerMs?: number };
  /**
   * Fetch the user's profile from the gateway after connecting and every few hours after, and
   * apply what changed (endpoints to the chooser); default true. `onProfileChange` gets the updated
   * target to store it (the profile store; the command line keeps it for this run only).
   */
  refreshProfile?: boolean;
  onProfileChange?: (target: GatewayTarget) => void | Promise<void>;
  /** Refresh interval until the gateway's document suggests its own (tests). */
  profileRefreshMs?: number;
  /** --half-close-timeout, --idle-timeout (issue 28); default DEFAULT_TUNNEL_TIMEOUTS. */
  tunnelTimeouts?: TunnelTimeouts;
  /** `--byte-path`: the native byte path when it was chosen (HTTP/1.1 tunnels use it); absent: JavaScript. */
  nativeBytePath?: NativeBytePath;
  /**
   * A signed-in user's tunnel credential (issue 18; main/identity/): tunnels carry it as Bearer
   * instead of the password; the engine owns it from here (stopped at disconnect). When it ends
   * (revoked, sign-in needed) the connection goes to 'error' with that sentence and stops retrying.
   */
  credential?: SignedInCredential;
  /**
   * Watch the network (issue 20): address and route changes (Linux, `ip monitor`) and resumes (a
   * clock jump) make the connection prove itself and re-dial at once. Front ends turn it on
   * (`--no-netwatch` turns it off); default off, so an embedded engine starts no child process.
   */
  netwatch?: boolean;
  /** A resume is a gap this much longer than the clock check's period (default 3 s). */
  suspendThresholdMs?: number;
  /** The captive portal probe (a plain http URL); default the first endpoint's host on port 80. */
  portalProbe?: string;
  /** How often the gateway is tried again behind a captive portal (default 3 s). */
  portalRetryMs?: number;
}

export interface EngineOptions extends EngineLogOptions {
  statsIntervalMs?: number;
  /** First reconnect delay; doubles up to maxBackoffMs, with jitter. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export { parseListen } from './listen-address.js';

export class Engine implements EngineApi {
  readonly logger: Logger;
  private readonly ring: LogRing;
  private readonly events = new EventEmitter();
  private readonly connection = new ConnectionStatus();
  private transport: Transport | undefined;
  private proxy: LocalProxy | undefined;
  private terminals: TerminalStats | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly apps = new SeenApps();
  private generation = 0;
  private opener: TunnelOpener | undefined;
  private reconnect: Reconnect | undefined;
  private profile: ConnectionProfile | undefined;
  private credential: SignedInCredential | undefined;
  private signInPrompt: SignInPrompt | undefined;
  private roaming: Roaming | undefined;
  private watches: Array<{ stop(): void }> = [];

  constructor(private readonly options: EngineOptions = {}) {
    ({ logger: this.logger, ring: this.ring } = createEngineLog(options));
    this.ring.onLine((line) => this.events.emit('log', line));
    this.events.setMaxListeners(50);
    this.connection.on('change', () => this.events.emit('status', this.getStatus()));
    this.apps.on('apps', (apps: SeenApp[]) => this.events.emit('apps', apps));
  }

  getStatus(): EngineStatus {
    // Round trips change with every sample: read them live rather than emitting a status per PING.
    const status = this.connection.current;
    const live = status.gateways === undefined ? undefined : this.transport?.gateways?.();
    const refreshedAt = this.profile?.refreshedAt;
    const gateways = live && refreshedAt !== undefined ? { ...live, profileRefreshedAt: refreshedAt } : live;
    const credential = this.credential?.validUntil;
    return {
      ...status,
      warnings: [...status.warnings],
      ...(gateways ? { gateways } : {}),
      ...(this.signInPrompt ? { signIn: this.signInPrompt } : {}),
      ...(credential === undefined ? {} : { credentialValidUntil: credential }),
    };
  }

  getStats(): EngineStats {
    const counters = this.proxy?.counters() ?? { openTunnels: 0, totalTunnels: 0, bytesUp: 0, bytesDown: 0 };
    const transport = this.transport?.stats() ?? { gatewayConnections: 0, rttMs: null };
    const terminals = this.terminals?.snapshot();
    return { ...counters, ...transport, ...(terminals === undefined ? {} : { terminals }) };
  }

  getLog(): LogLine[] {
    return this.ring.get();
  }

  getApps(): SeenApp[] {
    return this.apps.list();
  }

  on<K extends keyof EngineEvents>(event: K, listener: (payload: EngineEvents[K]) => void): Disposer {
    const handler = listener as (payload: unknown) => void;
    this.events.on(event, handler);
    return () => this.events.off(event, handler);
  }

  /**
   * The device code and page of a sign-in under way (issue 18), shown by every front end until the
   * sign-in ends (undefined clears it). Signing in is the front end's (main/identity/sign-in.ts).
   */
  showSignInPrompt(prompt: SignInPrompt | undefined): void {
    this.signInPrompt = prompt;
    this.events.emit('status', this.getStatus());
  }

  async connect(target: GatewayTarget, password: string, options: EngineConnectOptions = {}): Promise<{ listen: string }> {
    if (this.connection.state !== 'disconnected' && this.connection.state !== 'error') await this.disconnect();
    this.credential?.stop();
    this.credential = options.credential;
    if (target.signIn !== undefined && options.credential === undefined) throw new PinholeError('PINHOLE_SIGNIN_REQUIRED');
    const generation = ++this.generation;
    this.reconnect?.stop();
    const listen = parseListen(options.listen ?? '127.0.0.1:8080');
    if (!listen) throw new PinholeError('PINHOLE_CONFIG_INVALID', `The listen address "${options.listen}" must be HOST:PORT.`);
    const endpoints = target.endpoints.map((e) => parseEndpoint(e)).filter((e): e is NonNullable<typeof e> => e !== undefined);
    const warnings = target.trust.kind === 'insecure' ? [INSECURE_WARNING] : [];
    const base = { profile: options.profileName ?? 'command line', gateway: target.serverName, warnings };
    this.connection.set({ state: 'connecting', ...base });
    warnIfInsecure(target.trust, this.logger);
    this.logger.info({ gateway: target.serverName, endpoints: target.endpoints, transport: target.transport, user: target.user }, 'Connecting to the gateway.');
    const portalProbe = options.portalProbe ?? defaultPortalProbe(endpoints[0]?.host ?? target.serverName);
    let transport: Transport;
    try {
      transport = await openTransport(target.transport, {
        endpoints,
        serverName: target.serverName,
        trust: target.trust,
        user: options.credential?.user ?? target.user,
        password,
        ...(options.credential ? { authorization: options.credential } : {}),
        wsPath: target.wsPath,
        logger: this.logger,
        ...(options.upstreamProxy ? { upstreamProxy: options.upstreamProxy } : {}),
        ...(options.nativeBytePath ? { nativeBytePath: options.nativeBytePath } : {}),
        ...(options.gatewayChoice ? { choice: options.gatewayChoice, ...(options.gatewayChoice.staggerMs === undefined ? {} : { staggerMs: options.gatewayChoice.staggerMs }) } : {}),
      });
    } catch (err) {
      const failure = err instanceof PinholeError ? err : new PinholeError('PINHOLE_INTERNAL', undefined, { cause: err });
      // Connecting from behind a captive portal: say so, and where to sign in, rather than the pin's warning.
      const portal = isCertificateFailure(failure.code) ? await findCaptivePortal(portalProbe) : undefined;
      const error = portal === undefined ? failure : new PinholeError('PINHOLE_CAPTIVE_PORTAL', `${ERRORS.PINHOLE_CAPTIVE_PORTAL.sentence} Sign in at ${portal}`, { cause: failure, details: { portal, certificate: failure.code } });
      this.logger.error({ code: error.code, ...(error.details ?? {}) }, error.message);
      this.connection.set({ state: 'error', ...base, error: toWire(error), ...(portal === undefined ? {} : { portal }) });
      throw error;
    }
    try {
      await checkCredentialAtStart(transport, base.profile);
    } catch (err) {
      await transport.close();
      const error = err instanceof PinholeError ? err : new PinholeError('PINHOLE_INTERNAL', undefined, { cause: err });
      this.logger.error({ code: error.code }, error.message);
      if (generation === this.generation) this.connection.set({ state: 'error', ...base, error: toWire(error) });
      throw error;
    }
    if (generation !== this.generation) {
      await transport.close();
      throw new PinholeError('PINHOLE_NOT_CONNECTED', 'The connection was cancelled.');
    }
    this.transport = transport;
    const reconnect = new Reconnect({
      transport,
      status: this.connection,
      logger: this.logger,
      backoff: this.options,
      findPortal: () => findCaptivePortal(portalProbe),
      ...(options.portalRetryMs === undefined ? {} : { portalRetryMs: options.portalRetryMs }),
    });
    this.reconnect = reconnect;
    this.roaming = new Roaming({ transport, status: this.connection, logger: this.logger, connection: reconnect });
    this.terminals = options.lan?.terminals;
    // The endpoint in use or an endpoint's health changed (the transport logged why).
    transport.on('gateways', (gateways: GatewaysStatus) => {
      if (generation === this.generation && this.connection.state !== 'disconnected') this.connection.set({ ...this.connection.current, gateways });
    });
    // One opener per connection (its generation): another gateway or user may have another policy.
    const opener = new TunnelOpener({ transport, earlyStart: options.earlyStart !== false, connection: reconnect, ...(options.credential ? { authorization: options.credential } : {}) });
    // A credential that ended (revoked, sign-in needed) is fatal: reconnecting cannot help.
    options.credential?.on('ended', (err: PinholeError) => {
      if (generation === this.generation) reconnect.lost(err);
    });
    this.opener = opener;
    const proxy: LocalProxy = new LocalProxy({
      host: listen.host,
      port: listen.port,
      logger: this.logger,
      ...(options.tunnelTimeouts === undefined ? {} : { tunnelTimeouts: options.tunnelTimeouts }),
      opener,
      ...(transport.proxyConnection && transport.proxyAuthorization ? { forwardHttp: { authorization: () => transport.proxyAuthorization ?? '', user: target.user, connections: opener } } : {}),
      ...(options.pac ? { pac: ((pac) => (): string => pac(formatEndpoint(proxy.address)))(options.pac) } : {}),
      ...(options.decide || options.identifyApp ? { router: new AppRouter(options, this.apps) } : {}),
      ...(options.lan?.gate === undefined ? {} : { gate: options.lan.gate }),
      ...(options.lan?.users === undefined ? {} : { users: options.lan.users }),
      ...(options.lan?.terminals === undefined ? {} : { terminals: options.lan.terminals }),
      // SOCKS5 UDP ASSOCIATE (issue 14), when the transport carries UDP (h2, wss).
      ...(transport.openUdpFlow === undefined ? {} : { openUdpFlow: ((open) => (host: string, port: number) => open({ host, port }))(transport.openUdpFlow.bind(transport)) }),
    });
    try {
      await proxy.start();
    } catch (err) {
      opener.retire();
      reconnect.stop();
      this.roaming?.stop();
      this.roaming = undefined;
      await transport.close();
      this.transport = undefined;
      const error = err instanceof PinholeError ? err : new PinholeError('PINHOLE_INTERNAL', undefined, { cause: err });
      this.logger.error({ code: error.code }, error.message);
      this.connection.set({ state: 'error', ...base, error: toWire(error) });
      throw error;
    }
    this.proxy = proxy;
    const address = formatEndpoint(proxy.address);
    const gateways = transport.gateways?.();
    this.connection.set({ state: 'connected', ...base, transport: transport.kind, listen: address, ...(gateways ? { gateways } : {}) });
    this.logger.info({ gateway: target.serverName, transport: transport.kind }, 'Connected to the gateway.');
    this.statsTimer = setInterval(() => this.events.emit('stats', this.getStats()), this.options.statsIntervalMs ?? 1_000);
    this.statsTimer.unref();
    if (options.refreshProfile !== false) this.profile = ConnectionProfile.start(transport, target, { ...options, logger: this.logger });
    if (options.netwatch === true) this.watchNetwork(options);
    return { listen: address };
  }

  /**
   * The network changed (an address, a route, a resume, or the OS's word through the Electron
   * shell's powerMonitor): the connection proves itself and re-dials over the new path now.
   */
  networkChanged(reason: NetworkChangeReason): void {
    this.roaming?.changed(reason);
  }

  /** Address and route changes (Linux) and resumes, for this connection; stopped with it. */
  private watchNetwork(options: EngineConnectOptions): void {
    const suspend = new SuspendWatch(options.suspendThresholdMs === undefined ? {} : { thresholdMs: options.suspendThresholdMs });
    suspend.on('resume', (suspendedMs) => this.roaming?.changed('resume', { suspendedMs }));
    suspend.start();
    this.watches.push(suspend);
    if (process.platform === 'linux') {
      const watch = new NetworkWatch({ logger: this.logger });
      watch.on('change', (reason) => this.networkChanged(reason));
      watch.start();
      this.watches.push(watch);
    }
  }

  async disconnect(): Promise<void> {
    this.generation += 1;
    clearInterval(this.statsTimer);
    this.reconnect?.stop();
    this.reconnect = undefined;
    for (const watch of this.watches.splice(0)) watch.stop();
    this.roaming?.stop();
    this.roaming = undefined;
    const { proxy, transport } = this;
    this.opener?.retire();
    this.opener = undefined;
    this.profile?.stop();
    this.profile = undefined;
    this.credential?.stop();
    this.credential = undefined;
    this.proxy = undefined;
    this.transport = undefined;
    await Promise.all([proxy?.stop(), transport?.close()]);
    const was = this.connection.state;
    if (was !== 'disconnected') {
      this.connection.set({ state: 'disconnected', warnings: [] });
      if (was !== 'error') this.logger.info('Disconnected from the gateway.');
    }
  }

  /** Refresh the profile now (a "check for updates" action); undefined when not connected or the transport cannot fetch it. */
  refreshProfile(): Promise<RefreshOutcome> | undefined {
    return this.profile?.refreshNow();
  }
}
