/**
 * Transport `wss`: every tunnel is one WebSocket over its own TLS connection to the gateway, for
 * networks whose middleboxes only pass HTTP and for gateways behind a reverse proxy or CDN on a
 * path. The protocol is documented in gateway/ws-tunnel.ts: `GET <wsPath>` with
 * `Pinhole-Target: host:port` and Basic credentials; refusals come back as plain HTTP responses
 * with `Pinhole-Error: CODE`, which become the same PinholeError an HTTP proxy would give.
 *
 * TLS is verified by the client's own verify.ts (pin, CA, OS store), SNI is the gateway's name,
 * ALPN is pinned to http/1.1. A small pool of pre-opened TLS connections and a cached TLS session
 * mean a new tunnel rarely pays a full handshake. Through an upstream HTTP proxy, each TLS
 * connection starts with `CONNECT gateway:port`.
 *
 * Early start (issue 24): on a gateway whose 101 said it reads frames sent before it
 * (shared/early-data.ts), a tunnel may take the application's bytes before the answer: they go as
 * frames right behind the upgrade request (early-ws-stream.ts), and nothing is read until the 101.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { errorCode } from '../../node/dial.js';
import { refusalError } from '../../node/refusal.js';
import { TlsPool } from '../../node/tls-pool.js';
import { DEFAULT_LIVENESS_TIMEOUT_MS } from '../gateways/liveness.js';
import { wsDuplex } from '../../node/ws-duplex.js';
import { PinholeError } from '../../shared/errors.js';
import { DEFAULT_WS_PATH, ERROR_HEADER, HALF_CLOSE_HEADER, TARGET_HEADER } from '../../shared/ws-tunnel.js';
import { EARLY_DATA_HEADER } from '../../shared/early-data.js';
import { dialGateway, TlsSessionCache } from './dial.js';
import { EarlyWsStream } from './early-ws-stream.js';
import { ReplayableStream } from './replayable-stream.js';
import { authorityOf, basicCredentials, type EarlyTunnel, type GatewayDialOptions, type TransportStats, type TunnelTarget } from './transport.js';
import { gatewayError } from './verify.js';
import type { DatagramChannel } from '../../shared/udp/datagram-channel.js';
import { UDP_WS_PATH } from '../../shared/udp/ws-frame.js';
import { openWsUdpFlow } from '../udp/ws-flow.js';

export interface WssTransportOptions extends GatewayDialOptions {
  /** The gateway's tunnel path (default /pinhole/ws). */
  wsPath?: string;
  /** Pre-opened TLS connections kept warm (default 2; 0 turns the pool off). */
  poolSize?: number;
  sessions?: TlsSessionCache;
}

/** Largest message the client accepts from the gateway (the gateway's own cap, see gateway/ws-tunnel.ts). */
const MAX_PAYLOAD = 16 * 1024 * 1024;

/** The connection died before the upgrade was answered (a stale warm socket, a gateway going away). */
const HANG_UP_CODES = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED']);
const isStale = (err: unknown): boolean => err instanceof PinholeError && err.code === 'PINHOLE_GATEWAY_CLOSED';

/** An early stream's errors reach the caller through the ReplayableStream over it (from its settle) or through the answer. */
const quiet = (stream: EarlyWsStream): EarlyWsStream => stream.on('error', () => undefined);

/**
 * The wss transport, shaped like the engine's Transport (transport.ts): open / warm / stats /
 * close, events 'up' and 'lost'. Its kind is 'wss'.
 */
export class WssTransport extends EventEmitter {
  readonly kind = 'wss' as const;
  private readonly options: WssTransportOptions;
  private readonly sessions: TlsSessionCache;
  private readonly basic: string;
  private readonly pool: TlsPool;
  private closed = false;
  private rttMs: number | null = null;
  private readonly live = new Set<TLSSocket>();
  /** The gateway's 101 said it reads frames sent before it (a Pinhole gateway that has early start). */
  private takesEarlyBytes = false;

