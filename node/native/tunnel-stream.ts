/**
 * A tunnel whose TLS session lives on the native byte path, in the shape every caller of a
 * transport holds (a Duplex), and the one call the relay sites make instead of node/relay.ts:
 * `relayTunnel(application, tunnel, ...)` hands both ends to the native engine when it can (the
 * tunnel is native and the application is a plain socket with a descriptor) and relays in
 * JavaScript otherwise, with the same options, the same `done` result and the same close semantics.
 *
 * A native tunnel that is used as a stream instead (stdin/stdout of `forward -L stdio:`, an
 * application that is not a plain socket) is attached to one end of a socket pair and the other
 * end carries its bytes in JavaScript: slower, never wrong.
 *
 * Early start (issue 24, as main/tunnel/h1-transport.ts does it on the JavaScript path): a tunnel
 * started before the gateway's answer sends the application's bytes right behind the CONNECT head,
 * reads nothing from the gateway until the answer, and holds the application's end until then. Every
 * byte sent before the answer is kept, so the transport can replay them on a fresh session when a
 * pooled one turns out stale (`replaceWith`); past EARLY_LIMIT the application waits for the answer
 * instead of sending more. On 2xx the application is handed over; otherwise nothing more is sent.
 */
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { PrematureCloseError, relay, RelayTimeoutError, type RelayOptions, type RelayResult, type RelayTimeouts } from '../relay.js';
import type { NativeBytePath, NativeRelayResult } from './byte-path.js';
import type { NativeConnectTunnel, NativeGatewaySession } from './connect-tunnel.js';

/**
 * Bytes an early tunnel sends before the answer, at most (give or take one read): the engine's
 * buffer towards the gateway (256 KiB) holds them with the head, and all of them stay replayable.
 */
export const EARLY_LIMIT = 128 * 1024;

export class NativeTunnelStream extends Duplex {
  private inner: Socket | undefined;
  private handedOver = false;
  /** The answered CONNECT (2xx); absent while an early tunnel waits for it. */
  private tunnel: NativeConnectTunnel | undefined;
  /** Started early and not answered yet: the session carrying the CONNECT, and every byte sent on it. */
  private session: NativeGatewaySession | undefined;
  private sent: Buffer[] = [];
  private sentBytes = 0;
  /** Used as a stream before the answer: a write past EARLY_LIMIT, the end, and a read wait for it. */
  private heldWrite: (() => void) | undefined;
  private heldFinal: ((error?: Error | null) => void) | undefined;
  private readWanted = false;
  /** Started before the gateway's answer (H1Transport.openEarly). */
  readonly startedEarly: boolean;

  constructor(
    private readonly path: NativeBytePath,
    start: { readonly answered: NativeConnectTunnel } | { readonly early: NativeGatewaySession },
  ) {
    super({ allowHalfOpen: true });
    if ('answered' in start) this.tunnel = start.answered;
    else this.session = start.early;
    this.startedEarly = 'early' in start;
  }

