/**
 * The tunnels open on this gateway, and the requests on their way to becoming one: what a drain
 * waits for and, when its time runs out, ends. Each open tunnel is held against its user's and
 * source's limits (auth/tunnel-limits.ts, by the user's namespaced key), counted in
 * `pinhole_tunnels_active`, and listed in its session (sessions.ts: the sessions view, and what a
 * revocation or the operator's disconnect ends).
 */
import { principalOf, type Principal } from './auth/principal.js';
import type { TunnelLimits } from './auth/tunnel-limits.js';
import type { GatewayMetrics } from './metrics.js';
import { SessionRegistry, type EndReason, type TunnelMeter } from './sessions.js';

/** Whose tunnel it is: what the per-user and per-source limits count, and the session it belongs to. */
export interface TunnelOwner {
  /** The name logs show. */
  readonly user: string;
  readonly client: string | undefined;
  /** Who, with the kind of user (absent: `user` is a users-file user). */
  readonly principal?: Principal;
  /** The door's protocol (h2, http/1.1, wss), for the sessions view. */
  readonly transport?: string;
}

export type { EndReason, TunnelMeter } from './sessions.js';

export class TunnelRegistry {
  private readonly open = new Set<() => void>();
  readonly sessions = new SessionRegistry();
  /** Tunnels opened since start. */
  total = 0;
  /** Requests still being checked or dialled (not yet a tunnel): a drain waits for them too. */
  pending = 0;

  constructor(
    private readonly limits: TunnelLimits,
    private readonly metrics: GatewayMetrics,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * Count an open tunnel (against `owner`'s limits, in its session); call the returned function
   * when it ends (with its final bytes when `meter` cannot give them). `abort` ends it when a drain
   * runs out, a revocation comes, or the operator disconnects its session.
   */
  hold(abort: (reason?: EndReason) => void, owner: TunnelOwner, meter?: TunnelMeter): (final?: TunnelMeter) => void {
    this.total++;
    this.open.add(abort);
    const principal = owner.principal ?? principalOf(owner.user);
    const release = this.limits.hold(principal.key, owner.client);
    const leave = this.sessions.open({ principal, client: owner.client, transport: owner.transport }, abort, meter);
    this.metrics.tunnelsActive.inc();
    return (final) => {
      release();
      leave(final);
      if (this.open.delete(abort)) this.metrics.tunnelsActive.dec();
    };
  }

  /** Run `request` counted as pending until it settles. */
  async whilePending(request: () => Promise<void>): Promise<void> {
    this.pending++;
    try {
      await request();
    } finally {
      this.pending--;
    }
  }

  /** End every open tunnel (a drain whose time ran out). */
  abortAll(): void {
    for (const abort of [...this.open]) abort();
  }
}
