/**
 * Destinations the gateway accepted a CONNECT to recently. Only these start tunnels early (the
 * application's first bytes ride with the CONNECT): a destination seen for the first time, or one
 * refused last time, waits for the gateway's answer, so a policy refusal or an unreachable host
 * reaches the application as a clear HTTP status instead of a dropped connection.
 */
import type { TunnelTarget } from './transport.js';

export interface AcceptedDestinationsOptions {
  /** How long an acceptance is trusted. */
  ttlMs?: number;
  /** Most destinations remembered; the least recently accepted are dropped first. */
  capacity?: number;
  now?: () => number;
}

export class AcceptedDestinations {
  private readonly acceptedAt = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly capacity: number;
  private readonly now: () => number;

  constructor(options: AcceptedDestinationsOptions = {}) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.capacity = options.capacity ?? 4096;
    this.now = options.now ?? Date.now;
  }

  has(target: TunnelTarget): boolean {
    const key = keyOf(target);
    const at = this.acceptedAt.get(key);
    if (at === undefined) return false;
    if (this.now() - at <= this.ttlMs) return true;
    this.acceptedAt.delete(key);
    return false;
  }

  remember(target: TunnelTarget): void {
    const key = keyOf(target);
    // Re-inserting moves the key to the end: Map order is the eviction order.
    this.acceptedAt.delete(key);
    this.acceptedAt.set(key, this.now());
    if (this.acceptedAt.size > this.capacity) {
      const oldest = this.acceptedAt.keys().next();
      if (oldest.done !== true) this.acceptedAt.delete(oldest.value);
    }
  }

  forget(target: TunnelTarget): void {
    this.acceptedAt.delete(keyOf(target));
  }

  clear(): void {
    this.acceptedAt.clear();
  }

  get size(): number {
    return this.acceptedAt.size;
  }
}

/** Host names are case-insensitive; the port is part of the destination (a policy is per port). */
const keyOf = ({ host, port }: TunnelTarget): string => `${host.toLowerCase()}|${port}`;
