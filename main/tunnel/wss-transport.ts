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
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import WebSocket, { createWebSocketStream } from 'ws';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { formatEndpoint, type Endpoint, type Trust } from '../../shared/profile.js';
import { DEFAULT_WS_PATH, ERROR_HEADER, TARGET_HEADER, errorFromRefusal } from '../../shared/ws-tunnel.js';
import { parseConnectReply } from './connect-reply.js';
import { gatewayError, tlsOptionsFor, verifyPeer } from './verify.js';

export interface UpstreamProxy {
  readonly endpoint: Endpoint;
  readonly user?: string;
  readonly password?: string;
}

export interface WssTransportOptions {
  /** Where to dial (first that answers wins). */
  readonly endpoints: readonly Endpoint[];
  /** The gateway's TLS name: SNI, certificate check and Host header. */
  readonly serverName: string;
  readonly trust: Trust;
  readonly user: string;
  readonly password: string;
  readonly wsPath?: string;
  readonly upstreamProxy?: UpstreamProxy;
  readonly logger: Logger;
  readonly connectTimeoutMs?: number;
  /** Pre-opened TLS connections kept warm (default 2; 0 turns the pool off). */
  readonly poolSize?: number;
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

export class WssTransport {
  readonly name = 'wss' as const;
  private readonly options: WssTransportOptions;
  private session: Buffer | undefined;
  private readonly warm: Warm[] = [];
  private warming = 0;
  private closed = false;
  private readonly open = new Set<Duplex>();

  constructor(options: WssTransportOptions) {
    if (options.endpoints.length === 0) throw new PinholeError('PINHOLE_CONFIG_INVALID', 'The gateway has no endpoint to connect to.');
    this.options = options;
  }

  /** Open one tunnel to `target`; resolves to its byte stream, or rejects with a PinholeError. */
  async openTunnel(target: Endpoint): Promise<Duplex> {
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
    return this.upgrade(await this.dialGateway(), target);
  }

  /** Fill the warm pool once (e.g. at connect, to fail early on a bad pin or an unreachable gateway). */
  async warmUp(): Promise<void> {
    const socket = await this.dialGateway();
    this.keepWarm(socket);
    this.refill();
  }

  get openTunnels(): number {
    return this.open.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.warm.splice(0)) w.socket.destroy();
    for (const stream of this.open) stream.destroy();
  }

  private takeWarm(): TLSSocket | undefined {
    const now = Date.now();
    while (this.warm.length > 0) {
      const w = this.warm.shift()!;
      w.socket.off('close', w.onGone).off('end', w.onGone).off('error', w.onGone);
      if (!w.socket.destroyed && !w.socket.readableEnded && now - w.at < POOL_MAX_AGE_MS) return w.socket;
      w.socket.destroy();
    }
    return undefined;
  }

  private refill(): void {
    const size = this.options.poolSize ?? 2;
    while (!this.closed && this.warm.length + this.warming < size) {
      this.warming++;
      this.dialGateway().then(
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
      const i = this.warm.findIndex((w) => w.socket === socket);
      if (i >= 0) this.warm.splice(i, 1);
      socket.destroy();
    };
    socket.once('close', onGone);
    socket.once('end', onGone);
    socket.on('error', onGone);
    socket.unref();
    this.warm.push({ socket, at: Date.now(), onGone });
  }

  /** TCP (directly or via the upstream proxy), then TLS with the gateway's name, verified. */
  private async dialGateway(): Promise<TLSSocket> {
    let lastError: unknown;
    for (const endpoint of this.options.endpoints) {
      try {
        const raw = await this.dialTcp(endpoint);
        return await this.startTls(raw);
      } catch (err) {
        lastError = err;
      }
    }
    throw gatewayError(lastError, 'tcp');
  }

  private dialTcp(endpoint: Endpoint): Promise<Socket> {
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const proxy = this.options.upstreamProxy;
    const hop = proxy?.endpoint ?? endpoint;
    return new Promise<Socket>((resolve, reject) => {
      const socket = netConnect({ host: hop.host, port: hop.port });
      const timer = setTimeout(() => fail(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
      function fail(err: unknown): void {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      }
      socket.once('error', fail);
      socket.once('connect', () => {
        if (proxy === undefined) {
          clearTimeout(timer);
          socket.off('error', fail);
          resolve(socket);
          return;
        }
        // CONNECT through the corporate proxy: read its reply before anything else is written.
        let head: Buffer = Buffer.alloc(0);
        const onData = (chunk: Buffer): void => {
          head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
          const reply = parseConnectReply(head);
          if (reply.kind === 'incomplete') return;
          socket.off('data', onData);
          socket.pause();
          if (reply.kind === 'invalid' || reply.status < 200 || reply.status > 299) {
            const why = reply.kind === 'invalid' ? reply.why : `status ${reply.status}`;
            fail(new PinholeError('PINHOLE_UPSTREAM_PROXY_FAILED', undefined, { details: { reason: why } }));
            return;
          }
          clearTimeout(timer);
          socket.off('error', fail);
          if (head.length > reply.headLength) socket.unshift(head.subarray(reply.headLength));
          resolve(socket);
        };
        socket.on('data', onData);
        const authority = formatEndpoint(endpoint);
        const auth =
          proxy.user === undefined ? '' : `Proxy-Authorization: Basic ${Buffer.from(`${proxy.user}:${proxy.password ?? ''}`).toString('base64')}\r\n`;
        socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`);
      });
    });
  }

  private startTls(raw: Socket): Promise<TLSSocket> {
    const { serverName, trust } = this.options;
    return new Promise<TLSSocket>((resolve, reject) => {
      const socket = tlsConnect({
        ...tlsOptionsFor(trust, serverName),
        socket: raw,
        ALPNProtocols: ['http/1.1'],
        minVersion: 'TLSv1.2',
        ...(this.session === undefined ? {} : { session: this.session }),
      });
      socket.on('session', (session: Buffer) => {
        this.session = session;
      });
      const timer = setTimeout(() => fail(Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' })), this.options.connectTimeoutMs ?? 10_000);
      function fail(err: unknown): void {
        clearTimeout(timer);
        socket.destroy();
        raw.destroy();
        reject(gatewayError(err, 'tls'));
      }
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        try {
          verifyPeer(socket, trust);
        } catch (err) {
          fail(err);
          return;
        }
        socket.off('error', fail);
        resolve(socket);
      });
    });
  }

  private upgrade(socket: TLSSocket, target: Endpoint): Promise<Duplex> {
    const { serverName, user, password } = this.options;
    const port = socket.remotePort ?? 443;
    const host = port === 443 ? serverName : `${serverName}:${port}`;
    const path = this.options.wsPath ?? DEFAULT_WS_PATH;
    socket.ref();
    return new Promise<Duplex>((resolve, reject) => {
      let settled = false;
      const ws = new WebSocket(`wss://${host}${path}`, {
        createConnection: () => socket,
        headers: {
          [TARGET_HEADER]: formatEndpoint(target),
          Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
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
          fail(errorFromRefusal(res.statusCode ?? 502, Array.isArray(code) ? code[0] : code, Buffer.concat(chunks).toString('utf8')));
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
      ws.once('open', () => {
        if (settled) return;
        settled = true;
        const stream = createWebSocketStream(ws);
        this.open.add(stream);
        stream.once('close', () => this.open.delete(stream));
        resolve(stream);
      });
    });
  }
}
