/**
 * Destinations remembered for a while, by `host:port`: the engine keeps those the gateway accepted
 * recently. Only these start tunnels early (the application's first bytes ride with the CONNECT);
 * a first contact or a destination refused last time waits for the gateway's answer, so a policy
 * refusal or an unreachable host reaches the application as a clear HTTP status.
 */
import type { TunnelTarget } from './transport.js';

export interface RecentDestinationsOptions {
  /** How long a destination is remembered. */
  ttlMs?: number;
  /** Most destinations remembered; the least recently remembered are dropped first. */
  capacity?: number;
  now?: () => number;
}

export class RecentDestinations {
  private readonly seenAt = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly capacity: number;
  private readonly now: () => number;

  constructor(options: RecentDestinationsOptions = {}) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.capacity = options.capacity ?? 4096;
    this.now = options.now ?? Date.now;
  }

  has(target: TunnelTarget): boolean {
    const key = keyOf(target);
    const at = this.seenAt.get(key);
    if (at === undefined) return false;
    if (this.now() - at <= this.ttlMs) return true;
    this.seenAt.delete(key);
    return false;
  }

  remember(target: TunnelTarget): void {
    const key = keyOf(target);
    // Re-inserting moves the key to the end: Map order is the eviction order.
    this.seenAt.delete(key);
    this.seenAt.set(key, this.now());
    if (this.seenAt.size > this.capacity) {
      const oldest = this.seenAt.keys().next();
      if (oldest.done !== true) this.seenAt.delete(oldest.value);
    }
  }

  forget(target: TunnelTarget): void {
    this.seenAt.delete(keyOf(target));
  }

  clear(): void {
    this.seenAt.clear();
  }

  get size(): number {
    return this.seenAt.size;
  }
}

/** Host names are case-insensitive; the port is part of the destination (a policy is per port). */
const keyOf = ({ host, port }: TunnelTarget): string => `${host.toLowerCase()}|${port}`;
