/**
 * The client engine: a local proxy on 127.0.0.1 whose tunnels go through one gateway. It owns the
 * connection state (disconnected / connecting / connected / reconnecting / error), live stats and
 * a bounded log, and is what every front end drives (CLI, console, Electron main). No Electron,
 * no UI here.
 */
import type { NativeBytePath } from '../node/native/byte-path.js';
import type { ConnectionGate } from './lan/allow-list.js';
import type { LocalUsers } from './lan/local-users.js';
import type { TerminalStats } from './lan/terminal-stats.js';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Disposer, EngineApi, EngineEvents, EngineState, EngineStats, EngineStatus, LogLine, SeenApp } from '../shared/engine-api.js';
import { PinholeError, toWire } from '../shared/errors.js';
import type { GatewaysStatus } from '../shared/gateway-status.js';
import { createLogger, type Logger } from '../shared/log.js';
import { formatEndpoint, parseEndpoint, type GatewayTarget } from '../shared/profile.js';
import type { TunnelTimeouts } from '../shared/tunnel-timeouts.js';
import { isFatal } from './error-meaning.js';
import { LogRing } from './log-ring.js';
import { LocalProxy, type RouteRequest, type Router } from './proxy/local-proxy.js';
import { TUNNEL, type CallingApp, type RouteDecision, type RouteQuery } from './routing.js';
import { applyToTarget, viewOfTarget } from './gateways/profile-changes.js';
import { ProfileRefresher, type RefreshOutcome } from './gateways/refresh.js';
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
}

export interface EngineOptions {
  /** Log lines also go here (the CLI passes stdout); the ring always gets them. */
  logDestination?: { write(text: string): void };
  /** Or an existing logger the lines are forwarded to (the console passes one). */
  logger?: Logger;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  logCapacity?: number;
  statsIntervalMs?: number;
  /** First reconnect delay; doubles up to maxBackoffMs, with jitter. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** "HOST:PORT" where port 0 means "any free port". */
export const parseListen = (text: string): { host: string; port: number } | undefined => {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  if (!match?.[1] || !match[2]) return undefined;
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
};

const forwardTo = (logger: Logger): { write(text: string): void } => ({
  write(text: string): void {
    try {
      const { level, msg, time: _time, name: _name, ...fields } = JSON.parse(text) as Record<string, unknown>;
      const method = level === 'error' || level === 'warn' || level === 'debug' ? level : 'info';
      logger[method](fields, String(msg ?? ''));
    } catch {
      logger.info(text.trim());
    }
  },
});

export class Engine implements EngineApi {
  readonly logger: Logger;
  private readonly ring: LogRing;
  private readonly events = new EventEmitter();
  private status: EngineStatus = { state: 'disconnected', since: Date.now(), warnings: [] };
  private transport: Transport | undefined;
  private proxy: LocalProxy | undefined;
  private terminals: TerminalStats | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private readonly apps = new Map<string, SeenApp>();
  private generation = 0;
  private opener: TunnelOpener | undefined;
  private refresher: ProfileRefresher | undefined;
  private profileRefreshedAt: number | undefined;

  constructor(private readonly options: EngineOptions = {}) {
    this.ring = new LogRing(options.logCapacity ?? 2000);
    const external = options.logDestination ?? (options.logger ? forwardTo(options.logger) : undefined);
    const ring = this.ring;
    this.logger = createLogger({
      name: 'pinhole',
      level: options.logLevel ?? 'info',
      destination: {
        write(text: string): void {
          ring.write(text);
          external?.write(text);
        },
      },
    });
    this.ring.onLine((line) => this.events.emit('log', line));
    this.events.setMaxListeners(50);
  }

  getStatus(): EngineStatus {
    // Round trips change with every sample: read them live rather than emitting a status per PING.
    const live = this.status.gateways === undefined ? undefined : this.transport?.gateways?.();
    const gateways = live && this.profileRefreshedAt !== undefined ? { ...live, profileRefreshedAt: this.profileRefreshedAt } : live;
    return { ...this.status, warnings: [...this.status.warnings], ...(gateways ? { gateways } : {}) };
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
    return [...this.apps.values()].sort((a, b) => b.lastSeen - a.lastSeen);
  }

  on<K extends keyof EngineEvents>(event: K, listener: (payload: EngineEvents[K]) => void): Disposer {
    const handler = listener as (payload: unknown) => void;
    this.events.on(event, handler);
    return () => this.events.off(event, handler);
  }

