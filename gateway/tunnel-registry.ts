/**
 * The tunnels open on this gateway, and the requests on their way to becoming one: what a drain
 * waits for and, when its time runs out, ends. Each open tunnel is held against its user's and
 * source's limits (auth/tunnel-limits.ts) and counted in `pinhole_tunnels_active`.
 */
import type { TunnelLimits } from './auth/tunnel-limits.js';
import type { GatewayMetrics } from './metrics.js';

/** Whose tunnel it is: what the per-user and per-source limits count. */
export interface TunnelOwner {
  readonly user: string;
  readonly client: string | undefined;
}

export class TunnelRegistry {
  private readonly open = new Set<() => void>();
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

  /** Count an open tunnel (against `owner`'s limits); call the returned function when it ends. `abort` ends it when a drain runs out. */
  hold(abort: () => void, owner: TunnelOwner): () => void {
    this.total++;
    this.open.add(abort);
    const release = this.limits.hold(owner.user, owner.client);
    this.metrics.tunnelsActive.inc();
    return () => {
      release();
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
