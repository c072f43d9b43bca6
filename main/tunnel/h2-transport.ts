/**
 * HTTP/2 tunnels: one warm TLS connection to the gateway carries every CONNECT stream
 * (RFC 9113 8.5). Windows are sized for bulk transfer, a PING measures the round trip and proves
 * the connection alive, and a lost or GOAWAY'd session is replaced on the next open(): only the
 * streams that were open on it end.
 */
import { EventEmitter } from 'node:events';
import { connect as h2Connect, constants, sensitiveHeaders, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { PinholeError } from '../../shared/errors.js';
import { dialGateway, TlsSessionCache } from './dial.js';
import { refusalError } from '../../node/refusal.js';
import { ReplayableStream } from './replayable-stream.js';
import type { DatagramChannel } from '../../shared/udp/datagram-channel.js';
import { openH2UdpFlow } from '../udp/h2-flow.js';
import { authorityOf, basicCredentials, type EarlyTunnel, type GatewayDialOptions, type Transport, type TransportStats, type TunnelTarget } from './transport.js';

export interface H2TransportOptions extends GatewayDialOptions {
  /** A connection that already negotiated ALPN h2 (from negotiation) to use first. */
  initialSocket?: TLSSocket;
  sessions?: TlsSessionCache;
  pingIntervalMs?: number;
}

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
  private pingTimer: NodeJS.Timeout | undefined;
  private rttMs: number | null = null;
  private closed = false;

  constructor(private readonly options: H2TransportOptions) {
    super();
    this.tlsSessions = options.sessions ?? new TlsSessionCache();
    this.credentials = basicCredentials(options.user, options.password);
    if (options.initialSocket) this.session = this.adopt(options.initialSocket);
    this.pingTimer = setInterval(() => this.ping(), options.pingIntervalMs ?? 10_000);
    this.pingTimer.unref();
  }

  stats(): TransportStats {
    return { gatewayConnections: this.sessionsAlive.size, rttMs: this.rttMs };
  }

  async warm(): Promise<void> {
    await this.currentSession();
  }

  async open(target: TunnelTarget): Promise<Duplex> {
    // A stream refused unprocessed (it crossed a stopping gateway's GOAWAY) is sent once more, on a fresh connection.
    for (let attempt = 0; ; attempt++) {
      const stream = await this.request(target);
      try {
        return await this.awaitResponse(stream, authorityOf(target));
      } catch (err) {
        if (attempt > 0 || !wasRefusedUnprocessed(stream)) throw err;
      }
    }
  }

  async openEarly(target: TunnelTarget): Promise<EarlyTunnel> {
    const first = await this.request(target);
    const stream = new ReplayableStream(first);
    const answered = this.awaitResponse(first, authorityOf(target)).then(
      () => stream.settle(),
      async (err: unknown) => {
        // Refused unprocessed: the same CONNECT and the bytes written so far, again on a fresh connection.
        if (!wasRefusedUnprocessed(first) || !stream.canReplay || stream.destroyed) throw err;
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

  /** The CONNECT stream, its HEADERS on their way; DATA written to it follows them. */
  private async request(target: TunnelTarget): Promise<ClientHttp2Stream> {
    const headers = { ':method': 'CONNECT', ':authority': authorityOf(target), 'proxy-authorization': this.credentials, [sensitiveHeaders]: ['proxy-authorization'] };
    // A session can receive GOAWAY between lookup and request: then one fresh session is tried.
    for (let attempt = 0; ; attempt++) {
      const session = await this.currentSession();
      try {
        return session.request(headers, { endStream: false });
      } catch (err) {
        this.forget(session);
        if (attempt > 0) throw new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err });
      }
    }
  }

  private awaitResponse(stream: ClientHttp2Stream, authority: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err?: PinholeError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
          reject(err);
        }
      };
      const timer = setTimeout(
        () => settle(new PinholeError('PINHOLE_GATEWAY_TIMEOUT', 'The gateway did not answer CONNECT in time.', { details: { target: authority } })),
        this.options.replyTimeoutMs ?? 20_000,
      );
      stream.on('error', (err) => settle(new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err })));
      stream.once('close', () => settle(new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The gateway closed the stream before answering CONNECT.')));
      stream.once('response', (headers) => {
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
    clearInterval(this.pingTimer);
    const all = [...this.sessionsAlive];
    await Promise.all(
      all.map(
        (session) =>
          new Promise<void>((resolve) => {
            session.once('close', () => resolve());
            session.destroy();
          }),
      ),
    );
  }

  private currentSession(): Promise<ClientHttp2Session> {
    if (this.closed) return Promise.reject(new PinholeError('PINHOLE_NOT_CONNECTED'));
    const session = this.session;
    if (session && !session.closed && !session.destroyed) return Promise.resolve(session);
    this.dialing ??= dialGateway(this.options, ['h2'], this.tlsSessions)
      .then((socket) => {
        if (socket.alpnProtocol !== 'h2') {
          socket.destroy();
          throw new PinholeError('PINHOLE_TLS_FAILED', 'The gateway no longer speaks HTTP/2.');
        }
        const fresh = this.adopt(socket);
        this.session = fresh;
        this.emit('up');
        return fresh;
      })
      .finally(() => {
        this.dialing = undefined;
      });
    return this.dialing;
  }

  private adopt(socket: TLSSocket): ClientHttp2Session {
    const session = h2Connect(`https://${this.options.serverName}`, {
      createConnection: () => socket,
      settings: { initialWindowSize: H2_STREAM_WINDOW, enablePush: false },
      maxSessionMemory: 256,
    });
    session.setLocalWindowSize(H2_SESSION_WINDOW);
    this.sessionsAlive.add(session);
    // An idle session must not keep a stopping process alive; open streams ref it.
    session.unref();
    session.on('error', () => undefined);
    session.once('goaway', () => this.forget(session));
    session.once('close', () => {
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
    this.ping(session);
    return session;
  }

  /** Stop using a session for new streams (GOAWAY or broken); open streams finish on it. */
  private forget(session: ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
  }

  private ping(session = this.session): void {
    if (!session || session.closed || session.destroyed) return;
    const deadline = setTimeout(() => session.destroy(new Error('The gateway did not answer PING.')), 15_000);
    deadline.unref();
    try {
      session.ping((err, duration) => {
        clearTimeout(deadline);
        if (!err) this.rttMs = Math.round(duration * 10) / 10;
      });
    } catch {
      clearTimeout(deadline);
    }
  }
}
