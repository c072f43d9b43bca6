/**
 * The gateway's connection cap (HAProxy's `maxconn`, issue 28): the process never runs into its
 * descriptor limit, where `accept` and every dial fail with EMFILE and not even a TLS handshake or
 * a health check can be answered.
 *
 * Counted: every accepted client connection and every destination socket the gateway dialled
 * (tunnels, proxied requests, and the backends of pass-through routes), each until it closes (an
 * HTTP/2 session is one connection however many streams it carries). At `max`, a new tunnel or
 * proxied request is refused with 503 and Retry-After (`admit`), a pass-through connection closed
 * (a raw protocol has no 503), while
 * new connections are still accepted, so a client still completes its TLS handshake and reads the
 * refusal. Above `max` plus half the reserve even accepted connections are closed at once (a flood
 * of bare connections): the other half of the reserve stays for the admin listener (health checks,
 * /metrics), listeners, logs and dials in flight, none of which are counted.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { nativeRelayOf } from '../node/native/byte-path.js';
import { PinholeError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';

/** Seconds a client refused by the cap is told to wait (Retry-After). */
export const CAP_RETRY_AFTER_SECONDS = 5;

/** The soft RLIMIT_NOFILE of this process (`ulimit -n`), from /proc/self/limits; 1024 when it cannot be read. */
export const openFileLimit = (): number => {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (match?.[1] === 'unlimited') return Number.POSITIVE_INFINITY;
    if (match?.[1] !== undefined) return Number(match[1]);
  } catch {
    // Not Linux: fall through to the usual default.
  }
  return 1024;
};

/** Descriptors kept out of the cap: a tenth of the limit, at least 64. */
export const reserveFor = (limit: number): number => Math.max(64, Math.ceil(limit / 10));

/** The default `maxConnections`: the descriptor limit less its reserve (a million when there is no limit). */
export const defaultMaxConnections = (limit = openFileLimit()): number => (Number.isFinite(limit) ? Math.max(1, limit - reserveFor(limit)) : 1_000_000);

export interface ConnectionCapOptions {
  readonly max: number;
  /** Connections accepted above `max` (to hand out refusals) before new ones are closed at once; default half the reserve. */
  readonly acceptRoom?: number;
  readonly logger: Logger;
  /** Told of every refusal (the /metrics counter) and of every change in the count (the gauge). */
  readonly onRefused?: (what: 'request' | 'connection') => void;
  readonly onCount?: (open: number) => void;
}

export class ConnectionCap {
  open = 0;
  refusals = 0;
  private full = false;
  private readonly acceptRoom: number;

  constructor(private readonly options: ConnectionCapOptions) {
    this.acceptRoom = options.acceptRoom ?? Math.max(16, Math.floor(reserveFor(options.max) / 2));
  }

  get max(): number {
    return this.options.max;
  }

  /** An accepted client connection: counted until it closes. False (the socket destroyed) when even the room above the cap is used up. */
  accepted(socket: Socket): boolean {
    if (this.open >= this.options.max + this.acceptRoom) {
      this.refused('connection');
      socket.destroy();
      return false;
    }
    this.track(socket);
    return true;
  }

  /** Before a new tunnel or proxied request is dialled: throws PINHOLE_GATEWAY_FULL (503, Retry-After) at the cap. */
  admit(): void {
    if (this.open < this.options.max) return;
    this.refused('request');
    throw new PinholeError('PINHOLE_GATEWAY_FULL', undefined, { details: { retryAfterSeconds: CAP_RETRY_AFTER_SECONDS, maxConnections: this.options.max } });
  }

  /**
   * A socket the gateway holds (accepted or dialled): counted until it closes, or, when it was handed
   * to the native byte path (its 'close' comes at the handover), until that relay closes. Returns it.
   */
  track<T extends Socket>(socket: T): T {
    if (socket.destroyed) return socket;
    this.count(1);
    socket.once('close', () => {
      const relay = nativeRelayOf(socket);
      if (relay === undefined || relay.closed) this.count(-1);
      else void relay.done.then(() => this.count(-1));
    });
    return socket;
  }

  private count(delta: number): void {
    this.open += delta;
    this.options.onCount?.(this.open);
    if (this.full && this.open < this.options.max * 0.9) {
      this.full = false;
      this.options.logger.info({ open: this.open, maxConnections: this.options.max }, 'The gateway is below its connection cap again.');
    }
  }

  private refused(what: 'request' | 'connection'): void {
    this.refusals += 1;
    this.options.onRefused?.(what);
    if (this.full) return;
    this.full = true;
    this.options.logger.warn(
      { open: this.open, maxConnections: this.options.max, refused: what },
      'The gateway holds as many connections as its cap allows: new requests are answered 503 until some close (--max-connections).',
    );
  }
}