  constructor(options: WssTransportOptions) {
    super();
    if (options.endpoints.length === 0) throw new PinholeError('PINHOLE_CONFIG_INVALID', 'The gateway has no endpoint to connect to.');
    this.options = options;
    this.sessions = options.sessions ?? new TlsSessionCache();
    this.basic = basicCredentials(options.user, options.password);
    this.pool = new TlsPool({ dial: () => this.dial(), size: options.poolSize ?? 2 });
    this.pool.on('refill-failed', (err) => {
      if (!this.closed) this.emit('lost', err instanceof PinholeError ? err : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: err }));
    });
  }

  /** Read for each tunnel: a signed-in user's credential changes when it is renewed. */
  private get credentials(): string {
    return this.options.authorization?.header() ?? this.basic;
  }

  /** Open one tunnel to `target`; resolves to its byte stream, or rejects with a PinholeError. */
  async open(target: TunnelTarget): Promise<Duplex> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    // A warm connection the path closed under us is not the destination's fault: retried fresh.
    // A pooled connection that has not answered within the liveness timeout (a frozen gateway) gets one fresh connection alongside it.
    return this.pool.use((socket) => this.upgrade(socket, target), isStale, this.options.choice?.livenessTimeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS);
  }

  /** Early start: the gateway said it takes frames before its answer. */
  get startsEarly(): boolean {
    return this.takesEarlyBytes;
  }

  /**
   * A tunnel started before the answer (see the module comment). A pooled connection the path
   * closed while idle fails the upgrade unanswered: the same request and the bytes written so far
   * go again on a fresh connection (ReplayableStream), as on the other transports.
   */
  async openEarly(target: TunnelTarget): Promise<EarlyTunnel> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    const { socket, pooled } = await this.pool.take();
    const first = quiet(new EarlyWsStream(socket));
    const sent = this.upgrade(socket, target, first);
    const stream = new ReplayableStream(first);
    const answered = sent.then(
      () => stream.settle(),
      async (err: unknown) => {
        if (!pooled || !isStale(err) || !stream.canReplay || stream.destroyed || this.closed) throw err;
        const fresh = await this.dial();
        const next = quiet(new EarlyWsStream(fresh));
        const again = this.upgrade(fresh, target, next);
        stream.replaceWith(next);
        await again;
        stream.settle();
      },
    );
    // The caller may learn of a refusal through the stream closing first; the rejection is theirs.
    answered.catch(() => undefined);
    return { stream, answered };
  }

  /** UDP (issue 14): one WebSocket per flow on the gateway's UDP path, over a verified pooled TLS connection. */
  async openUdpFlow(target: TunnelTarget): Promise<DatagramChannel> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    return this.pool.use((socket) => {
      const port = socket.remotePort ?? 443;
      const host = port === 443 ? this.options.serverName : `${this.options.serverName}:${port}`;
      return openWsUdpFlow(target.host, target.port, { url: `wss://${host}${UDP_WS_PATH}`, authorization: this.credentials, clientOptions: { createConnection: () => socket } });
    }, isStale);
  }

  /** Make sure a verified connection to the gateway is up (fails early on a bad pin or an unreachable gateway). */
  warm(): Promise<void> {
    return this.pool.warm();
  }

  stats(): TransportStats {
    return { gatewayConnections: this.live.size, rttMs: this.rttMs };
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
    this.live.add(socket);
    socket.once('close', () => this.live.delete(socket));
    if (this.closed) socket.destroy();
    else this.emit('up');
    return socket;
  }

  /** The upgrade on `socket`; with `early`, its bytes follow the request before the answer, and it becomes the tunnel's stream. */
  private upgrade(socket: TLSSocket, target: TunnelTarget, early?: EarlyWsStream): Promise<Duplex> {
    const { serverName, user } = this.options;
    const authority = authorityOf(target);
    const port = socket.remotePort ?? 443;
    const host = port === 443 ? serverName : `${serverName}:${port}`;
    const path = this.options.wsPath ?? DEFAULT_WS_PATH;
    return new Promise<Duplex>((resolve, reject) => {
      let settled = false;
      const ws = new WebSocket(`wss://${host}${path}`, {
        createConnection: () => socket,
        headers: {
          [TARGET_HEADER]: authority,
          Authorization: this.credentials,
          [HALF_CLOSE_HEADER]: '1',
        },
        perMessageDeflate: false,
        maxPayload: MAX_PAYLOAD,
        handshakeTimeout: this.options.connectTimeoutMs ?? 30_000,
        followRedirects: false,
        ...(early === undefined
          ? {}
          : {
              finishRequest: (request) => {
                request.once('finish', () => early.requestSent());
                request.end();
              },
            }),
      });
      const fail = (err: PinholeError): void => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(err);
      };
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < 4096) chunks.push(chunk);
          size += chunk.length;
        });
        const finish = (): void => {
          const code = res.headers[ERROR_HEADER.toLowerCase()];
          fail(refusalError(res.statusCode ?? 502, Array.isArray(code) ? code[0] : code, user, authority, res.headers['pinhole-reason']));
        };
        res.once('end', finish);
        res.once('error', finish);
        res.once('close', finish);
      });
      ws.once('error', (err) => {
        // Nothing was answered: the connection died under us (a stale warm socket, or the gateway going away).
        const code = errorCode(err);
        fail(code !== undefined && HANG_UP_CODES.has(code) ? new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err }) : gatewayError(err, 'tls'));
      });
      // An older gateway does not echo the header: then ending one direction closes the tunnel, as before.
      let halfClose = false;
      ws.once('upgrade', (res) => {
        halfClose = res.headers[HALF_CLOSE_HEADER.toLowerCase()] === '1';
        this.takesEarlyBytes = res.headers[EARLY_DATA_HEADER.toLowerCase()] === '1';
      });
      ws.once('open', () => {
        if (settled) return;
        settled = true;
        const stream = wsDuplex(ws, { halfClose });
        if (early === undefined) resolve(socketLike(stream, socket));
        else {
          early.accepted(stream);
          resolve(early);
        }
      });
    });
  }
}

/**
 * The tunnel stream with the few Socket methods HTTP clients call on a connection they were given
 * (`http.request({ createConnection })` calls setTimeout/setNoDelay/setKeepAlive), delegated to
 * the TLS socket under the WebSocket. Timeouts are reported on the stream, as a socket would.
 */
function socketLike(stream: Duplex, tls: TLSSocket): Duplex {
  let forwarding = false;
  const shaped = stream as Duplex & {
    setTimeout(ms: number, callback?: () => void): Duplex;
    setNoDelay(noDelay?: boolean): Duplex;
    setKeepAlive(enable?: boolean, delay?: number): Duplex;
  };
  shaped.setTimeout = (ms, callback) => {
    if (!forwarding) {
      forwarding = true;
      tls.on('timeout', () => stream.emit('timeout'));
    }
    tls.setTimeout(ms);
    if (callback !== undefined) stream.once('timeout', callback);
    return stream;
  };
  shaped.setNoDelay = (noDelay) => {
    tls.setNoDelay(noDelay);
    return stream;
  };
  shaped.setKeepAlive = (enable, delay) => {
    tls.setKeepAlive(enable, delay);
    return stream;
  };
  return stream;
}