  async connect(target: GatewayTarget, password: string, options: EngineConnectOptions = {}): Promise<{ listen: string }> {
    if (this.status.state !== 'disconnected' && this.status.state !== 'error') await this.disconnect();
    const generation = ++this.generation;
    const listen = parseListen(options.listen ?? '127.0.0.1:8080');
    if (!listen) throw new PinholeError('PINHOLE_CONFIG_INVALID', `The listen address "${options.listen}" must be HOST:PORT.`);
    const endpoints = target.endpoints.map((e) => parseEndpoint(e)).filter((e): e is NonNullable<typeof e> => e !== undefined);
    const warnings = target.trust.kind === 'insecure' ? [INSECURE_WARNING] : [];
    const base = { profile: options.profileName ?? 'command line', gateway: target.serverName, warnings };
    this.setStatus({ state: 'connecting', ...base });
    warnIfInsecure(target.trust, this.logger);
    this.logger.info({ gateway: target.serverName, endpoints: target.endpoints, transport: target.transport, user: target.user }, 'Connecting to the gateway.');
    let transport: Transport;
    try {
      transport = await openTransport(target.transport, {
        endpoints,
        serverName: target.serverName,
        trust: target.trust,
        user: target.user,
        password,
        wsPath: target.wsPath,
        logger: this.logger,
        ...(options.upstreamProxy ? { upstreamProxy: options.upstreamProxy } : {}),
        ...(options.nativeBytePath ? { nativeBytePath: options.nativeBytePath } : {}),
        ...(options.gatewayChoice ? { choice: options.gatewayChoice, ...(options.gatewayChoice.staggerMs === undefined ? {} : { staggerMs: options.gatewayChoice.staggerMs }) } : {}),
      });
    } catch (err) {
      const error = err instanceof PinholeError ? err : new PinholeError('PINHOLE_INTERNAL', undefined, { cause: err });
      this.logger.error({ code: error.code, ...(error.details ?? {}) }, error.message);
      this.setStatus({ state: 'error', ...base, error: toWire(error) });
      throw error;
    }
    if (generation !== this.generation) {
      await transport.close();
      throw new PinholeError('PINHOLE_NOT_CONNECTED', 'The connection was cancelled.');
    }
    this.transport = transport;
    transport.on('lost', (err: PinholeError) => this.lost(err, generation));
    transport.on('up', () => this.recovered(generation));
    this.terminals = options.lan?.terminals;
    // The endpoint in use or an endpoint's health changed (the transport logged why).
    transport.on('gateways', (gateways: GatewaysStatus) => {
      if (generation === this.generation && this.status.state !== 'disconnected') this.setStatus({ ...this.status, gateways });
    });
    // One opener per connection (its generation): another gateway or user may have another policy.
    const opener = new TunnelOpener({
      transport,
      earlyStart: options.earlyStart !== false,
      mayStartEarly: () => this.status.state === 'connected',
      onConnectionFailure: (err) => this.lost(err, generation),
      onOpened: () => this.recovered(generation),
    });
    this.opener = opener;
    const proxy: LocalProxy = new LocalProxy({
      host: listen.host,
      port: listen.port,
      logger: this.logger,
      ...(options.tunnelTimeouts === undefined ? {} : { tunnelTimeouts: options.tunnelTimeouts }),
      opener,
      ...(transport.proxyConnection && transport.proxyAuthorization ? { forwardHttp: { authorization: transport.proxyAuthorization, user: target.user, connections: opener } } : {}),
      ...(options.pac ? { pac: ((pac) => (): string => pac(formatEndpoint(proxy.address)))(options.pac) } : {}),
      ...(options.decide || options.identifyApp ? { router: this.router(options) } : {}),
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
      await transport.close();
      this.transport = undefined;
      const error = err instanceof PinholeError ? err : new PinholeError('PINHOLE_INTERNAL', undefined, { cause: err });
      this.logger.error({ code: error.code }, error.message);
      this.setStatus({ state: 'error', ...base, error: toWire(error) });
      throw error;
    }
    this.proxy = proxy;
    const address = formatEndpoint(proxy.address);
    this.attempt = 0;
    const gateways = transport.gateways?.();
    this.setStatus({ state: 'connected', ...base, transport: transport.kind, listen: address, ...(gateways ? { gateways } : {}) });
    this.logger.info({ gateway: target.serverName, transport: transport.kind }, 'Connected to the gateway.');
    this.statsTimer = setInterval(() => this.events.emit('stats', this.getStats()), this.options.statsIntervalMs ?? 1_000);
    this.statsTimer.unref();
    if (options.refreshProfile !== false) this.startRefresher(transport, target, options);
    return { listen: address };
  }

  async disconnect(): Promise<void> {
    this.generation += 1;
    clearInterval(this.statsTimer);
    clearTimeout(this.retryTimer);
    const { proxy, transport } = this;
    this.opener?.retire();
    this.opener = undefined;
    this.refresher?.stop();
    this.refresher = undefined;
    this.proxy = undefined;
    this.transport = undefined;
    await Promise.all([proxy?.stop(), transport?.close()]);
    const was = this.status.state;
    if (was !== 'disconnected') {
      this.setStatus({ state: 'disconnected', warnings: [] });
      if (was !== 'error') this.logger.info('Disconnected from the gateway.');
    }
  }

  /** Refresh the profile now (a "check for updates" action); undefined when not connected or the transport cannot fetch it. */
  refreshProfile(): Promise<RefreshOutcome> | undefined {
    return this.refresher?.refreshNow();
  }

  /** The profile refreshes itself over the connection in use (main/gateways/refresh.ts); changes apply without dropping tunnels. */
  private startRefresher(transport: Transport, connected: GatewayTarget, options: EngineConnectOptions): void {
    const fetch = transport.fetchProfile?.bind(transport);
    if (!fetch) return;
    let target = connected;
    this.profileRefreshedAt = undefined;
    const refresher = new ProfileRefresher({
      fetch: async (etag) => {
        const result = await fetch(etag);
        this.profileRefreshedAt = Date.now();
        return result;
      },
      stored: () => viewOfTarget(target),
      context: () => ({
        working: transport.gateways?.().endpoints.filter((e) => e.health === 'up').map((e) => e.endpoint) ?? [...target.endpoints],
        ...(target.trust.kind === 'pin' ? { verifiedPin: target.trust.pin } : {}),
      }),
      apply: async (plan) => {
        target = applyToTarget(target, plan.next);
        transport.setEndpoints?.(plan.next.endpoints.map((e) => parseEndpoint(e)).filter((e): e is NonNullable<typeof e> => e !== undefined));
        transport.setTrust?.(target.trust);
        await options.onProfileChange?.(target);
      },
      logger: this.logger,
      ...(options.profileRefreshMs === undefined ? {} : { intervalMs: options.profileRefreshMs }),
    });
    this.refresher = refresher;
    void refresher.start();
  }

  /** Each request's route, once: the calling app (when it can be told, and recorded as seen), then the routing's decision. */
  private router({ decide, identifyApp }: EngineConnectOptions): Router {
    return {
      route: async ({ host, port, socket }: RouteRequest): Promise<RouteDecision> => {
        const app = identifyApp ? await identifyApp(socket).catch(() => undefined) : undefined;
        if (app) this.sawApp(app);
        return decide ? decide({ host, port, ...(app ? { app } : {}) }) : TUNNEL;
      },
    };
  }

  private sawApp(app: CallingApp): void {
    const seen = this.apps.get(app.path);
    this.apps.set(app.path, { path: app.path, name: app.name, lastSeen: Date.now(), connections: (seen?.connections ?? 0) + 1 });
    if (!seen) this.events.emit('apps', this.getApps());
  }

  /** The gateway went away: say so, and try again with exponential backoff and jitter. */
  private lost(err: PinholeError, generation: number): void {
    if (generation !== this.generation || this.status.state === 'disconnected') return;
    if (isFatal(err.code)) {
      clearTimeout(this.retryTimer);
      this.logger.error({ code: err.code, ...(err.details ?? {}) }, err.message);
      this.setStatus({ ...this.status, state: 'error', error: toWire(err), retryAt: undefined });
      return;
    }
    if (this.status.state === 'reconnecting') return;
    this.logger.warn({ code: err.code }, 'The connection to the gateway was lost; reconnecting.');
    this.attempt = 0;
    this.scheduleRetry(err, generation);
  }

  private scheduleRetry(err: PinholeError, generation: number): void {
    const base = this.options.backoffMs ?? 1_000;
    const delay = Math.min(this.options.maxBackoffMs ?? 30_000, base * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.setStatus({ ...this.status, state: 'reconnecting', error: toWire(err), retryAt: Date.now() + Math.round(delay) });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      const transport = this.transport;
      if (!transport || generation !== this.generation) return;
      transport.warm().then(
        () => this.recovered(generation),
        (next: unknown) => {
          if (generation !== this.generation) return;
          const error = next instanceof PinholeError ? next : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: next });
          if (isFatal(error.code)) return this.lost(error, generation);
          this.logger.info({ code: error.code, attempt: this.attempt }, 'The gateway is still unreachable; trying again later.');
          this.scheduleRetry(error, generation);
        },
      );
    }, delay);
    this.retryTimer.unref();
  }

  private recovered(generation: number): void {
    if (generation !== this.generation || this.status.state !== 'reconnecting') return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    const { error: _error, retryAt: _retryAt, ...rest } = this.status;
    this.setStatus({ ...rest, state: 'connected' });
    this.logger.info('The connection to the gateway is back.');
  }

  private setStatus(next: Omit<EngineStatus, 'since'> & { since?: number; state: EngineState }): void {
    const changed = next.state !== this.status.state;
    const status: EngineStatus = { ...next, since: changed ? Date.now() : (next.since ?? this.status.since), warnings: next.warnings ?? [] };
    for (const key of Object.keys(status) as Array<keyof EngineStatus>) if (status[key] === undefined) delete status[key];
    this.status = status;
    this.events.emit('status', this.getStatus());
  }
}
