/**
 * Penalties for wrong passwords, like OpenSSH's PerSourcePenalties, counted with
 * rate-limiter-flexible (in memory, or in Redis shared by a fleet; see shared-state.ts):
 * - failures are counted per (source, user) and per source, over a window;
 * - past `delayAfter` failures for a key, its answers are held, doubling per further failure up
 *   to `delayMaxMs` (the source key starts the same distance before its own limit);
 * - at `maxFailures` (per source+user) or `maxSourceFailures` (per source) the key is refused
 *   with 429 for `blockSeconds`, doubling each time the same key is refused again, up to
 *   `blockMaxSeconds`; a key that stays quiet for twice that long starts again from the base.
 * The caller never consults this for a credential it has already verified (the success cache).
 */
import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface PenaltySettings {
  /** Wrong passwords per (source, user) before that pair is refused. */
  readonly maxFailures: number;
  /** Wrong passwords per source, over all users, before the source is refused. */
  readonly maxSourceFailures: number;
  /** Failures per (source, user) answered without delay. */
  readonly delayAfter: number;
  /** The first delay; it doubles per further failure. */
  readonly delayMs: number;
  /** The longest delay; refusals are held this long too (a tarpit). */
  readonly delayMaxMs: number;
  /** Failures are forgotten this long after the first one of a window. */
  readonly windowSeconds: number;
  /** The first refusal lasts this long. */
  readonly blockSeconds: number;
  readonly blockMaxSeconds: number;
}

export const DEFAULT_PENALTIES: PenaltySettings = {
  maxFailures: 10,
  maxSourceFailures: 50,
  delayAfter: 3,
  delayMs: 250,
  delayMaxMs: 4_000,
  windowSeconds: 600,
  blockSeconds: 60,
  blockMaxSeconds: 3_600,
};

export type Scope = 'user' | 'source';

export type Verdict = { readonly refused: false; readonly delayMs: number } | { readonly refused: true; readonly retryAfterSeconds: number; readonly scope: Scope };

export interface FailureCount {
  readonly failures: number;
  readonly sourceFailures: number;
  /** Set when this failure started a refusal. */
  readonly blocked?: { readonly scope: Scope; readonly seconds: number };
}

/** Options every limiter gets; a store-backed limiter adds its client. */
export interface LimiterOptions {
  readonly keyPrefix: string;
  readonly points: number;
  readonly duration: number;
}

/** What Penalties asks of a limiter (a rate-limiter-flexible limiter, or one behind the Redis breaker). */
export type Limiter = Pick<RateLimiterAbstract, 'get' | 'penalty' | 'delete' | 'set' | 'block'>;

export type LimiterFactory = (options: LimiterOptions) => Limiter;

export const memoryLimiters: LimiterFactory = (options) => new RateLimiterMemory({ ...options });

/** Longest part of a user name that goes into a key (headers are bounded anyway). */
const MAX_KEY_USER = 256;

export class Penalties {
  private readonly userFailures: Limiter;
  private readonly sourceFailures: Limiter;
  private readonly strikes: Limiter;
  private readonly strikeSeconds: number;
  private readonly sourceDelayAfter: number;

  constructor(
    readonly settings: PenaltySettings,
    limiters: LimiterFactory = memoryLimiters,
  ) {
    const window = Math.max(1, Math.ceil(settings.windowSeconds));
    this.strikeSeconds = Math.max(window, 2 * Math.ceil(settings.blockMaxSeconds));
    this.userFailures = limiters({ keyPrefix: 'pinhole:auth:user', points: settings.maxFailures, duration: window });
    this.sourceFailures = limiters({ keyPrefix: 'pinhole:auth:source', points: settings.maxSourceFailures, duration: window });
    this.strikes = limiters({ keyPrefix: 'pinhole:auth:strikes', points: Number.MAX_SAFE_INTEGER, duration: this.strikeSeconds });
    this.sourceDelayAfter = Math.max(settings.delayAfter, settings.maxSourceFailures - (settings.maxFailures - settings.delayAfter));
  }

  private static userKey(source: string, user: string): string {
    return `${source}|${user.slice(0, MAX_KEY_USER)}`;
  }

  /** What an attempt for `user` from `source` gets before its password is looked at. */
  async verdict(source: string, user: string): Promise<Verdict> {
    const [perUser, perSource] = await Promise.all([this.userFailures.get(Penalties.userKey(source, user)), this.sourceFailures.get(source)]);
    const u = perUser?.consumedPoints ?? 0;
    const s = perSource?.consumedPoints ?? 0;
    const retryAfter = (ms: number | undefined): number => (ms === undefined || ms < 0 ? this.settings.blockSeconds : Math.max(1, Math.ceil(ms / 1000)));
    if (u > this.settings.maxFailures) return { refused: true, retryAfterSeconds: retryAfter(perUser?.msBeforeNext), scope: 'user' };
    if (s > this.settings.maxSourceFailures) return { refused: true, retryAfterSeconds: retryAfter(perSource?.msBeforeNext), scope: 'source' };
    // The attempt after `delayAfter` failures is the first one held.
    return { refused: false, delayMs: this.delayFor(Math.max(u - this.settings.delayAfter, s - this.sourceDelayAfter) + 1) };
  }

  /** The hold for a key `excess` failures past its free ones. Pure. */
  delayFor(excess: number): number {
    if (excess <= 0) return 0;
    return Math.min(this.settings.delayMs * 2 ** Math.min(excess - 1, 30), this.settings.delayMaxMs);
  }

  /** Count one wrong password; the failure that reaches a limit starts that key's refusal. */
  async failed(source: string, user: string): Promise<FailureCount> {
    const key = Penalties.userKey(source, user);
    const [perUser, perSource] = await Promise.all([this.userFailures.penalty(key, 1), this.sourceFailures.penalty(source, 1)]);
    const failures = perUser.consumedPoints;
    const sourceFailures = perSource.consumedPoints;
    let blocked: FailureCount['blocked'];
    if (sourceFailures === this.settings.maxSourceFailures) blocked = { scope: 'source', seconds: await this.block(this.sourceFailures, source, `source|${source}`) };
    if (failures === this.settings.maxFailures) {
      const seconds = await this.block(this.userFailures, key, `user|${key}`);
      blocked ??= { scope: 'user', seconds };
    }
    return { failures, sourceFailures, ...(blocked === undefined ? {} : { blocked }) };
  }

  /** A right password: that pair's failures are forgotten (the source's are not). */
  async succeeded(source: string, user: string): Promise<void> {
    await this.userFailures.delete(Penalties.userKey(source, user));
  }

  private async block(limiter: Limiter, key: string, strikeKey: string): Promise<number> {
    const strike = (await this.strikes.penalty(strikeKey, 1)).consumedPoints;
    // Refresh the strike's lifetime: a key is forgiven only after a quiet stretch.
    await this.strikes.set(strikeKey, strike, this.strikeSeconds);
    const seconds = Math.min(Math.ceil(this.settings.blockSeconds * 2 ** Math.min(strike - 1, 30)), Math.ceil(this.settings.blockMaxSeconds));
    await limiter.block(key, seconds);
    return seconds;
  }
}
