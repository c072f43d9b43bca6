/**
 * The profile of the connection in use, kept fresh (issue 17): the refresher (refresh.ts) fetches
 * it over the connection's own transport, and each change is applied to that connection without
 * dropping tunnels (new endpoints to the chooser, new pins to the dialer) and handed on to be
 * stored (the profile store; the command line keeps it for this run only).
 */
import type { Logger } from '../../shared/log.js';
import { parseEndpoint, type GatewayTarget } from '../../shared/profile.js';
import type { Transport } from '../tunnel/transport.js';
import type { ProfileFetchResult } from './profile-fetch.js';
import { applyToTarget, viewOfTarget } from './profile-changes.js';
import { ProfileRefresher, type RefreshOutcome } from './refresh.js';

export interface ConnectionProfileOptions {
  logger: Logger;
  /** Gets the updated target to store it. */
  onProfileChange?: (target: GatewayTarget) => void | Promise<void>;
  /** Refresh interval until the gateway's document suggests its own (tests). */
  profileRefreshMs?: number;
}

export class ConnectionProfile {
  /** When the profile was last fetched from the gateway (undefined before the first fetch). */
  refreshedAt: number | undefined;
  private readonly refresher: ProfileRefresher;
  private target: GatewayTarget;

  /** Starts refreshing at once; undefined when the transport cannot fetch the profile. */
  static start(transport: Transport, connected: GatewayTarget, options: ConnectionProfileOptions): ConnectionProfile | undefined {
    const fetch = transport.fetchProfile?.bind(transport);
    if (!fetch) return undefined;
    const profile = new ConnectionProfile(transport, fetch, connected, options);
    void profile.refresher.start();
    return profile;
  }

  private constructor(
    transport: Transport,
    private readonly fetchProfile: NonNullable<Transport['fetchProfile']>,
    connected: GatewayTarget,
    options: ConnectionProfileOptions,
  ) {
    this.target = connected;
    this.refresher = new ProfileRefresher({
      fetch: (etag) => this.fetch(etag),
      stored: () => viewOfTarget(this.target),
      context: () => ({
        working: transport.gateways?.().endpoints.filter((e) => e.health === 'up').map((e) => e.endpoint) ?? [...this.target.endpoints],
        ...(this.target.trust.kind === 'pin' ? { verifiedPin: this.target.trust.pin } : {}),
      }),
      apply: async (plan) => {
        this.target = applyToTarget(this.target, plan.next);
        transport.setEndpoints?.(plan.next.endpoints.map((e) => parseEndpoint(e)).filter((e): e is NonNullable<typeof e> => e !== undefined));
        transport.setTrust?.(this.target.trust);
        await options.onProfileChange?.(this.target);
      },
      logger: options.logger,
      ...(options.profileRefreshMs === undefined ? {} : { intervalMs: options.profileRefreshMs }),
    });
  }

  /** Refresh now (a "check for updates" action). */
  refreshNow(): Promise<RefreshOutcome> {
    return this.refresher.refreshNow();
  }

  stop(): void {
    this.refresher.stop();
  }

  private async fetch(etag: string | undefined): Promise<ProfileFetchResult> {
    const result = await this.fetchProfile(etag);
    this.refreshedAt = Date.now();
    return result;
  }
}
