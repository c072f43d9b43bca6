/**
 * HTTP/1.1 tunnels: one TLS connection per tunnel carrying `CONNECT host:port` with
 * Proxy-Authorization, exactly what stunnel (server) + Squid accept. A couple of TLS connections
 * are kept pre-opened (node/tls-pool.ts) and TLS sessions are resumed, so a new tunnel rarely
 * waits for a handshake.
 *
 * Early start (issue 24): on a gateway whose 200 said it reads bytes after the CONNECT head
 * (shared/early-data.ts; stunnel + Squid never says so), a tunnel may take the application's bytes
 * before the answer: the CONNECT head goes at once on a pooled connection, the application's bytes
 * follow it on the same connection without waiting, and nothing is read from it until the answer.
 *
 * Both byte paths work alike: on the native one (node/native/) the pool keeps native TLS sessions,
 * verified at their handshake and waiting for their CONNECT head, with the same size, refill and
 * idle rules (the same TlsPool), and early start sends the application's bytes behind the head
 * through the engine (node/native/tunnel-stream.ts).
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { ConnectFailure, sendConnect, type ConnectAnswer } from '../../node/connect-client.js';
import { handshakeNative, type NativeConnectTunnel, type NativeGatewaySession } from '../../node/native/connect-tunnel.js';
import { NativeTunnelStream } from '../../node/native/tunnel-stream.js';
import { refusalError } from '../../node/refusal.js';
import { TlsPool } from '../../node/tls-pool.js';
import { DEFAULT_LIVENESS_TIMEOUT_MS } from '../gateways/liveness.js';
import { fetchProfileDocument, h1ProfileRequest, type ProfileFetchResult } from '../gateways/profile-fetch.js';
import { PinholeError } from '../../shared/errors.js';
import type { Trust } from '../../shared/profile.js';
import type { NativeBytePath } from '../../node/native/byte-path.js';
import { dialGateway, rawConnection, TlsSessionCache } from './dial.js';
import { formatEndpoint, type Endpoint } from '../../shared/profile.js';
import { gatewayError, verifyLeaf } from './verify.js';
import { ReplayableStream } from './replayable-stream.js';
import { authorityOf, basicCredentials, type EarlyTunnel, type GatewayDialOptions, type Transport, type TransportStats, type TunnelTarget } from './transport.js';
import { EARLY_DATA_HEADER } from '../../shared/early-data.js';

export interface H1TransportOptions extends GatewayDialOptions {
  /** Pre-opened TLS connections kept ready (0 disables). */
  poolSize?: number;
  /** A connection already negotiated (ALPN http/1.1 or none) to use first. */
  initialSocket?: TLSSocket;
  sessions?: TlsSessionCache;
}

/**
 * Trust the native byte path can judge: a pin (the leaf's SHA-256) or none (--insecure). A CA
 * file or the OS store needs chain verification, which stays with Node's TLS (the JavaScript path).
 */
export const nativeTrusted = (options: GatewayDialOptions): boolean => options.trust.kind === 'pin' || options.trust.kind === 'insecure';

/** The gateway's answer to CONNECT as the transport's error (the same codes on both byte paths). */
const connectError = (err: unknown, authority: string): PinholeError => {
  if (!(err instanceof ConnectFailure)) return err instanceof PinholeError ? err : gatewayError(err);
  if (err.code === 'CONNECT_TIMEOUT') return new PinholeError('PINHOLE_GATEWAY_TIMEOUT', 'The gateway did not answer CONNECT in time.', { details: { target: authority } });
  if (err.code === 'CONNECT_REPLY_INVALID') return new PinholeError('PINHOLE_TLS_FAILED', `The gateway answered CONNECT with something that is not HTTP: ${err.message}`);
  return new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The gateway closed the connection before answering CONNECT.', { cause: err });
};

/** A pooled connection the path closed while it was idle: the tunnel is retried once on a fresh one. */
const isStale = (err: unknown): boolean => err instanceof PinholeError && err.code === 'PINHOLE_GATEWAY_CLOSED';

/** A native handshake's failure as the transport's error (what dialGateway gives on the JavaScript path). */
const handshakeError = (err: unknown, endpoint: Endpoint): PinholeError => {
  if (!(err instanceof ConnectFailure)) return err instanceof PinholeError ? err : gatewayError(err);
  if (err.code === 'CONNECT_TIMEOUT') return new PinholeError('PINHOLE_GATEWAY_TIMEOUT', undefined, { details: { endpoint: formatEndpoint(endpoint) } });
  return new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The gateway closed the connection during the TLS handshake.', { cause: err });
};

export class H1Transport extends EventEmitter implements Transport {
  readonly kind = 'h1' as const;
  private readonly live = new Set<TLSSocket | NativeGatewaySession>();
  private readonly sessions: TlsSessionCache;
  private readonly basic: string;
  private readonly pool: TlsPool;
  /** The native byte path's warm sessions (when it is loaded); the JavaScript pool still serves proxyConnection. */
  private readonly nativePool: TlsPool<NativeGatewaySession> | undefined;
  private closed = false;
  private rttMs: number | null = null;
  /** The gateway's 200 said it reads bytes after the CONNECT head (a Pinhole gateway). */
  private takesEarlyBytes = false;

