/**
 * The HTTP/2 sessions to the gateway and their failover: one warm session carries every tunnel; a
 * lost or GOAWAY'd session is replaced on the next request, only the streams that were open on it
 * end. The session is dialled with the racing dial in the chooser's order; a PING watcher proves
 * it alive (when idle, and whenever a tunnel waits for its answer); a session that stops answering
 * is declared dead, the next best endpoint is dialled and the tunnels that were still waiting are
 * cancelled, for the transport to send again there. The other endpoints are measured in the
 * background (endpoint-probes.ts); a switch moves new tunnels only, existing ones stay where they are.
 *
 * Events: 'up' (a session to the gateway is established), 'lost' (PinholeError: the session in
 * use died and none replaced it), 'gateways' (GatewaysStatus).
 */
import { EventEmitter } from 'node:events';
import { connect as h2Connect, type ClientHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { PinholeError } from '../../shared/errors.js';
import type { GatewaysStatus, GatewaySwitch } from '../../shared/gateway-status.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../../shared/profile.js';
import { GatewayChooser, type SwitchDecision } from '../gateways/chooser.js';
import { localAddressGone } from '../network/local-addresses.js';
import { DEFAULT_LIVENESS_TIMEOUT_MS, SessionDeadline, SessionLiveness } from '../gateways/liveness.js';
import type { RaceWinner } from '../gateways/race.js';
import { raceGateway, TlsSessionCache } from './dial.js';
import { EndpointProbes, type ProbedSessions } from './endpoint-probes.js';
import type { GatewayDialOptions, TransportStats } from './transport.js';

export interface H2SessionsOptions extends GatewayDialOptions {
  /** A connection that already negotiated ALPN h2 (from negotiation) to use first. */
  initialSocket?: TLSSocket;
  /** The endpoint `initialSocket` goes to (the first endpoint when omitted). */
  initialEndpoint?: Endpoint;
  sessions?: TlsSessionCache;
  /** A PING when the session has been quiet this long (default 10 s). */
  pingIntervalMs?: number;
}

/** How long a standby connection (dialled when a PING was slow) is kept unused. */
const STANDBY_MS = 5_000;

export const H2_STREAM_WINDOW = 16 * 1024 * 1024;
export const H2_SESSION_WINDOW = 64 * 1024 * 1024;

/** Cancels one tunnel waiting for its CONNECT answer (its session stopped answering). */
export type CancelWaiting = (err: PinholeError) => void;

export class H2Sessions extends EventEmitter implements ProbedSessions {
  private session: ClientHttp2Session | undefined;
  private dialing: Promise<ClientHttp2Session> | undefined;
  private readonly sessionsAlive = new Set<ClientHttp2Session>();
  private readonly tlsSessions: TlsSessionCache;
  private readonly chooser: GatewayChooser;
  private readonly probes: EndpointProbes;
  /** Which endpoint each session goes to, and its PING watcher. */
  private readonly endpointOf = new WeakMap<ClientHttp2Session, string>();
  /** Each session's TLS connection: a session given up is ended with it, even while its path is stalled. */
  private readonly socketOf = new WeakMap<ClientHttp2Session, TLSSocket>();
  private readonly watchers = new Map<ClientHttp2Session, SessionLiveness>();
  /** Sessions that stopped answering: their waiting tunnels may be sent again. */
  private readonly dead = new WeakSet<ClientHttp2Session>();
  /** Per session, the tunnels waiting for their CONNECT answer: a session that stops answering sends them elsewhere. */
  private readonly waiting = new Map<ClientHttp2Session, Set<CancelWaiting>>();
  /** Sessions that take no new tunnels but still carry open ones, each with its deadline. */
  private readonly draining = new Map<ClientHttp2Session, SessionDeadline>();
  /** The next best endpoint, dialled when a PING was slow to answer, so a dead session's successor is ready. */
  private standby: Promise<RaceWinner<TLSSocket> | undefined> | undefined;
  private lastSwitch: GatewaySwitch | undefined;
  private lastShape = '';
  private rttMs: number | null = null;
  private closed = false;

  constructor(private readonly options: H2SessionsOptions) {
    super();
    this.tlsSessions = options.sessions ?? new TlsSessionCache();
    const endpoints = [...new Set(options.endpoints.map(formatEndpoint))];
    const initial = options.initialSocket ? formatEndpoint(options.initialEndpoint ?? (options.endpoints[0] as Endpoint)) : undefined;
    const { livenessTimeoutMs: _liveness, sessionTimeoutMs: _session, ...tuning } = options.choice ?? {};
    this.chooser = new GatewayChooser({ endpoints, userKey: options.user, ...(initial === undefined ? {} : { current: initial }), ...tuning, now: Date.now, random: Math.random });
    this.probes = new EndpointProbes(this.chooser, this, options, this.tlsSessions);
    if (options.initialSocket && initial !== undefined) this.session = this.adopt(options.initialSocket, initial);
    this.probes.arm();
  }

  stats(): TransportStats {
    return { gatewayConnections: this.sessionsAlive.size, rttMs: this.rttMs };
  }

  gateways(): GatewaysStatus {
    return {
      inUse: this.chooser.current,
      endpoints: this.chooser.snapshot().map(({ endpoint, health, rttMs, current, failure }) => ({ endpoint, health, rttMs, current, ...(failure === undefined ? {} : { failure }) })),
      ...(this.lastSwitch ? { lastSwitch: this.lastSwitch } : {}),
    };
  }

  setEndpoints(endpoints: readonly Endpoint[]): void {
    if (endpoints.length === 0) return;
    this.options.endpoints = [...endpoints];
    this.apply(this.chooser.setEndpoints(endpoints.map(formatEndpoint)));
    this.changed();
    this.probes.arm();
  }

  /** The session new tunnels go on: the warm one, or a racing dial in the chooser's order. */
  current(): Promise<ClientHttp2Session> {
    if (this.closed) return Promise.reject(new PinholeError('PINHOLE_NOT_CONNECTED'));
    const session = this.session;
    if (session && !session.closed && !session.destroyed) return Promise.resolve(session);
    this.dialing ??= this.dial().finally(() => {
      this.dialing = undefined;
    });
    return this.dialing;
  }

  /**
   * A tunnel waits for its CONNECT answer on `session`: a PING rides along (one outstanding at a
   * time for all of them, so a frozen gateway is noticed within the liveness timeout), and should
   * the session stop answering, `cancel` is called. The returned function ends the wait.
   */
  awaitAnswer(session: ClientHttp2Session, cancel: CancelWaiting): () => void {
    const waiters = this.waiting.get(session) ?? new Set<CancelWaiting>();
    this.waiting.set(session, waiters);
    waiters.add(cancel);
    this.watchers.get(session)?.probeNow().catch(() => undefined);
    return () => {
      waiters.delete(cancel);
      if (waiters.size === 0) this.waiting.delete(session);
    };
  }

  /** An answer arrived on `session`: it is alive. */
  answered(session: ClientHttp2Session): void {
    this.watchers.get(session)?.noteActivity();
  }

  isDead(session: ClientHttp2Session): boolean {
    return this.dead.has(session);
  }

  inUseOn(endpoint: string): { session: ClientHttp2Session; watcher: SessionLiveness } | undefined {
    const session = this.session;
    const watcher = session && this.endpointOf.get(session) === endpoint ? this.watchers.get(session) : undefined;
    return session && watcher ? { session, watcher } : undefined;
  }

  /** Stop using a session for new streams (GOAWAY or broken); open streams finish on it. */
  forget(session: ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
  }

  /**
   * The network changed: a PING on the session in use now rather than at the next idle one. One
   * that does not answer within the liveness timeout is dead (its 'dead' handler dials the next
   * session and sends the waiting CONNECTs there); sessions that stopped answering are not waited
   * for any longer (their tunnels are reset). Resolves with a live session in place.
   */
  async networkChanged(): Promise<void> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    const session = this.session;
    const watcher = session === undefined ? undefined : this.watchers.get(session);
    if (session && watcher && !session.closed && !session.destroyed) {
      // The address it was made from left the computer: nothing can come back, no PING to wait for.
      if (localAddressGone(this.socketOf.get(session)?.localAddress)) this.stoppedAnswering(session, new PinholeError('PINHOLE_GATEWAY_UNRESPONSIVE', 'The network changed: the address this connection came from is gone.'));
      else await watcher.probeNow().catch(() => undefined);
    }
    for (const [dead, deadline] of [...this.draining]) {
      if (this.dead.has(dead)) deadline.endNow(new PinholeError('PINHOLE_GATEWAY_UNRESPONSIVE', 'The network changed while the gateway was not answering; its tunnels are reset.'));
    }
    await this.current();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.probes.stop();
    void this.standby?.then((winner) => winner?.connection.destroy());
    for (const watcher of this.watchers.values()) watcher.stop();
    this.watchers.clear();
    for (const deadline of this.draining.values()) deadline.stop();
    this.draining.clear();
    const all = [...this.sessionsAlive];
    await Promise.all(
      all.map(
        (session) =>
          new Promise<void>((resolve) => {
            session.once('close', () => resolve());
            this.end(session);
          }),
      ),
    );
  }

  /** The racing dial in the chooser's order (the chosen endpoint first, the ones that are down last). */
  private async dial(): Promise<ClientHttp2Session> {
    const ready = await this.takeStandby();
    const order = this.chooser.dialOrder().map((e) => parseEndpoint(e) as Endpoint);
    let winner;
    try {
      winner = ready ?? (await raceGateway(order, this.options, ['h2'], this.tlsSessions));
    } catch (err) {
      const error = err instanceof PinholeError ? err : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: err });
      for (const failure of (error.details?.['failures'] as Array<{ endpoint: string; code: string }> | undefined) ?? []) this.chooser.fail(failure.endpoint, failure.code);
      const single = error.details?.['endpoint'];
      if (typeof single === 'string') this.chooser.fail(single, error.code);
      this.changed();
      throw error;
    }
    for (const failure of winner.failures) this.apply(this.chooser.fail(failure.endpoint, failure.code));
    const socket = winner.connection;
    if (socket.alpnProtocol !== 'h2') {
      socket.destroy();
      throw new PinholeError('PINHOLE_TLS_FAILED', 'The gateway no longer speaks HTTP/2.');
    }
    const endpoint = formatEndpoint(winner.endpoint);
    if (this.closed) {
      socket.destroy();
      throw new PinholeError('PINHOLE_NOT_CONNECTED');
    }
    if (endpoint !== this.chooser.current) {
      const from = this.chooser.current;
      this.chooser.use(endpoint);
      this.apply({ from, to: endpoint, reason: 'failed', sentence: `${from} could not be reached; new tunnels go to ${endpoint}, which answered first.` });
    }
    const fresh = this.adopt(socket, endpoint);
    this.session = fresh;
    this.changed();
    this.emit('up');
    return fresh;
  }

  private adopt(socket: TLSSocket, endpoint: string): ClientHttp2Session {
    const session = h2Connect(`https://${this.options.serverName}`, {
      createConnection: () => socket,
      settings: { initialWindowSize: H2_STREAM_WINDOW, enablePush: false },
      maxSessionMemory: 256,
    });
    session.setLocalWindowSize(H2_SESSION_WINDOW);
    this.sessionsAlive.add(session);
    this.endpointOf.set(session, endpoint);
    this.socketOf.set(session, socket);
    // An idle session must not keep a stopping process alive; open streams ref it.
    session.unref();
    session.on('error', () => undefined);
    session.once('goaway', () => this.forget(session));
    const watcher = new SessionLiveness(session, {
      ...(this.options.choice?.livenessTimeoutMs === undefined ? {} : { timeoutMs: this.options.choice.livenessTimeoutMs }),
      idleIntervalMs: this.options.pingIntervalMs ?? 10_000,
    });
    this.watchers.set(session, watcher);
    watcher.on('rtt', (rttMs) => {
      if (this.session === session || this.session === undefined) this.rttMs = rttMs;
      this.apply(this.chooser.record(endpoint, rttMs, 'ping'));
      // A slower round trip on the session in use may have brought the next probes forward.
      if (!this.probes.busy) this.probes.arm();
    });
    // A session that closed is handled by its 'close' below (lost, reconnecting); 'dead' here is one that went silent.
    watcher.on('dead', (err) => {
      if (!session.closed && !session.destroyed) this.stoppedAnswering(session, err);
    });
    watcher.on('slow', () => {
      if (this.session === session) this.prepareStandby(endpoint);
    });
    session.once('close', () => {
      watcher.stop();
      this.watchers.delete(session);
      this.sessionsAlive.delete(session);
      if (this.session === session) {
        this.session = undefined;
        if (!this.closed) this.emit('lost', new PinholeError('PINHOLE_GATEWAY_CLOSED'));
      } else if (!this.closed && !this.session && !this.dialing) {
        // A GOAWAY'd session ended (a gateway stopping or redeploying): dial its successor now, so
        // a gateway that is gone is noticed (and reported) before the next request needs it.
        this.dialSuccessor();
      }
    });
    // The first round trip, at once: a sample for the chooser and the stats.
    watcher.probeNow().catch(() => undefined);
    return session;
  }

  /** The session in use is gone: its successor now, its failure reported as a lost gateway. */
  private dialSuccessor(): void {
    this.current().catch((err: unknown) => {
      if (!this.closed) this.emit('lost', err instanceof PinholeError ? err : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: err }));
    });
  }

  /** A PING on the session in use is slow: dial the next best endpoint now, kept for a few seconds in case the session is declared dead. */
  private prepareStandby(leaving: string): void {
    if (this.standby || this.closed) return;
    const order = this.chooser.dialOrder().filter((e) => e !== leaving);
    if (order.length === 0) return;
    const standby = raceGateway(order.map((e) => parseEndpoint(e) as Endpoint), this.options, ['h2'], this.tlsSessions).then(
      (winner) => {
        const expire = setTimeout(() => {
          if (this.standby !== standby) return;
          this.standby = undefined;
          winner.connection.destroy();
        }, STANDBY_MS);
        expire.unref();
        winner.connection.once('close', () => clearTimeout(expire));
        return winner;
      },
      () => undefined,
    );
    this.standby = standby;
  }

  /** The standby connection, when it is still open and its endpoint is not down. */
  private async takeStandby(): Promise<RaceWinner<TLSSocket> | undefined> {
    const standby = this.standby;
    if (!standby) return undefined;
    this.standby = undefined;
    const winner = await standby;
    if (!winner) return undefined;
    const health = this.chooser.snapshot().find((e) => e.endpoint === formatEndpoint(winner.endpoint))?.health;
    if (winner.connection.destroyed || health === 'down' || this.closed) {
      winner.connection.destroy();
      return undefined;
    }
    return { ...winner, failures: [] };
  }

  /**
   * A session that stopped answering PINGs: leave its endpoint and dial the next best at once; the
   * tunnels still waiting for their answer are cancelled (the transport sends them again there).
   * Tunnels already open on it keep running (a stall of a few seconds is not a dead gateway) until
   * the session's deadline.
   */
  private stoppedAnswering(session: ClientHttp2Session, err: PinholeError): void {
    this.dead.add(session);
    const endpoint = this.endpointOf.get(session);
    const wasCurrent = this.session === session;
    this.forget(session);
    if (endpoint !== undefined) {
      const decision = this.chooser.fail(endpoint, err.code);
      if (decision) this.apply(decision);
      else this.options.logger.warn({ endpoint, code: err.code }, `${endpoint} stopped answering (${err.code}).`);
    }
    // Dial the successor before the old session closes, so its close reads as a replaced session, not a lost one.
    if (wasCurrent && !this.closed) this.dialSuccessor();
    this.watchers.get(session)?.stop();
    this.watchers.delete(session);
    for (const cancel of [...(this.waiting.get(session) ?? [])]) cancel(err);
    // The silence began when the unanswered PING left.
    this.retire(session, Date.now() - (this.options.choice?.livenessTimeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS));
    this.changed();
  }

  /**
   * A session that takes no new tunnels (it stopped answering, or new tunnels moved elsewhere): it
   * closes after its last open tunnel, unless nothing arrives on it for the session timeout, when
   * it is destroyed and those tunnels are reset.
   */
  private retire(session: ClientHttp2Session, silentSince = Date.now()): void {
    if (this.draining.has(session) || session.closed || session.destroyed) return;
    const deadlineMs = this.options.choice?.sessionTimeoutMs;
    const deadline = new SessionDeadline(session, { silentSince, ...(deadlineMs === undefined ? {} : { deadlineMs }) });
    this.draining.set(session, deadline);
    session.once('close', () => this.draining.delete(session));
    deadline.once('gone', (error) => {
      this.draining.delete(session);
      const endpoint = this.endpointOf.get(session);
      this.options.logger.warn({ endpoint, code: error.code, ...(error.details ?? {}) }, `${endpoint ?? 'The gateway'}: ${error.message}`);
      this.end(session, error);
    });
    session.close();
  }

  /**
   * Destroys a session and its connection. A session that was closing gracefully would otherwise
   * wait for its connection to flush and end, which a stalled path never does.
   */
  private end(session: ClientHttp2Session, error?: PinholeError): void {
    session.destroy(error);
    this.socketOf.get(session)?.destroy();
  }

  /** The chooser moved new tunnels elsewhere: log why, and point new tunnels at a session on the new endpoint. */
  apply(decision: SwitchDecision | undefined): void {
    if (!decision) return;
    this.lastSwitch = { at: Date.now(), ...decision };
    this.options.logger.warn({ from: decision.from, to: decision.to, reason: decision.reason, gatewayInUse: decision.to }, decision.sentence);
    const session = this.session;
    if (session && this.endpointOf.get(session) !== decision.to) {
      // Existing tunnels stay on the old session; it closes once they are done.
      this.forget(session);
      this.watchers.get(session)?.stop();
      this.watchers.delete(session);
      this.retire(session);
      this.current().catch(() => undefined);
    }
    this.changed();
  }

  /** Emits 'gateways' when the endpoint in use or an endpoint's health changed (not on every sample). */
  changed(): void {
    const status = this.gateways();
    const shape = JSON.stringify([status.inUse, status.endpoints.map((e) => [e.endpoint, e.health]), status.lastSwitch?.at]);
    if (shape === this.lastShape) return;
    this.lastShape = shape;
    this.emit('gateways', status);
  }
}
