/**
 * An HTTP/1.1 CONNECT tunnel to the gateway on the native byte path (what stunnel + Squid and the
 * Pinhole gateway accept): the TLS handshake runs natively, JavaScript judges the certificate before
 * a single byte of ours is written, the CONNECT head is built and its answer parsed by the same code
 * as the JavaScript path (node/connect-client.ts, node/connect-reply.ts), and on 2xx the
 * application's socket is handed over. The same hygiene as the JavaScript path: no application byte
 * after a non-2xx answer, the tunnel's first bytes after the head kept for the application.
 *
 * Two steps, so that a warm pool (node/tls-pool.ts) keeps sessions between them as it keeps TLS
 * sockets: `handshakeNative` gives a NativeGatewaySession, verified and waiting for its CONNECT head
 * (the engine watches it meanwhile and closes it if the gateway talks or hangs up); its `connect`
 * sends the head and reads the answer. Early start (shared/early-data.ts) sends the application's
 * first bytes with `send` right behind the head, before the answer.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ConnectFailure, connectRequestHead, type ConnectAnswer, type ConnectRequest } from '../connect-client.js';
import { parseConnectReply } from '../connect-reply.js';
import type { RelayTimeouts } from '../relay.js';
import type { NativeBytePath, NativeRelay, NativeRelayEvents, NativeRelayResult } from './byte-path.js';

export interface NativeHandshakeOptions {
  /** TCP to the gateway: connected, and paused before a byte was read (the handshake is native). */
  readonly socket: Socket;
  /** SNI: the gateway's name; empty for an IP literal (no SNI, as connectTlsOptions does). */
  readonly servername: string;
  /** Judges the gateway's certificates (leaf first), resumed sessions included; throws to refuse. */
  readonly verify: (certificates: readonly Buffer[], resumed: boolean) => void;
  /** Budget for the handshake. */
  readonly timeoutMs: number;
}

export interface NativeConnectOptions extends Omit<NativeHandshakeOptions, 'timeoutMs'> {
  readonly request: ConnectRequest;
}

/** An answered CONNECT. On 2xx, `attach` hands the application over; otherwise it is already closed. */
export interface NativeConnectTunnel {
  readonly answer: ConnectAnswer;
  /** Relay `application` through the tunnel; `toApplication` goes first (a 200 for the application). */
  attach(application: Socket, options?: NativeAttachOptions): Promise<NativeRelayResult>;
  destroy(): void;
}

export interface NativeAttachOptions {
  readonly toGateway?: Buffer;
  readonly toApplication?: Buffer;
  readonly halfClose?: NativeRelayEvents['halfClose'];
  /** --idle-timeout / --half-close-timeout, kept by the engine as node/relay.ts keeps them. */
  readonly timeouts?: RelayTimeouts;
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

const closedBeforeAnswer = (cause?: Error): ConnectFailure => new ConnectFailure('CONNECT_CLOSED', 'The connection closed before CONNECT was answered.', { cause });

/**
 * A TLS session to the gateway whose certificate was accepted, waiting for its CONNECT head. It
 * reads as a pooled socket does (node/tls-pool.ts PoolConnection): open until the engine closed it,
 * and 'close' when it did (the gateway hung up or talked while it waited, or it was destroyed).
 */
export class NativeGatewaySession extends EventEmitter<{ close: [] }> {
  private closeResult: NativeRelayResult | undefined;
  private destroyCalled = false;
  private connecting = false;
  /** Who hears the close once a CONNECT is under way: the answer's wait, then the attached relay. */
  private onClosed: ((result: NativeRelayResult) => void) | undefined;

  constructor(
    private readonly relay: NativeRelay,
    private readonly events: NativeRelayEvents,
  ) {
    super();
    events.close = (result) => {
      this.closeResult = result;
      this.onClosed?.(result);
      this.emit('close');
    };
  }

  get destroyed(): boolean {
    return this.destroyCalled || this.closeResult !== undefined;
  }