  constructor(private readonly options: H1TransportOptions) {
    super();
    this.sessions = options.sessions ?? new TlsSessionCache();
    this.basic = basicCredentials(options.user, options.password);
    const lost = (err: unknown): void => {
      if (!this.closed) this.emit('lost', err instanceof PinholeError ? err : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: err }));
    };
    this.pool = new TlsPool({ dial: () => this.dial(), size: options.poolSize ?? 2 });
    this.pool.on('refill-failed', lost);
    if (options.nativeBytePath !== undefined) {
      this.nativePool = new TlsPool({ dial: () => this.dialNative(), size: options.poolSize ?? 2 });
      this.nativePool.on('refill-failed', lost);
    }
    if (options.initialSocket) {
      this.track(options.initialSocket);
      this.pool.add(options.initialSocket);
    }
  }

  /** Read for each tunnel: a signed-in user's credential changes when it is renewed. */
  private get credentials(): string {
    return this.options.authorization?.header() ?? this.basic;
  }

  /** Whether tunnels run their TLS session on the native byte path. */
  get bytePath(): 'native' | 'js' {
    return this.options.nativeBytePath !== undefined && nativeTrusted(this.options) ? 'native' : 'js';
  }

  stats(): TransportStats {
    return { gatewayConnections: this.live.size, rttMs: this.rttMs };
  }

  /** Early start: a gateway that said it takes early bytes (either byte path). */
  get startsEarly(): boolean {
    return this.takesEarlyBytes;
  }

  /** Pre-opened connections ready for a tunnel right now (on the byte path in use). */
  get idleConnections(): number {
    return this.tunnelPool().idleConnections;
  }

  warm(): Promise<void> {
    return this.tunnelPool().warm();
  }

  async open(target: TunnelTarget): Promise<Duplex> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    if (this.bytePath === 'native') {
      const path = this.nativePath();
      const tunnel = (session: NativeGatewaySession): Promise<Duplex> => this.connectNative(session, target).then((answered) => new NativeTunnelStream(path, { answered }));
      return this.nativeSessions().use(tunnel, isStale, this.options.choice?.livenessTimeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS);
    }
    // A pooled connection that has not answered within the liveness timeout (a frozen gateway) gets one fresh connection alongside it.
    return this.pool.use((socket) => this.connectOver(socket, target), isStale, this.options.choice?.livenessTimeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS);
  }

  /**
   * A tunnel started before the answer (see the module comment). A pooled connection the path
   * closed while idle fails the CONNECT unanswered: the same CONNECT and the bytes written so far
   * go again on a fresh connection (ReplayableStream), as HTTP/2 does for a stream refused unprocessed.
   */
  async openEarly(target: TunnelTarget): Promise<EarlyTunnel> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    if (this.bytePath === 'native') return this.openEarlyNative(target);
    const { socket: first, pooled } = await this.pool.take();
    const sent = this.connectOver(first, target);
    const stream = new ReplayableStream(first, { holdUntilAnswer: true });
    const answered = sent.then(
      () => stream.settle(),
      async (err: unknown) => {
        if (!pooled || !isStale(err) || !stream.canReplay || stream.destroyed || this.closed) throw err;
        const next = await this.dial();
        const again = this.connectOver(next, target);
        stream.replaceWith(next);
        await again;
        stream.settle();
      },
    );
    // The caller may learn of a refusal through the stream closing first; the rejection is theirs.
    answered.catch(() => undefined);
    return { stream, answered };
  }

  setTrust(trust: Trust): void {
    this.options.trust = trust;
  }

  /** The profile GET on one connection from the pool (HTTP/1.1 gateways and stunnel + Squid, which answers 4xx: unsupported). */
  fetchProfile(etag: string | undefined): Promise<ProfileFetchResult> {
    return fetchProfileDocument(h1ProfileRequest(() => this.proxyConnection(), this.options.serverName, this.credentials), this.options.user, etag);
  }

  get proxyAuthorization(): string {
    return this.credentials;
  }

  async proxyConnection(): Promise<Duplex> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    const { socket } = await this.pool.take();
    socket.on('error', () => undefined);
    return socket;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pool.close();
    this.nativePool?.close();
    for (const socket of this.live) socket.destroy();
  }

  private async dial(): Promise<TLSSocket> {
    const started = Date.now();
    const socket = await dialGateway(this.options, ['http/1.1'], this.sessions);
    this.rttMs = Date.now() - started;
    this.track(socket);
    if (this.closed) socket.destroy();
    return socket;
  }

  /** The pool tunnels take from on the byte path in use. */
  private tunnelPool(): TlsPool<TLSSocket> | TlsPool<NativeGatewaySession> {
    return this.bytePath === 'native' ? this.nativeSessions() : this.pool;
  }

  private nativePath(): NativeBytePath {
    const path = this.options.nativeBytePath;
    if (path === undefined) throw new PinholeError('PINHOLE_INTERNAL');
    return path;
  }

  private nativeSessions(): TlsPool<NativeGatewaySession> {
    if (this.nativePool === undefined) throw new PinholeError('PINHOLE_INTERNAL');
    return this.nativePool;
  }

  /**
   * One session on the native byte path: TCP from here, the TLS handshake natively (sessions resumed
   * by the engine), the certificate judged here at the handshake; it then waits for its CONNECT head
   * (in the pool). Endpoints are tried in order; only one that could not be reached moves on to the next.
   */
  private async dialNative(): Promise<NativeGatewaySession> {
    const path = this.nativePath();
    const servername = isIP(this.options.serverName) === 0 ? this.options.serverName : '';
    const started = Date.now();
    let lastError: PinholeError | undefined;
    for (const endpoint of this.options.endpoints) {
      let session: NativeGatewaySession;
      try {
        const socket = await rawConnection(endpoint, this.options);
        session = await handshakeNative(path, {
          socket,
          servername,
          timeoutMs: this.options.connectTimeoutMs ?? 10_000,
          verify: (certificates, resumed) => verifyLeaf(certificates[0], resumed, this.options.trust),
        });
      } catch (err) {
        lastError = handshakeError(err, endpoint);
        if (lastError.code === 'PINHOLE_GATEWAY_UNREACHABLE' || lastError.code === 'PINHOLE_GATEWAY_TIMEOUT') continue;
        throw lastError;
      }
      this.rttMs = Date.now() - started;
      this.live.add(session);
      session.once('close', () => this.live.delete(session));
      if (this.closed) session.destroy();
      return session;
    }
    throw lastError ?? new PinholeError('PINHOLE_GATEWAY_UNREACHABLE');
  }

  /** CONNECT on a native session: resolves with the answered tunnel once 2xx (the relay call site hands the application over). */
  private async connectNative(session: NativeGatewaySession, target: TunnelTarget): Promise<NativeConnectTunnel> {
    const authority = authorityOf(target);
    let tunnel: NativeConnectTunnel;
    try {
      tunnel = await session.connect({ target, headers: { 'Proxy-Authorization': this.credentials }, timeoutMs: this.options.replyTimeoutMs ?? 20_000 });
    } catch (err) {
      throw connectError(err, authority);
    }
    this.learn(tunnel.answer);
    if (tunnel.answer.status < 200 || tunnel.answer.status > 299) throw refusalError(tunnel.answer.status, tunnel.answer.headers['pinhole-error'], this.options.user, authority, tunnel.answer.headers['pinhole-reason']);
    return tunnel;
  }

  /** openEarly on the native byte path: the same steps, the stream keeping what a replay needs (node/native/tunnel-stream.ts). */
  private async openEarlyNative(target: TunnelTarget): Promise<EarlyTunnel> {
    const { socket: first, pooled } = await this.nativeSessions().take();
    const sent = this.connectNative(first, target);
    const stream = new NativeTunnelStream(this.nativePath(), { early: first });
    const answered = sent.then(
      (tunnel) => stream.settle(tunnel),
      async (err: unknown) => {
        if (!pooled || !isStale(err) || stream.destroyed || this.closed) throw err;
        const next = await this.dialNative();
        const again = this.connectNative(next, target);
        stream.replaceWith(next);
        stream.settle(await again);
      },
    );
    // The caller may learn of a refusal through the stream closing first; the rejection is theirs.
    answered.catch(() => undefined);
    return { stream, answered };
  }

  /** A 2xx answer says whether this gateway reads bytes after the CONNECT head (early start). */
  private learn(answer: ConnectAnswer): void {
    if (answer.status >= 200 && answer.status <= 299) this.takesEarlyBytes = answer.headers[EARLY_DATA_HEADER.toLowerCase()] === '1';
  }

  private track(socket: TLSSocket): void {
    this.live.add(socket);
    socket.once('close', () => this.live.delete(socket));
  }

  /** Sends CONNECT (node/connect-client.ts reads the reply first) and resolves with the socket once 2xx. */
  private async connectOver(socket: TLSSocket, target: TunnelTarget): Promise<Duplex> {
    const authority = authorityOf(target);
    const credentials = this.credentials;
    let answer;
    try {
      answer = await sendConnect(socket, { target, headers: { 'Proxy-Authorization': credentials }, timeoutMs: this.options.replyTimeoutMs ?? 20_000 });
    } catch (err) {
      // sendConnect fails with a ConnectFailure only; anything else is a closed connection too.
      throw connectError(err instanceof ConnectFailure ? err : new ConnectFailure('CONNECT_CLOSED', 'The connection closed.', { cause: err }), authority);
    }
    this.learn(answer);
    if (answer.status < 200 || answer.status > 299) throw refusalError(answer.status, answer.headers['pinhole-error'], this.options.user, authority, answer.headers['pinhole-reason']);
    // The caller's relay reports errors from here on; this keeps a late one from crashing us.
    socket.on('error', () => undefined);
    return socket;
  }
}
