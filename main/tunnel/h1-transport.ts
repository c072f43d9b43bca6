/**
 * HTTP/1.1 tunnels: one TLS connection per tunnel carrying `CONNECT host:port` with
 * Proxy-Authorization, exactly what stunnel (server) + Squid accept. A couple of TLS connections
 * are kept pre-opened (node/tls-pool.ts) and TLS sessions are resumed, so a new tunnel rarely
 * waits for a handshake.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { sendConnect, type ConnectFailure } from '../../node/connect-client.js';
import { refusalError } from '../../node/refusal.js';
import { TlsPool } from '../../node/tls-pool.js';
import { DEFAULT_LIVENESS_TIMEOUT_MS } from '../gateways/liveness.js';
import { fetchProfileDocument, h1ProfileRequest, type ProfileFetchResult } from '../gateways/profile-fetch.js';
import { PinholeError } from '../../shared/errors.js';
import type { Trust } from '../../shared/profile.js';
import { dialGateway, TlsSessionCache } from './dial.js';
import { authorityOf, basicCredentials, type GatewayDialOptions, type Transport, type TransportStats, type TunnelTarget } from './transport.js';

export interface H1TransportOptions extends GatewayDialOptions {
  /** Pre-opened TLS connections kept ready (0 disables). */
  poolSize?: number;
  /** A connection already negotiated (ALPN http/1.1 or none) to use first. */
  initialSocket?: TLSSocket;
  sessions?: TlsSessionCache;
}

/** A pooled connection the path closed while it was idle: the tunnel is retried once on a fresh one. */
const isStale = (err: unknown): boolean => err instanceof PinholeError && err.code === 'PINHOLE_GATEWAY_CLOSED';

export class H1Transport extends EventEmitter implements Transport {
  readonly kind = 'h1' as const;
  private readonly live = new Set<TLSSocket>();
  private readonly sessions: TlsSessionCache;
  private readonly credentials: string;
  private readonly pool: TlsPool;
  private closed = false;
  private rttMs: number | null = null;

  constructor(private readonly options: H1TransportOptions) {
    super();
    this.sessions = options.sessions ?? new TlsSessionCache();
    this.credentials = basicCredentials(options.user, options.password);
    this.pool = new TlsPool({ dial: () => this.dial(), size: options.poolSize ?? 2 });
    this.pool.on('refill-failed', (err) => {
      if (!this.closed) this.emit('lost', err instanceof PinholeError ? err : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: err }));
    });
    if (options.initialSocket) {
      this.track(options.initialSocket);
      this.pool.add(options.initialSocket);
    }
  }

  stats(): TransportStats {
    return { gatewayConnections: this.live.size, rttMs: this.rttMs };
  }

  /** Pre-opened connections ready for a tunnel right now. */
  get idleConnections(): number {
    return this.pool.idleConnections;
  }

  warm(): Promise<void> {
    return this.pool.warm();
  }

  async open(target: TunnelTarget): Promise<Duplex> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    // A pooled connection that has not answered within the liveness timeout (a frozen gateway) gets one fresh connection alongside it.
    return this.pool.use((socket) => this.connectOver(socket, target), isStale, this.options.choice?.livenessTimeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS);
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

  private track(socket: TLSSocket): void {
    this.live.add(socket);
    socket.once('close', () => this.live.delete(socket));
  }

  /** Sends CONNECT (node/connect-client.ts reads the reply first) and resolves with the socket once 2xx. */
  private async connectOver(socket: TLSSocket, target: TunnelTarget): Promise<Duplex> {
    const authority = authorityOf(target);
    let answer;
    try {
      answer = await sendConnect(socket, { target, headers: { 'Proxy-Authorization': this.credentials }, timeoutMs: this.options.replyTimeoutMs ?? 20_000 });
    } catch (err) {
      const failure = err as ConnectFailure;
      if (failure.code === 'CONNECT_TIMEOUT') throw new PinholeError('PINHOLE_GATEWAY_TIMEOUT', 'The gateway did not answer CONNECT in time.', { details: { target: authority } });
      if (failure.code === 'CONNECT_REPLY_INVALID') throw new PinholeError('PINHOLE_TLS_FAILED', `The gateway answered CONNECT with something that is not HTTP: ${failure.message}`);
      throw new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The gateway closed the connection before answering CONNECT.', { cause: err });
    }
    if (answer.status < 200 || answer.status > 299) throw refusalError(answer.status, answer.headers['pinhole-error'], this.options.user, authority);
    // The caller's relay reports errors from here on; this keeps a late one from crashing us.
    socket.on('error', () => undefined);
    return socket;
  }
}