  get readable(): boolean {
    return !this.destroyed;
  }

  get writable(): boolean {
    return !this.destroyed;
  }

  get readableEnded(): boolean {
    return this.closeResult !== undefined;
  }

  /** Sends the CONNECT head and resolves with the answer (once per session); dial-level failures are ConnectFailures. */
  connect(request: ConnectRequest): Promise<NativeConnectTunnel> {
    return new Promise((resolve, reject) => {
      if (this.destroyed || this.connecting) {
        reject(closedBeforeAnswer(this.closeResult?.error));
        return;
      }
      this.connecting = true;
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new ConnectFailure('CONNECT_TIMEOUT', 'CONNECT was not answered in time.')), request.timeoutMs);
      this.onClosed = (result) => fail(closedBeforeAnswer(result.error));
      this.events.head = (head) => {
        const reply = parseConnectReply(head);
        if (reply.kind !== 'reply') {
          fail(new ConnectFailure('CONNECT_REPLY_INVALID', `The answer to CONNECT is not HTTP: ${reply.kind === 'invalid' ? reply.why : 'it is incomplete'}.`));
          return;
        }
        settled = true;
        clearTimeout(timer);
        this.onClosed = undefined;
        const answer: ConnectAnswer = { status: reply.status, headers: reply.headers };
        // No byte after a refusal: early bytes that reached the engine after the answer are dropped with it.
        if (reply.status < 200 || reply.status > 299) this.destroy();
        resolve(this.answered(answer));
      };
      this.relay.send(Buffer.from(connectRequestHead(request), 'latin1'));
    });
  }

  /** Early start: the application's bytes right behind the CONNECT head, before the answer. */
  send(bytes: Buffer): void {
    if (!this.destroyed) this.relay.send(bytes);
  }

  destroy(): void {
    this.destroyCalled = true;
    this.relay.destroy();
  }

  private answered(answer: ConnectAnswer): NativeConnectTunnel {
    return {
      answer,
      attach: (application, options = {}) =>
        new Promise<NativeRelayResult>((resolve) => {
          if (options.halfClose !== undefined) this.events.halfClose = options.halfClose;
          if (this.closeResult !== undefined) {
            application.destroy();
            resolve(this.closeResult);
            return;
          }
          this.onClosed = resolve;
          if (options.timeouts !== undefined) this.relay.setTimeouts(options.timeouts);
          this.relay.attach(application, options.toGateway, options.toApplication);
        }),
      destroy: () => this.destroy(),
    };
  }
}

/** The native TLS handshake on `socket`, the certificate judged by `verify`: a session waiting for its CONNECT head. */
export function handshakeNative(path: NativeBytePath, options: NativeHandshakeOptions): Promise<NativeGatewaySession> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let relay: NativeRelay | undefined;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      relay?.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new ConnectFailure('CONNECT_TIMEOUT', 'The TLS handshake with the gateway did not finish in time.')), options.timeoutMs);
    const events: NativeRelayEvents = {
      secure: (certificates, _alpn, resumed) => {
        try {
          options.verify(certificates, resumed);
        } catch (err) {
          fail(asError(err));
          return;
        }
        if (settled || relay === undefined) return;
        settled = true;
        clearTimeout(timer);
        relay.accept();
        resolve(new NativeGatewaySession(relay, events));
      },
      close: (result) => fail(closedBeforeAnswer(result.error)),
    };
    try {
      relay = path.tlsConnect(options.socket, options.servername, ['http/1.1'], events);
    } catch (err) {
      fail(asError(err));
    }
  });
}

/** Handshake and CONNECT in one (no pool); dial-level failures carry the same codes as the JavaScript path's ConnectFailure. */
export async function connectNative(path: NativeBytePath, options: NativeConnectOptions): Promise<NativeConnectTunnel> {
  const session = await handshakeNative(path, { socket: options.socket, servername: options.servername, verify: options.verify, timeoutMs: options.request.timeoutMs });
  return session.connect(options.request);
}