  /** Whether `application` can be handed to the engine: a plain socket with a descriptor, and this tunnel not yet used as a stream. */
  canHandOver(application: Duplex): application is Socket {
    if (this.inner !== undefined || this.handedOver || this.destroyed || !(application instanceof Socket) || application.destroyed) return false;
    const fd = (application as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
    return typeof fd === 'number' && fd >= 0;
  }

  /**
   * Early start: `bytes` go to the gateway right behind the CONNECT head, and are kept for a replay.
   * Returns false once EARLY_LIMIT is reached: send nothing more until the answer.
   */
  sendEarly(bytes: Buffer): boolean {
    if (this.session === undefined) throw new Error('Only a tunnel started early and not yet answered takes early bytes.');
    this.session.send(bytes);
    this.sent.push(bytes);
    this.sentBytes += bytes.length;
    return this.sentBytes < EARLY_LIMIT;
  }

  /** A pooled session turned out stale before answering: continue on `next` (its CONNECT already sent), with every byte sent so far. */
  replaceWith(next: NativeGatewaySession): void {
    if (this.session === undefined) throw new Error('Only a tunnel started early and not yet answered moves to another session.');
    this.session = next;
    for (const bytes of this.sent) next.send(bytes);
    if (this.destroyed) next.destroy();
  }

  /** The gateway accepted an early tunnel: what waited for the answer goes on. */
  settle(tunnel: NativeConnectTunnel): void {
    this.tunnel = tunnel;
    this.session = undefined;
    this.sent = [];
    if (this.destroyed) {
      tunnel.destroy();
      return;
    }
    const write = this.heldWrite;
    this.heldWrite = undefined;
    write?.();
    const final = this.heldFinal;
    this.heldFinal = undefined;
    if (final !== undefined) this.stream().end(final);
    if (this.readWanted) this.stream().resume();
  }

  /** Relays `application` natively; resolves at the relay's close, after which this stream is closed (its 'close' counts the tunnel closed). */
  async handOver(application: Socket, options: { toGateway?: Buffer; toApplication?: Buffer; timeouts?: RelayTimeouts }): Promise<NativeRelayResult> {
    this.handedOver = true;
    // destroy() drops unflushed writes (NATIVE.md section 2): what was written to the application goes first.
    if (application.writableLength > 0) await new Promise((resolve) => application.once('drain', resolve).once('close', resolve));
    try {
      if (this.tunnel === undefined) throw new Error('The tunnel was not answered.');
      return await this.tunnel.attach(application, options);
    } finally {
      this.destroy();
    }
  }

  /**
   * Early start with a handover: the application gets `toApplication` now, its bytes go behind the
   * CONNECT until `answered` settles, and then it is handed over (2xx) or closed (a refusal: nothing
   * more is sent, and it gets no byte from the gateway). Bytes it sent early count as sent up.
   */
  async handOverEarly(application: Socket, options: { toGateway?: Buffer; toApplication?: Buffer; timeouts?: RelayTimeouts; answered: Promise<unknown> }): Promise<NativeRelayResult> {
    this.handedOver = true;
    // Its end waits for the answer, as the JavaScript relay's does: the socket stays writable after it.
    (application as Socket & { allowHalfOpen: boolean }).allowHalfOpen = true;
    if (options.toApplication !== undefined) application.write(options.toApplication);
    if (options.toGateway !== undefined && options.toGateway.length > 0) this.sendEarly(options.toGateway);
    let early = 0;
    const onData = (chunk: Buffer): void => {
      early += chunk.length;
      if (!this.sendEarly(chunk)) application.pause();
    };
    let left: () => void = () => undefined;
    const gone = new Promise<'gone'>((resolve) => (left = () => resolve('gone')));
    application.on('data', onData);
    application.once('close', left);
    application.resume();
    let outcome: 'answered' | 'gone' | Error;
    try {
      outcome = await Promise.race([options.answered.then(() => 'answered' as const), gone]);
    } catch (err) {
      outcome = err instanceof Error ? err : new Error(String(err));
    }
    application.off('data', onData);
    application.off('close', left);
    application.pause();
    if (outcome !== 'answered' || application.destroyed) {
      application.destroy();
      this.destroy();
      return { bytesUp: early, bytesDown: 0, error: outcome instanceof Error ? outcome : new PrematureCloseError() };
    }
    // What Node read ahead of the pause goes first, counted here as the early bytes are.
    const ahead: Buffer[] = [];
    let chunk: unknown;
    while ((chunk = application.read()) !== null) ahead.push(chunk as Buffer);
    const toGateway = Buffer.concat(ahead);
    early += toGateway.length;
    const result = await this.handOver(application, { ...(toGateway.length > 0 ? { toGateway } : {}), ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }) });
    return { ...result, bytesUp: result.bytesUp + early };
  }

  // Used as a stream: the engine relays between the TLS session and one end of a socket pair.
  private stream(): Socket {
    if (this.inner !== undefined) return this.inner;
    const [near, far] = this.path.socketPair();
    let farSocket: Socket;
    try {
      farSocket = new Socket({ fd: far, readable: true, writable: true });
    } catch (err) {
      closeSync(near);
      closeSync(far);
      throw err;
    }
    const inner = new Socket({ fd: near, readable: true, writable: true, allowHalfOpen: true });
    this.inner = inner;
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('error', (err) => this.destroy(err));
    inner.once('close', () => this.destroy());
    if (this.tunnel === undefined) throw new Error('The tunnel was not answered.');
    this.tunnel.attach(farSocket).then(
      (result) => {
        if (result.error !== undefined && !inner.destroyed) inner.destroy(result.error);
      },
      (err: unknown) => inner.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    return inner;
  }

  override _read(): void {
    if (this.tunnel === undefined) this.readWanted = true;
    else this.stream().resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.tunnel !== undefined) this.stream().write(chunk, callback);
    else if (this.sendEarly(chunk)) callback();
    else this.heldWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.tunnel === undefined) this.heldFinal = callback;
    else this.stream().end(callback);
  }

  // Ends the native relay too (a transport closing, a proxy stopping); one that already ended is left
  // alone. Used as a stream, closing our end of the pair lets the engine finish what it holds.
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.inner !== undefined) this.inner.destroy();
    else if (this.tunnel !== undefined) this.tunnel.destroy();
    else this.session?.destroy();
    callback(error);
  }
}

export interface TunnelRelayOptions extends RelayOptions {
  /** Written to the application first (the 200, the SOCKS reply). */
  readonly toApplication?: Buffer;
  /** The application's bytes already read (with its request head), sent to the tunnel first. */
  readonly toGateway?: Buffer;
}

const relayResultOf = (result: NativeRelayResult): RelayResult => {
  const counts = { bytesUp: result.bytesUp, bytesDown: result.bytesDown };
  if (result.error === undefined) return counts;
  return { ...counts, error: result.error, ...(result.error instanceof RelayTimeoutError ? { timedOut: result.error.reason } : {}) };
};

/** The relay call sites' one call: native when both ends can be handed over, node/relay.ts otherwise. */
export const relayTunnel = (application: Duplex, tunnel: Duplex, options: TunnelRelayOptions): void => {
  const { toApplication, toGateway, ...relayOptions } = options;
  // A tunnel started early comes with holdDown (the gateway's answer); only such a one is handed over early.
  if (tunnel instanceof NativeTunnelStream && (options.holdDown === undefined) !== tunnel.startedEarly && tunnel.canHandOver(application)) {
    const timeouts: RelayTimeouts = {
      ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
      ...(options.halfCloseTimeoutMs === undefined ? {} : { halfCloseTimeoutMs: options.halfCloseTimeoutMs }),
    };
    const handing = { ...(toApplication ? { toApplication } : {}), ...(toGateway && toGateway.length > 0 ? { toGateway } : {}), timeouts };
    (options.holdDown === undefined ? tunnel.handOver(application, handing) : tunnel.handOverEarly(application, { ...handing, answered: options.holdDown }))
      .then(
        (result) => options.done?.(relayResultOf(result)),
        (err: unknown) => {
          application.destroy();
          options.done?.({ bytesUp: 0, bytesDown: 0, error: err instanceof Error ? err : new Error(String(err)) });
        },
      );
    return;
  }
  if (toApplication !== undefined) application.write(toApplication);
  if (toGateway !== undefined && toGateway.length > 0) tunnel.write(toGateway);
  relay(application, tunnel, relayOptions);
};
