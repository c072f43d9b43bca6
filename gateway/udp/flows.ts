/**
 * The gateway's end of one UDP flow: a `dgram` socket connected to the destination the policy
 * allowed (so the kernel drops datagrams from anyone else), closed after `idleTimeoutMs` without
 * a datagram either way (wstunnel's --udpTimeoutSec), with bounded in-flight sends and counters.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { PinholeError } from '../../shared/errors.js';
import { DatagramChannelBase } from '../../shared/udp/datagram-channel.js';

export interface UdpTarget {
  readonly host: string;
  readonly port: number;
}

/**
 * The destination policy for UDP, resolved once: the exact address to send to, or a PinholeError
 * (PINHOLE_DEST_FORBIDDEN, PINHOLE_PORT_FORBIDDEN, PINHOLE_DNS_FAILED). DestinationPolicy.decide()
 * (gateway/policy.ts) has this shape: `(t) => policy.decide(t, 'udp')` once it has a UDP kind.
 */
export type UdpDestinationCheck = (target: UdpTarget) => Promise<{ readonly address: string; readonly family: 4 | 6 }>;

export interface UdpFlowOptions {
  readonly decide: UdpDestinationCheck;
  /** Close after this long without a datagram either way (default 30 s). */
  readonly idleTimeoutMs?: number;
  /** Sends waiting for the kernel at most; more are dropped (default 256). */
  readonly maxInFlight?: number;
}

export interface UdpFlowCounters {
  datagramsUp: number;
  datagramsDown: number;
  bytesUp: number;
  bytesDown: number;
  dropped: number;
  /** ICMP errors reported on the connected socket (port unreachable...); the flow goes on. */
  icmpErrors: number;
}

export class UdpFlow extends DatagramChannelBase {
  readonly counters: UdpFlowCounters = { datagramsUp: 0, datagramsDown: 0, bytesUp: 0, bytesDown: 0, dropped: 0, icmpErrors: 0 };
  /** Why the flow ended: 'idle', 'closed' or 'error'. */
  endReason: 'idle' | 'closed' | 'error' | undefined;
  private inFlight = 0;
  private lastActive = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly afterSend = (): void => {
    this.inFlight--;
  };

  private constructor(
    private readonly socket: UdpSocket,
    readonly address: string,
    private readonly idleTimeoutMs: number,
    private readonly maxInFlight: number,
  ) {
    super();
    socket.on('message', (message) => {
      this.lastActive = Date.now();
      this.counters.datagramsDown++;
      this.counters.bytesDown += message.length;
      this.deliver(message);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // On a connected UDP socket, ECONNREFUSED is an ICMP port-unreachable for an earlier datagram.
      if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') this.counters.icmpErrors++;
      else {
        this.endReason = 'error';
        this.end(err);
      }
    });
    this.armIdle(idleTimeoutMs);
  }

  /**
   * Applies the policy, then connects a socket to the allowed address, before anyone is told the
   * flow is open. Throws PinholeError: the policy's refusals, or PINHOLE_CONNECT_FAILED when the
   * kernel will not connect a UDP socket there (EINVAL, EACCES, ENETUNREACH...).
   */
  static async open(target: UdpTarget, options: UdpFlowOptions): Promise<UdpFlow> {
    const decision = await options.decide(target);
    const socket = createSocket({ type: decision.family === 6 ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        // dgram reports a failed connect to this callback, not as an 'error' event.
        socket.connect(target.port, decision.address, (err?: Error) => (err ? reject(err) : resolve()));
      });
    } catch (cause) {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      socket.close();
      const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
      throw new PinholeError('PINHOLE_CONNECT_FAILED', `A UDP socket cannot be connected to ${decision.address} port ${target.port} (${reason}).`, { cause });
    }
    socket.removeAllListeners('error');
    return new UdpFlow(socket, decision.address, options.idleTimeoutMs ?? 30_000, options.maxInFlight ?? 256);
  }

  send(payload: Uint8Array): boolean {
    if (this.closed || this.inFlight >= this.maxInFlight) {
      this.counters.dropped++;
      return false;
    }
    this.lastActive = Date.now();
    this.counters.datagramsUp++;
    this.counters.bytesUp += payload.length;
    this.inFlight++;
    this.socket.send(payload, this.afterSend);
    return true;
  }

  protected release(): void {
    this.endReason ??= 'closed';
    clearTimeout(this.idleTimer);
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  /** One timer per flow, re-armed lazily for the time left, so traffic costs no timer work. */
  private armIdle(delay: number): void {
    this.idleTimer = setTimeout(() => {
      const left = this.lastActive + this.idleTimeoutMs - Date.now();
      if (left > 0) this.armIdle(left);
      else {
        this.endReason = 'idle';
        this.end(undefined);
      }
    }, delay);
    this.idleTimer.unref();
  }
}
