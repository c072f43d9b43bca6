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
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import WebSocket, { createWebSocketStream } from 'ws';
import { PinholeError } from '../../shared/errors.js';
import { DEFAULT_WS_PATH, END_OF_STREAM, ERROR_HEADER, HALF_CLOSE_HEADER, TARGET_HEADER } from '../../shared/ws-tunnel.js';
import { dialGateway, TlsSessionCache } from './dial.js';
import { refusalError } from './refusal.js';
import { authorityOf, basicCredentials, type GatewayDialOptions, type TransportStats, type TunnelTarget } from './transport.js';
import { gatewayError } from './verify.js';

export interface WssTransportOptions extends GatewayDialOptions {
  /** The gateway's tunnel path (default /pinhole/ws). */
  wsPath?: string;
  /** Pre-opened TLS connections kept warm (default 2; 0 turns the pool off). */
  poolSize?: number;
  sessions?: TlsSessionCache;
}

/** Largest message the client accepts from the gateway (the gateway's own cap, see gateway/ws-tunnel.ts). */
const MAX_PAYLOAD = 16 * 1024 * 1024;
/** A pre-opened connection older than this is dropped rather than used (idle timeouts on the path). */
const POOL_MAX_AGE_MS = 20_000;

interface Warm {
  readonly socket: TLSSocket;
  readonly at: number;
  readonly onGone: () => void;
}

/**
 * The wss transport, shaped like the engine's Transport (transport.ts): open / warm / stats /
 * close, events 'up' and 'lost'. Its kind is 'wss'.
 */
export class WssTransport extends EventEmitter {
  readonly kind = 'wss' as const;
  private readonly options: WssTransportOptions;
  private readonly sessions: TlsSessionCache;
  private readonly credentials: string;
  private readonly warmSockets: Warm[] = [];
  private warming = 0;
  private closed = false;
  private rttMs: number | null = null;
  private readonly live = new Set<TLSSocket>();

  constructor(options: WssTransportOptions) {
    super();
    if (options.endpoints.length === 0) throw new PinholeError('PINHOLE_CONFIG_INVALID', 'The gateway has no endpoint to connect to.');
    this.options = options;
    this.sessions = options.sessions ?? new TlsSessionCache();
    this.credentials = basicCredentials(options.user, options.password);
  }

  /** Open one tunnel to `target`; resolves to its byte stream, or rejects with a PinholeError. */
  async open(target: TunnelTarget): Promise<Duplex> {
    if (this.closed) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    const pooled = this.takeWarm();
    this.refill();
    if (pooled !== undefined) {
      try {
        return await this.upgrade(pooled, target);
      } catch (err) {
        // A warm connection the path closed under us is not the destination's fault: retry fresh.
        if (!(err instanceof PinholeError) || err.code !== 'PINHOLE_GATEWAY_CLOSED') throw err;
      }
    }
    return this.upgrade(await this.dial(), target);
  }

  /** Make sure a verified connection to the gateway is up (fails early on a bad pin or an unreachable gateway). */
  async warm(): Promise<void> {
    if (this.warmSockets.length > 0) return;
    this.keepWarm(await this.dial());
    this.refill();
  }

  stats(): TransportStats {
    return { gatewayConnections: this.live.size, rttMs: this.rttMs };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.warmSockets.splice(0)) w.socket.destroy();
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

  private takeWarm(): TLSSocket | undefined {
    const now = Date.now();
    while (this.warmSockets.length > 0) {
      const w = this.warmSockets.shift()!;
      w.socket.off('close', w.onGone).off('end', w.onGone).off('error', w.onGone);
      if (!w.socket.destroyed && !w.socket.readableEnded && now - w.at < POOL_MAX_AGE_MS) return w.socket;
      w.socket.destroy();
    }
    return undefined;
  }

  private refill(): void {
    const size = this.options.poolSize ?? 2;
    while (!this.closed && this.warmSockets.length + this.warming < size) {
      this.warming++;
      this.dial().then(
        (socket) => {
          this.warming--;
          this.keepWarm(socket);
        },
        (err: unknown) => {
          this.warming--;
          this.options.logger.debug({ code: (err as PinholeError).code }, 'A spare connection to the gateway could not be opened.');
        },
      );
    }
  }

  private keepWarm(socket: TLSSocket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const onGone = (): void => {
      const i = this.warmSockets.findIndex((w) => w.socket === socket);
      if (i >= 0) this.warmSockets.splice(i, 1);
      socket.destroy();
    };
    socket.once('close', onGone);
    socket.once('end', onGone);
    socket.on('error', onGone);
    this.warmSockets.push({ socket, at: Date.now(), onGone });
  }

  private upgrade(socket: TLSSocket, target: TunnelTarget): Promise<Duplex> {
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
          fail(refusalError(res.statusCode ?? 502, Array.isArray(code) ? code[0] : code, user, authority));
        };
        res.once('end', finish);
        res.once('error', finish);
        res.once('close', finish);
      });
      ws.once('error', (err) => {
        // Nothing was answered: the connection died under us (a stale warm socket, or the gateway going away).
        fail(
          err.message.includes('socket hang up') || (err as { code?: string }).code === 'ECONNRESET'
            ? new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err })
            : gatewayError(err, 'tls'),
        );
      });
      // An older gateway does not echo the header: then ending one direction closes the tunnel, as before.
      let halfClose = false;
      ws.once('upgrade', (res) => {
        halfClose = res.headers[HALF_CLOSE_HEADER.toLowerCase()] === '1';
      });
      ws.once('open', () => {
        if (settled) return;
        settled = true;
        resolve(socketLike(halfClose ? halfCloseStream(ws) : createWebSocketStream(ws), socket));
      });
    });
  }
}

const END_BYTES = Buffer.from(END_OF_STREAM);

/**
 * The tunnel's byte stream on a half-close WebSocket (protocol in gateway/ws-tunnel.ts): BINARY
 * messages are bytes, the TEXT message END_OF_STREAM ends the readable side, and ending the
 * writable side sends it. Once it has gone both ways the WebSocket closes with 1000; a close
 * before that, or anything else on the wire, destroys the stream with an error.
 */
function halfCloseStream(ws: WebSocket): Duplex {
  let sentEnd = false;
  let gotEnd = false;
  const clean = (): boolean => sentEnd && gotEnd;
  const closeWhenDone = (): void => {
    if (clean() && ws.readyState === ws.OPEN) ws.close(1000);
  };
  const stream = new Duplex({
    read() {
      if (ws.isPaused) ws.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      ws.send(chunk, { binary: true }, callback);
    },
    final(callback) {
      ws.send(END_OF_STREAM, { binary: false }, (err) => {
        if (!err) sentEnd = true;
        callback(err);
        closeWhenDone();
      });
    },
    destroy(err, callback) {
      if (ws.readyState === ws.CLOSED) {
        callback(err);
        return;
      }
      ws.once('close', () => callback(err));
      if (err === null && clean()) ws.close(1000);
      else ws.terminate();
    },
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary && !gotEnd) {
      if (!stream.push(data)) ws.pause();
    } else if (!isBinary && !gotEnd && END_BYTES.equals(data)) {
      gotEnd = true;
      stream.push(null);
      ws.resume(); // read() is not called after the end; only the close frame can follow now
      closeWhenDone();
    } else {
      stream.destroy(new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The gateway sent bytes after the end of the stream, or an unknown message.'));
    }
  });
  ws.on('error', (err) => stream.destroy(err));
  ws.once('close', () => {
    if (!clean()) stream.destroy(new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The WebSocket tunnel closed before both directions had ended.'));
  });
  return stream;
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
