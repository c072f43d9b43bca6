/**
 * When the profile refreshes itself: at connect, then every few hours (the gateway's suggestion,
 * six hours by default) with jitter so a fleet's clients do not all ask at once, and after a
 * failure again sooner with backoff. Each fresh document becomes a change plan (profile-changes.ts)
 * that the caller applies without dropping tunnels; every change is logged as a sentence.
 */
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { ProfileDocument } from '../../shared/profile-document.js';
import { planProfileUpdate, type PlanContext, type ProfileChange, type ProfileView, type UpdatePlan } from './profile-changes.js';
import type { ProfileFetchResult } from './profile-fetch.js';

export const DEFAULT_REFRESH_MS = 6 * 3_600_000;
export const DEFAULT_RETRY_MS = 60_000;

export interface ProfileRefresherOptions {
  /** One conditional GET (see profile-fetch.ts), over the verified connection in use. */
  fetch: (etag: string | undefined) => Promise<ProfileFetchResult>;
  /** The profile as stored now. */
  stored: () => ProfileView;
  /** Which endpoints work and which pin verified the connection, at the time of the fetch. */
  context: () => PlanContext;
  /** Apply the plan: save the profile, hand new endpoints to the chooser, new pins to the dialer. */
  apply: (plan: UpdatePlan, document: ProfileDocument) => void | Promise<void>;
  logger: Logger;
  /** Refresh interval until a document suggests its own. */
  intervalMs?: number;
  /** Both ways, as a fraction of the delay. */
  jitterRatio?: number;
  /** First retry after a failure; doubles per failure, capped at the interval. */
  retryMs?: number;
  random?: () => number;
}

export type RefreshOutcome =
  | { kind: 'changed'; changes: ProfileChange[] }
  | { kind: 'unchanged' }
  | { kind: 'unsupported' }
  | { kind: 'failed'; error: PinholeError };

export class ProfileRefresher {
  private etag: string | undefined;
  private intervalMs: number;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<RefreshOutcome> | undefined;
  private stopped = true;
  private nextRefreshAt: number | undefined;
  private saidUnsupported = false;

  constructor(private readonly options: ProfileRefresherOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_REFRESH_MS;
  }

  /** Refresh now (the connect-time fetch) and keep refreshing on schedule until stop(). */
  start(): Promise<RefreshOutcome> {
    this.stopped = false;
    return this.refreshNow();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.nextRefreshAt = undefined;
  }

  /** Epoch ms of the next scheduled refresh (for the UI and tests). */
  get nextAt(): number | undefined {
    return this.nextRefreshAt;
  }

  /** One refresh; a call while one runs joins it. */
  refreshNow(): Promise<RefreshOutcome> {
    this.running ??= this.refresh().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async refresh(): Promise<RefreshOutcome> {
    clearTimeout(this.timer);
    const { logger } = this.options;
    let outcome: RefreshOutcome;
    try {
      const result = await this.options.fetch(this.etag);
      if (result.kind === 'unchanged') outcome = { kind: 'unchanged' };
      else if (result.kind === 'unsupported') outcome = { kind: 'unsupported' };
      else {
        this.intervalMs = result.document.refreshSeconds * 1_000;
        const plan = planProfileUpdate(this.options.stored(), result.document, this.options.context());
        if (plan.changes.length > 0) await this.options.apply(plan, result.document);
        this.etag = result.etag;
        outcome = plan.changes.length > 0 ? { kind: 'changed', changes: plan.changes } : { kind: 'unchanged' };
      }
      this.failures = 0;
    } catch (err) {
      const error = err instanceof PinholeError ? err : new PinholeError('PINHOLE_INTERNAL', undefined, { cause: err });
      this.failures += 1;
      outcome = { kind: 'failed', error };
    }
    switch (outcome.kind) {
      case 'changed':
        for (const change of outcome.changes) logger.info({ change: change.kind }, change.sentence);
        break;
      case 'unchanged':
        logger.debug('The profile is up to date.');
        break;
      case 'unsupported':
        if (!this.saidUnsupported) logger.info('This gateway does not publish profiles; the stored profile is used as it is.');
        this.saidUnsupported = true;
        break;
      case 'failed':
        logger.warn({ code: outcome.error.code, failures: this.failures }, `The profile could not be refreshed (${outcome.error.message.replace(/\.$/, '')}); the stored profile stays in use.`);
        break;
    }
    this.schedule(outcome.kind === 'failed' ? Math.min((this.options.retryMs ?? DEFAULT_RETRY_MS) * 2 ** (this.failures - 1), this.intervalMs) : this.intervalMs);
    return outcome;
  }

  private schedule(baseMs: number): void {
    if (this.stopped) return;
    const random = this.options.random ?? Math.random;
    const delay = Math.max(0, baseMs * (1 + (this.options.jitterRatio ?? 0.1) * (2 * random() - 1)));
    this.nextRefreshAt = Date.now() + delay;
    this.timer = setTimeout(() => void this.refreshNow(), delay);
    this.timer.unref?.();
  }
}
