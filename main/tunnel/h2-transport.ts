/**
 * HTTP/2 tunnels: one warm TLS connection to the gateway carries every CONNECT stream
 * (RFC 9113 8.5). Windows are sized for bulk transfer, and a lost or GOAWAY'd session is replaced
 * on the next open(): only the streams that were open on it end.
 *
 * Many endpoints (main/gateways/): the session is dialled with the racing dial in the chooser's
 * order; a PING watcher proves it alive (when idle, and whenever a tunnel waits for its answer);
 * a session that stops answering is declared dead, the next best endpoint is dialled and the
 * tunnels that were still waiting are sent again there. The other endpoints are measured in the
 * background, one at a time; a switch moves new tunnels only, existing ones stay where they are.
 */
import { EventEmitter } from 'node:events';
import { connect as h2Connect, constants, sensitiveHeaders, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { PinholeError } from '../../shared/errors.js';
import type { GatewaysStatus, GatewaySwitch } from '../../shared/gateway-status.js';
import { formatEndpoint, parseEndpoint, type Endpoint, type Trust } from '../../shared/profile.js';
import { GatewayChooser, type SwitchDecision } from '../gateways/chooser.js';
import { DEFAULT_LIVENESS_TIMEOUT_MS, SessionDeadline, SessionLiveness } from '../gateways/liveness.js';
import { fetchProfileDocument, h2ProfileRequest, type ProfileFetchResult } from '../gateways/profile-fetch.js';
import type { RaceWinner } from '../gateways/race.js';
import { dialOneEndpoint, raceGateway, TlsSessionCache } from './dial.js';
import { refusalError } from '../../node/refusal.js';
import { ReplayableStream } from './replayable-stream.js';
import type { DatagramChannel } from '../../shared/udp/datagram-channel.js';
import { openH2UdpFlow } from '../udp/h2-flow.js';
import { authorityOf, basicCredentials, type EarlyTunnel, type GatewayDialOptions, type Transport, type TransportStats, type TunnelTarget } from './transport.js';

export interface H2TransportOptions extends GatewayDialOptions {
  /** A connection that already negotiated ALPN h2 (from negotiation) to use first. */
  initialSocket?: TLSSocket;
  /** The endpoint `initialSocket` goes to (the first endpoint when omitted). */
  initialEndpoint?: Endpoint;
  sessions?: TlsSessionCache;
  /** A PING when the session has been quiet this long (default 10 s). */
  pingIntervalMs?: number;
}

/** Budget of a background probe of an endpoint not in use (TCP + TLS + one PING). */
const PROBE_TIMEOUT_MS = 3_000;
/** How long a standby connection (dialled when a PING was slow) is kept unused. */
const STANDBY_MS = 5_000;

/** RFC 9113 8.7: a stream reset with REFUSED_STREAM was not processed by the gateway, so it can be sent again. */
const wasRefusedUnprocessed = (stream: ClientHttp2Stream): boolean => stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;

export const H2_STREAM_WINDOW = 16 * 1024 * 1024;
export const H2_SESSION_WINDOW = 64 * 1024 * 1024;

export class H2Transport extends EventEmitter implements Transport {
  readonly kind = 'h2' as const;
  private session: ClientHttp2Session | undefined;
  private dialing: Promise<ClientHttp2Session> | undefined;
  private readonly sessionsAlive = new Set<ClientHttp2Session>();
  private readonly tlsSessions: TlsSessionCache;
  private readonly credentials: string;
  private readonly chooser: GatewayChooser;
  /** Which endpoint each session goes to, and its PING watcher. */
  private readonly endpointOf = new WeakMap<ClientHttp2Session, string>();
  /** Each session's TLS connection: a session given up is ended with it, even while its path is stalled. */
  private readonly socketOf = new WeakMap<ClientHttp2Session, TLSSocket>();
  private readonly watchers = new Map<ClientHttp2Session, SessionLiveness>();
  /** Sessions that stopped answering: their waiting tunnels may be sent again. */
  private readonly dead = new WeakSet<ClientHttp2Session>();
  /** Per session, the tunnels waiting for their CONNECT answer: a session that stops answering sends them elsewhere. */
  private readonly waiting = new Map<ClientHttp2Session, Set<(err: PinholeError) => void>>();
  /** Sessions that take no new tunnels but still carry open ones, each with its deadline. */
  private readonly draining = new Map<ClientHttp2Session, SessionDeadline>();
  private readonly streamSession = new WeakMap<ClientHttp2Stream, ClientHttp2Session>();
  private probeTimer: NodeJS.Timeout | undefined;
  /** A background probe is in flight (its end re-arms the timer). */
  private probing = false;
  /** The next best endpoint, dialled when a PING was slow to answer, so a dead session's successor is ready. */
  private standby: Promise<RaceWinner<TLSSocket> | undefined> | undefined;
  private lastSwitch: GatewaySwitch | undefined;
  private lastShape = '';
  private rttMs: number | null = null;
  private closed = false;

  constructor(private readonly options: H2TransportOptions) {
    super();
    this.tlsSessions = options.sessions ?? new TlsSessionCache();
    this.credentials = basicCredentials(options.user, options.password);
    const endpoints = [...new Set(options.endpoints.map(formatEndpoint))];
    const initial = options.initialSocket ? formatEndpoint(options.initialEndpoint ?? (options.endpoints[0] as Endpoint)) : undefined;
    const { livenessTimeoutMs: _liveness, sessionTimeoutMs: _session, ...tuning } = options.choice ?? {};
    this.chooser = new GatewayChooser({ endpoints, userKey: options.user, ...(initial === undefined ? {} : { current: initial }), ...tuning, now: Date.now, random: Math.random });
    if (options.initialSocket && initial !== undefined) this.session = this.adopt(options.initialSocket, initial);
    this.armProbe();
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

  async warm(): Promise<void> {
    await this.currentSession();
  }

  /** The profile GET as one more stream on the session in use (authenticated like the tunnels). */
  async fetchProfile(etag: string | undefined): Promise<ProfileFetchResult> {
    return fetchProfileDocument(h2ProfileRequest(await this.currentSession(), this.credentials), this.options.user, etag);
  }

  setTrust(trust: Trust): void {
    this.options.trust = trust;
  }

  setEndpoints(endpoints: readonly Endpoint[]): void {
    if (endpoints.length === 0) return;
    this.options.endpoints = [...endpoints];
    this.apply(this.chooser.setEndpoints(endpoints.map(formatEndpoint)));
    this.changed();
    this.armProbe();
  }

  async open(target: TunnelTarget): Promise<Duplex> {
    // A stream refused unprocessed (it crossed a stopping gateway's GOAWAY), or one left waiting on
    // a session that stopped answering, is sent once more, on a fresh connection.
    for (let attempt = 0; ; attempt++) {
      const stream = await this.request(target);
      try {
        return await this.awaitResponse(stream, authorityOf(target));
      } catch (err) {
        if (attempt > 0 || !this.canResend(stream)) throw err;
      }
    }
  }

  async openEarly(target: TunnelTarget): Promise<EarlyTunnel> {
    const first = await this.request(target);
    const stream = new ReplayableStream(first);
    const answered = this.awaitResponse(first, authorityOf(target)).then(
      () => stream.settle(),
      async (err: unknown) => {
        // Refused unprocessed, or its gateway stopped answering: the same CONNECT and the bytes written so far, again on a fresh connection.
        if (!this.canResend(first) || !stream.canReplay || stream.destroyed) throw err;
        const next = await this.request(target);
        stream.replaceWith(next);
        await this.awaitResponse(next, authorityOf(target));
        stream.settle();
      },
    );
    // The caller may learn of a refusal through the stream closing first; the rejection is theirs.
    answered.catch(() => undefined);
    return { stream, answered };
  }

  /** UDP (issue 14): one CONNECT-UDP stream (RFC 9298) per flow, on the session the TCP tunnels use. */
  async openUdpFlow(target: TunnelTarget): Promise<DatagramChannel> {
    const session = await this.currentSession();
    return openH2UdpFlow(session, target.host, target.port, {
      authority: this.options.serverName,
      authorization: this.credentials,
      ...(this.options.replyTimeoutMs === undefined ? {} : { timeoutMs: this.options.replyTimeoutMs }),
    });
  }

  private canResend(stream: ClientHttp2Stream): boolean {
    const session = this.streamSession.get(stream);
    return wasRefusedUnprocessed(stream) || (session !== undefined && this.dead.has(session));
  }

  /** The CONNECT stream, its HEADERS on their way; DATA written to it follows them. */
  private async request(target: TunnelTarget): Promise<ClientHttp2Stream> {
    const headers = { ':method': 'CONNECT', ':authority': authorityOf(target), 'proxy-authorization': this.credentials, [sensitiveHeaders]: ['proxy-authorization'] };
    // A session can receive GOAWAY between lookup and request: then one fresh session is tried.
    for (let attempt = 0; ; attempt++) {
      const session = await this.currentSession();
      try {
        const stream = session.request(headers, { endStream: false });
        this.streamSession.set(stream, session);
        return stream;
      } catch (err) {
        this.forget(session);
        if (attempt > 0) throw new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err });
      }
    }
  }

  private waitersOf(session: ClientHttp2Session): Set<(err: PinholeError) => void> {
    const waiters = this.waiting.get(session) ?? new Set<(err: PinholeError) => void>();
    this.waiting.set(session, waiters);
    return waiters;
  }

  private awaitResponse(stream: ClientHttp2Stream, authority: string): Promise<Duplex> {
    const session = this.streamSession.get(stream);
    return new Promise((resolve, reject) => {
      let settled = false;
      const waiters = session === undefined ? undefined : this.waitersOf(session);
      const settle = (err?: PinholeError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        waiters?.delete(settle);
        if (waiters?.size === 0 && session) this.waiting.delete(session);
        if (err) {
          if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
          reject(err);
        }
      };
      const timer = setTimeout(
        () => settle(new PinholeError('PINHOLE_GATEWAY_TIMEOUT', 'The gateway did not answer CONNECT in time.', { details: { target: authority } })),
        this.options.replyTimeoutMs ?? 20_000,
      );
      waiters?.add(settle);
      // A waiting tunnel asks whether the session is alive: a PING rides along with the CONNECT, one
      // outstanding at a time for all of them, so a frozen gateway is noticed within the liveness timeout.
      if (session) this.watchers.get(session)?.probeNow().catch(() => undefined);
      stream.on('error', (err) => settle(new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err })));
      stream.once('close', () => settle(new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The gateway closed the stream before answering CONNECT.')));
      stream.once('response', (headers) => {
        if (session) this.watchers.get(session)?.noteActivity();
        const status = Number(headers[':status']);
        if (status >= 200 && status <= 299) {
          settle();
          resolve(stream);
          return;
        }
        const code = headers['pinhole-error'];
        settle(refusalError(status, typeof code === 'string' ? code : undefined, this.options.user, authority));
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
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

  private currentSession(): Promise<ClientHttp2Session> {
    if (this.closed) return Promise.reject(new PinholeError('PINHOLE_NOT_CONNECTED'));
    const session = this.session;
    if (session && !session.closed && !session.destroyed) return Promise.resolve(session);
    this.dialing ??= this.dial().finally(() => {
      this.dialing = undefined;
    });
    return this.dialing;
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
      if (!this.probing) this.armProbe();
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
        this.currentSession().catch((err: unknown) => {
          if (!this.closed) this.emit('lost', err instanceof PinholeError ? err : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: err }));
        });
      }
    });
    // The first round trip, at once: a sample for the chooser and the stats.
    watcher.probeNow().catch(() => undefined);
    return session;
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
   * tunnels still waiting for their answer are sent again there. Tunnels already open on it keep
   * running (a stall of a few seconds is not a dead gateway) until the session's deadline.
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
    if (wasCurrent && !this.closed) {
      this.currentSession().catch((error: unknown) => {
        if (!this.closed) this.emit('lost', error instanceof PinholeError ? error : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: error }));
      });
    }
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

  /** The network changed: sessions that already stopped answering are not waited for any longer. */
  networkChanged(): void {
    for (const [session, deadline] of [...this.draining]) {
      if (this.dead.has(session)) deadline.endNow(new PinholeError('PINHOLE_GATEWAY_UNRESPONSIVE', 'The network changed while the gateway was not answering; its tunnels are reset.'));
    }
  }

  /** The chooser moved new tunnels elsewhere: log why, and point new tunnels at a session on the new endpoint. */
  private apply(decision: SwitchDecision | undefined): void {
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
      this.currentSession().catch(() => undefined);
    }
    this.changed();
  }

  /** Emits 'gateways' when the endpoint in use or an endpoint's health changed (not on every sample). */
  private changed(): void {
    const status = this.gateways();
    const shape = JSON.stringify([status.inUse, status.endpoints.map((e) => [e.endpoint, e.health]), status.lastSwitch?.at]);
    if (shape === this.lastShape) return;
    this.lastShape = shape;
    this.emit('gateways', status);
  }

  /** One timer for the background probes, at the chooser's next due time. */
  private armProbe(): void {
    clearTimeout(this.probeTimer);
    if (this.closed) return;
    const at = this.chooser.nextProbeAt();
    if (at === undefined) return;
    this.probeTimer = setTimeout(() => this.probe(), Math.max(0, at - Date.now()));
    this.probeTimer.unref();
  }

  private probe(): void {
    const endpoint = this.chooser.dueProbe();
    if (endpoint === undefined) {
      this.armProbe();
      return;
    }
    this.probing = true;
    const done = (): void => {
      this.probing = false;
      this.changed();
      this.armProbe();
    };
    const session = this.session;
    const watcher = session && this.endpointOf.get(session) === endpoint ? this.watchers.get(session) : undefined;
    const measured = (): void => {
      this.measure(endpoint)
        .then(
          (rttMs) => this.apply(this.chooser.record(endpoint, rttMs, 'probe')),
          (err: unknown) => this.apply(this.chooser.fail(endpoint, err instanceof PinholeError ? err.code : 'PINHOLE_GATEWAY_UNREACHABLE')),
        )
        .finally(done);
    };
    if (session && watcher) {
      // The 'rtt' and 'dead' handlers record the outcome; a watcher stopped meanwhile (a switch) leaves it to a probe dial.
      watcher.probeNow().then(done, () => (this.dead.has(session) ? done() : measured()));
      return;
    }
    measured();
  }

  /** An endpoint not in use: a verified TLS connection, one PING round trip (comparable with the session's), closed. */
  private async measure(endpoint: string): Promise<number> {
    const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
    const socket = await dialOneEndpoint(parseEndpoint(endpoint) as Endpoint, { ...this.options, connectTimeoutMs: PROBE_TIMEOUT_MS }, ['h2'], this.tlsSessions, signal);
    const session = h2Connect(`https://${this.options.serverName}`, { createConnection: () => socket, settings: { enablePush: false } });
    session.on('error', () => undefined);
    session.unref();
    const watcher = new SessionLiveness(session, { timeoutMs: PROBE_TIMEOUT_MS, idleIntervalMs: 60_000 });
    try {
      return await watcher.probeNow();
    } finally {
      watcher.stop();
      session.destroy();
    }
  }

  /** Stop using a session for new streams (GOAWAY or broken); open streams finish on it. */
  private forget(session: ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
  }
}
