/**
 * How many tunnels one user and one source may hold at once. `admit` is asked before dialing (so a
 * refused tunnel costs no connection); `hold` counts a tunnel from the moment it is open until it
 * closes. Tunnels opening at the same instant may pass `admit` together, so a burst can overshoot
 * by the number of dials in flight; the limits are meant to be generous anyway.
 */
import { PinholeError } from '../../shared/errors.js';
import { sourceOf } from './source.js';

export interface TunnelLimitSettings {
  readonly maxTunnelsPerUser: number;
  readonly maxTunnelsPerSource: number;
}

export class TunnelLimits {
  private readonly perUser = new Map<string, number>();
  private readonly perSource = new Map<string, number>();

  constructor(private readonly settings: TunnelLimitSettings) {}

  /**
   * Throws PINHOLE_LIMIT_REACHED when `user` or the source of `client` is at its limit. `user` is
   * the key counted (a principal's namespaced key), `name` the one the refusal shows.
   */
  admit(user: string, client: string | undefined, name = user): void {
    const source = sourceOf(client);
    if ((this.perUser.get(user) ?? 0) >= this.settings.maxTunnelsPerUser) {
      throw new PinholeError('PINHOLE_LIMIT_REACHED', `The user ${name} already holds ${this.settings.maxTunnelsPerUser} tunnels, the most this gateway allows.`, { details: { user: name, source, scope: 'user' } });
    }
    if ((this.perSource.get(source) ?? 0) >= this.settings.maxTunnelsPerSource) {
      throw new PinholeError('PINHOLE_LIMIT_REACHED', `This address already holds ${this.settings.maxTunnelsPerSource} tunnels, the most this gateway allows.`, { details: { user: name, source, scope: 'source' } });
    }
  }

  /** Count one open tunnel under `user` (the key `admit` counts); the returned function releases it (once). */
  hold(user: string, client: string | undefined): () => void {
    const source = sourceOf(client);
    bump(this.perUser, user, 1);
    bump(this.perSource, source, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      bump(this.perUser, user, -1);
      bump(this.perSource, source, -1);
    };
  }

  tunnelsOf(user: string): number {
    return this.perUser.get(user) ?? 0;
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
