/**
 * The gateway's HTTP/1.1 tunnels on the native byte path (issue 27, item 3). For a TLS connection
 * whose ClientHello the native server answers as Node's would (no ALPN, or http/1.1 without h2), the
 * addon runs the TLS server (the same certificate, key, versions, suites, ALPN, session id context
 * and ticket keys as tls-service.ts's servers, so a session resumes on either path) and the
 * decrypted bytes reach the HTTP/1.1 door through a socket pair: every decision stays in JavaScript
 * (the request head, authentication and penalties, policy, the dial, the answer, the access log).
 * After a CONNECT the addon holds the client's further bytes; when the door answers 2xx,
 * `handOver` gives it the destination and the native thread relays TLS <-> TCP from there, with the
 * relay's timeouts, counts and close semantics. Anything else (a refusal, an absolute-URI request, a
 * WebSocket) goes on over the pair as it came. h2 connections, and everything this server cannot
 * take, stay on Node's TLS server.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { HandoverError, type NativeBytePath, type NativeRelay, type NativeRelayResult, type NativeServerSettings, type ServerContextHandle } from '../node/native/byte-path.js';
import { RelayTimeoutError, type RelayResult, type RelayTimeouts } from '../node/relay.js';
import type { Logger } from '../shared/log.js';
import type { GatewayMetrics } from './metrics.js';
import { shareConnection, connectionOf } from './mux/connection.js';
import type { ClientHello } from './sniff/index.js';

/** Where a decrypted connection goes once its handshake is done (the doors). */
export interface DecryptedHandler {
  handle(socket: Socket): void;
}

/** What runTunnelRequest gives a byte path taking over an answered tunnel (tunnel-request.ts). */
export interface HandOverOptions extends RelayTimeouts {
  /** Bytes that came with the request head: the destination gets them first (not counted in `done`'s bytesUp, as with `relay`). */
  readonly early: Buffer;
  readonly done: (result: RelayResult) => void;
}

/** The handle of a tunnel on the native path: a drain or a hold ends it. */
export interface HandedTunnel {
  /** Live counts for the sessions view (what the access line will say, before the early bytes). */
  readonly bytesUp: number;
  readonly bytesDown: number;
  destroy(): void;
}

