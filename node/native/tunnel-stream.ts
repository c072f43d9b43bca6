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
 */
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { relay, RelayTimeoutError, type RelayOptions, type RelayResult, type RelayTimeouts } from '../relay.js';
import type { NativeBytePath, NativeRelayResult } from './byte-path.js';
import type { NativeConnectTunnel } from './connect-tunnel.js';

export class NativeTunnelStream extends Duplex {
  private inner: Socket | undefined;
  private handedOver = false;

  constructor(
    private readonly tunnel: NativeConnectTunnel,
    private readonly path: NativeBytePath,
  ) {
    super({ allowHalfOpen: true });
  }

  /** Whether `application` can be handed to the engine: a plain socket with a descriptor, and this tunnel not yet used as a stream. */
  canHandOver(application: Duplex): application is Socket {
    if (this.inner !== undefined || this.handedOver || this.destroyed || !(application instanceof Socket) || application.destroyed) return false;
    const fd = (application as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
    return typeof fd === 'number' && fd >= 0;
  }

  /** Relays `application` natively; resolves at the relay's close, after which this stream is closed (its 'close' counts the tunnel closed). */
  async handOver(application: Socket, options: { toGateway?: Buffer; toApplication?: Buffer; timeouts?: RelayTimeouts }): Promise<NativeRelayResult> {
    this.handedOver = true;
    // destroy() drops unflushed writes (NATIVE.md section 2): what was written to the application goes first.
    if (application.writableLength > 0) await new Promise((resolve) => application.once('drain', resolve).once('close', resolve));
    try {
      return await this.tunnel.attach(application, options);
    } finally {
      this.destroy();
    }
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
    this.tunnel.attach(farSocket).then(
      (result) => {
        if (result.error !== undefined && !inner.destroyed) inner.destroy(result.error);
      },
      (err: unknown) => inner.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    return inner;
  }

  override _read(): void {
    this.stream().resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.stream().write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.stream().end(callback);
  }

  // Ends the native relay too (a transport closing, a proxy stopping); one that already ended is left
  // alone. Used as a stream, closing our end of the pair lets the engine finish what it holds.
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.inner !== undefined) this.inner.destroy();
    else this.tunnel.destroy();
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
  if (tunnel instanceof NativeTunnelStream && options.holdDown === undefined && tunnel.canHandOver(application)) {
    const timeouts: RelayTimeouts = {
      ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
      ...(options.halfCloseTimeoutMs === undefined ? {} : { halfCloseTimeoutMs: options.halfCloseTimeoutMs }),
    };
    tunnel
      .handOver(application, { ...(toApplication ? { toApplication } : {}), ...(toGateway && toGateway.length > 0 ? { toGateway } : {}), timeouts })
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
