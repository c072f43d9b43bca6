/**
 * HTTP/1.1 tunnels: one TLS connection per tunnel carrying `CONNECT host:port` with
 * Proxy-Authorization, exactly what stunnel (server) + Squid accept. A couple of TLS connections
 * are kept pre-opened and TLS sessions are resumed, so a new tunnel rarely waits for a handshake.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { PinholeError } from '../../shared/errors.js';
import { parseConnectReply } from '../../node/connect-reply.js';
import { dialGateway, TlsSessionCache } from './dial.js';
import { refusalError } from './refusal.js';
import { authorityOf, basicCredentials, type GatewayDialOptions, type Transport, type TransportStats, type TunnelTarget } from './transport.js';

export interface H1TransportOptions extends GatewayDialOptions {
  /** Pre-opened TLS connections kept ready (0 disables). */
  poolSize?: number;
  /** A connection already negotiated (ALPN http/1.1 or none) to use first. */
  initialSocket?: TLSSocket;
  sessions?: TlsSessionCache;
}

/** An idle pooled connection older than this is not trusted to still be open. */
const POOL_MAX_IDLE_MS = 30_000;

export class H1Transport extends EventEmitter implements Transport {
  readonly kind = 'h1' as const;
  private readonly pool: Array<{ socket: TLSSocket; since: number }> = [];
  private readonly live = new Set<TLSSocket>();
  private readonly sessions: TlsSessionCache;
  private readonly credentials: string;
  private filling = 0;
  private warming: Promise<void> | undefined;
  private closed = false;
  private rttMs: number | null = null;

  constructor(private readonly options: H1TransportOptions) {
    super();
    this.sessions = options.sessions ?? new TlsSessionCache();
    this.credentials = basicCredentials(options.user, options.password);
    if (options.initialSocket) this.park(options.initialSocket);
  }

  stats(): TransportStats {
    return { gatewayConnections: this.live.size, rttMs: this.rttMs };
  }

  /** Pre-opened connections ready for a tunnel right now. */
  get idleConnections(): number {
    const now = Date.now();
    return this.pool.filter(({ socket, since }) => !socket.destroyed && now - since < POOL_MAX_IDLE_MS).length;
  }

  async warm(): Promise<void> {
    if (this.idleConnections > 0) return;
    // One dial at a time, however many callers ask.
    this.warming ??= this.dial()
      .then((socket) => this.park(socket))
      .finally(() => {
        this.warming = undefined;
      });
    await this.warming;
  }

  async open(target: TunnelTarget): Promise<Duplex> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    const socket = this.takeFromPool() ?? (await this.dial());
    this.refill();
    return this.connectOver(socket, target);
  }

  get proxyAuthorization(): string {
    return this.credentials;
  }

  async proxyConnection(): Promise<Duplex> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    const socket = this.takeFromPool() ?? (await this.dial());
    this.refill();
    socket.on('error', () => undefined);
    return socket;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const { socket } of this.pool.splice(0)) socket.destroy();
    for (const socket of this.live) socket.destroy();
  }

  private async dial(): Promise<TLSSocket> {
    const started = Date.now();
    const socket = await dialGateway(this.options, ['http/1.1'], this.sessions);
    this.rttMs = Date.now() - started;
    this.live.add(socket);
    socket.once('close', () => this.live.delete(socket));
    if (this.closed) socket.destroy();
    return socket;
  }

  private park(socket: TLSSocket): void {
    this.live.add(socket);
    const entry = { socket, since: Date.now() };
    const drop = (): void => {
      const at = this.pool.indexOf(entry);
      if (at !== -1) this.pool.splice(at, 1);
      this.live.delete(socket);
      socket.destroy();
      // The gateway hung up an idle connection (a restart, an idle timeout): dial a replacement
      // now, so a gateway that is gone is reported before the next request needs it.
      if (at !== -1) this.refill(true);
    };
    socket.once('close', drop);
    socket.on('error', drop);
    // Nothing should arrive on an idle connection; if the server talks or hangs up, drop it.
    socket.once('data', drop);
    socket.once('end', drop);
    this.pool.push(entry);
  }

  private takeFromPool(): TLSSocket | undefined {
    while (this.pool.length > 0) {
      const entry = this.pool.shift();
      if (!entry) break;
      const { socket } = entry;
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      socket.removeAllListeners('data');
      socket.removeAllListeners('end');
      socket.once('close', () => this.live.delete(socket));
      if (!socket.destroyed && socket.readable && socket.writable && Date.now() - entry.since < POOL_MAX_IDLE_MS) return socket;
      socket.destroy();
    }
    return undefined;
  }

  /** Tops the idle pool up; with `reportLoss`, a failed dial is reported as the gateway being lost. */
  private refill(reportLoss = false): void {
    const want = this.options.poolSize ?? 2;
    while (!this.closed && this.pool.length + this.filling < want) {
      this.filling += 1;
      this.dial().then(
        (socket) => {
          this.filling -= 1;
          if (this.closed) socket.destroy();
          else this.park(socket);
        },
        (err: unknown) => {
          this.filling -= 1;
          if (reportLoss && !this.closed) this.emit('lost', err instanceof PinholeError ? err : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: err }));
        },
      );
    }
  }

  /** Sends CONNECT (reading the reply is set up first) and resolves with the socket once 2xx. */
  private connectOver(socket: TLSSocket, target: TunnelTarget): Promise<Duplex> {
    const authority = authorityOf(target);
    return new Promise((resolve, reject) => {
      let buffered: Buffer = Buffer.alloc(0);
      const finish = (err?: PinholeError): void => {
        clearTimeout(timer);
        socket.removeListener('data', onData);
        socket.removeListener('error', onError);
        socket.removeListener('close', onClose);
        if (err) {
          socket.destroy();
          reject(err);
        }
      };
      const onData = (chunk: Buffer): void => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        const reply = parseConnectReply(buffered);
        if (reply.kind === 'incomplete') return;
        if (reply.kind === 'invalid') return finish(new PinholeError('PINHOLE_TLS_FAILED', `The gateway answered CONNECT with something that is not HTTP: ${reply.why}.`));
        if (reply.status < 200 || reply.status > 299) {
          return finish(refusalError(reply.status, reply.headers['pinhole-error'], this.options.user, authority));
        }
        finish();
        // The caller's pipeline reports errors from here on; this keeps a late one from crashing us.
        socket.on('error', () => undefined);
        socket.pause();
        const rest = buffered.subarray(reply.headLength);
        if (rest.length > 0) socket.unshift(rest);
        resolve(socket);
      };
      const onError = (err: Error): void => finish(new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err }));
      const onClose = (): void => finish(new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The gateway closed the connection before answering CONNECT.'));
      const timer = setTimeout(
        () => finish(new PinholeError('PINHOLE_GATEWAY_TIMEOUT', 'The gateway did not answer CONNECT in time.', { details: { target: authority } })),
        this.options.replyTimeoutMs ?? 20_000,
      );
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
      socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${this.credentials}\r\n\r\n`);
    });
  }
}