/** As Node's TLS server: a handshake not done in this time is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

const hasDescriptor = (socket: Socket): boolean => {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0;
};

export class NativeTls {
  private context: ServerContextHandle | undefined;
  /** Why the native server is not serving (logged once per change). */
  private refusedWith: string | undefined;
  /** The decrypted side of each native session, until it closes. */
  private readonly sessions = new WeakMap<Socket, NativeRelay>();
  /** A session whose tunnel was handed over (or is being): its close is the tunnel's end. */
  private readonly tunnels = new WeakMap<NativeRelay, (result: NativeRelayResult) => void>();
  private readonly live = new Set<NativeRelay>();

  constructor(
    private readonly native: NativeBytePath,
    private readonly handler: DecryptedHandler,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {}

  /** Sessions open on the native TLS server now (handshaking, before the answer, or relaying). */
  get openSessions(): number {
    return this.live.size;
  }

  /** (Re)builds the native server from the TLS servers' settings; what it cannot take is said once, and Node's TLS server serves every connection. */
  configure(settings: NativeServerSettings): void {
    try {
      this.context = this.native.serverContext(settings);
      if (this.refusedWith !== undefined) this.logger.info('The native byte path serves the gateway TLS of HTTP/1.1 tunnels again.');
      this.refusedWith = undefined;
    } catch (err) {
      this.context = undefined;
      const reason = err instanceof Error ? err.message : String(err);
      if (reason !== this.refusedWith) this.logger.warn({ reason }, `The native byte path cannot serve the gateway TLS (${reason}); Node's TLS server serves HTTP/1.1 tunnels.`);
      this.refusedWith = reason;
    }
  }

  /** Whether the native server answers this hello as Node's would: no ALPN, or http/1.1 and not h2 (h2 stays with Node). */
  private takes(socket: Socket, hello: ClientHello | undefined): boolean {
    if (this.context === undefined || hello === undefined || socket instanceof TLSSocket || socket.destroyed) return false;
    if (hello.alpn.includes('h2') || (hello.alpn.length > 0 && !hello.alpn.includes('http/1.1'))) return false;
    return hasDescriptor(socket);
  }

  /** Serves the connection natively when it can; false (the socket untouched) for Node's TLS server. */
  terminate(socket: Socket, hello: ClientHello | undefined): boolean {
    const context = this.context;
    if (context === undefined || !this.takes(socket, hello)) return false;
    const connection = connectionOf(socket);
    let secured = false;
    let decrypted: Socket | undefined;
    let session: NativeRelay;
    try {
      ({ relay: session, decrypted } = this.native.tlsAccept(socket, context, {
        secure: (_certificates, _alpn, resumed) => {
          secured = true;
          clearTimeout(timer);
          this.metrics.tlsHandshakes.inc({ resumed: String(resumed) });
          if (decrypted !== undefined) this.handler.handle(decrypted);
        },
        close: (result) => {
          clearTimeout(timer);
          this.live.delete(session);
          this.tunnels.get(session)?.(result);
          if (!secured) {
            this.logger.info({ err: result.error?.message ?? 'the client closed the connection', ...connection, bytePath: 'native' }, 'A TLS handshake failed.');
            decrypted?.destroy();
          }
        },
      }));
    } catch (err) {
      if (!(err instanceof HandoverError)) throw err;
      this.logger.debug({ err, ...connection }, 'A TLS connection could not be handed to the native byte path; Node serves it.');
      return false;
    }
    const timer = setTimeout(() => session.destroy(), HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    this.live.add(session);
    shareConnection(socket, decrypted);
    decrypted.on('error', () => decrypted?.destroy());
    // JavaScript is done with the session without handing it over (a refusal ends it, a client gone
    // closes it): the client's bytes held after a CONNECT go on to it, and the session ends as it would.
    decrypted.once('finish', () => {
      if (this.tunnels.has(session)) return;
      session.release();
      decrypted?.resume();
    });
    decrypted.once('close', () => {
      if (!this.tunnels.has(session)) session.release();
    });
    this.sessions.set(decrypted, session);
    return true;
  }

  /**
   * The handover point (tunnel-request.ts): `client` answered 2xx on a native session, so the native
   * thread relays it with `upstream` once the answer is flushed. Undefined when `client` is not a
   * native session or `upstream` cannot be handed over: the caller relays in JavaScript (and the
   * session lets the client's bytes through).
   */
  handOver(client: Duplex, upstream: Socket, options: HandOverOptions): HandedTunnel | undefined {
    const session = this.sessions.get(client as Socket);
    if (session === undefined) return undefined;
    const { early, done, ...timeouts } = options;
    if (session.closed || upstream instanceof TLSSocket || upstream.destroyed || !hasDescriptor(upstream) || upstream.writableLength > 0) {
      session.release();
      return undefined;
    }
    const pair = client as Socket;
    let handed = false;
    let ended = false;
    this.tunnels.set(session, (result) => {
      if (ended) return;
      ended = true;
      if (!handed) upstream.destroy();
      const bytesUp = handed ? Math.max(0, result.bytesUp - early.length) : 0;
      const bytesDown = handed ? result.bytesDown : 0;
      const error = result.error;
      done({ bytesUp, bytesDown, ...(error === undefined ? {} : { error }), ...(error instanceof RelayTimeoutError ? { timedOut: error.reason } : {}) });
    });
    // The answer (the 200) must be in the pair before the engine reads what is left of it.
    const go = (): void => {
      if (handed || ended || session.closed) return;
      try {
        session.handOver(upstream, early.length > 0 ? early : undefined, timeouts);
        handed = true;
      } catch (err) {
        this.logger.warn({ err, ...connectionOf(pair) }, 'A tunnel could not be handed to the native byte path; it was closed.');
        session.destroy();
        return;
      }
      // The engine reads what is left of the answer, then closes its end: the pair ends then (closing
      // it here first could look like a client gone before the engine took the destination).
      pair.resume();
    };
    if (pair.writableLength === 0) go();
    else {
      pair.once('drain', go);
      pair.once('close', go);
    }
    return {
      get bytesUp(): number {
        return handed ? Math.max(0, session.bytesUp - early.length) : 0;
      },
      get bytesDown(): number {
        return handed ? session.bytesDown : 0;
      },
      destroy: () => {
        session.destroy();
        if (!handed) upstream.destroy();
      },
    };
  }

  /** Ends every native session (the end of a drain). */
  destroyAll(): void {
    for (const session of this.live) session.destroy();
  }
}
