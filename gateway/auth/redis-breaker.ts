/**
 * A circuit breaker in front of Redis (issue 28): a Redis that hangs (SIGSTOP, an address that
 * drops packets) must cost one short deadline, not one per call. While the breaker is closed every
 * call goes to Redis; the first failure (a deadline, a refused connection) opens it: calls go to
 * the local twin at once, one line is logged, and Redis is probed in the background until it
 * answers, when the breaker closes again (one line). No breaker library is in node_modules
 * (opossum, cockatiel) and the machine is two states and one probe, so it is written here.
 */
import type { Logger } from '../../shared/log.js';

export type BreakerState = 'closed' | 'open';

/** Why the breaker opened: a call that got no answer in time, or a connection that failed. */
export type TripKind = 'timeout' | 'unreachable';

export interface RedisBreakerOptions {
  /** Where Redis is (HOST:PORT, no password), for the log lines. */
  readonly where: string;
  /** One cheap round trip (PING) that resolves only when Redis answers. */
  readonly probe: () => Promise<unknown>;
  /** How often an open breaker asks Redis again. */
  readonly probeEveryMs: number;
  readonly logger: Logger;
}

/** ioredis's words for a command that outlived `commandTimeout`. */
const TIMEOUT_MESSAGE = /timed out/i;

export const tripKindOf = (err: Error): TripKind => (TIMEOUT_MESSAGE.test(err.message) ? 'timeout' : 'unreachable');

export class RedisBreaker {
  private current: BreakerState = 'closed';
  /** False until Redis first answers: a Redis that is down at start is reported once too. */
  private answeredOnce = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;

  constructor(private readonly options: RedisBreakerOptions) {}

  get state(): BreakerState {
    return this.current;
  }

  /** True while penalties are shared through Redis. */
  get shared(): boolean {
    return this.current === 'closed' && this.answeredOnce;
  }

  /**
   * `viaRedis` while closed; `locally` while open, or when `viaRedis` fails with an Error (which
   * opens the breaker). Anything else a limiter rejects with (a RateLimiterRes) passes through.
   */
  async run<T>(viaRedis: () => Promise<T>, locally: () => Promise<T>): Promise<T> {
    if (this.current === 'open' || this.stopped) return locally();
    try {
      const value = await viaRedis();
      this.answered();
      return value;
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      this.trip(tripKindOf(err), err.message);
      return locally();
    }
  }

  /** Redis answered (a call, a probe, a 'ready'): close the breaker. */
  answered(): void {
    if (this.stopped) return;
    const first = !this.answeredOnce;
    this.answeredOnce = true;
    if (this.current === 'closed') {
      if (first) this.options.logger.info({ state: this.options.where }, 'Penalties are shared through Redis.');
      return;
    }
    this.current = 'closed';
    this.stopProbing();
    this.options.logger.info({ state: this.options.where }, 'The shared state (Redis) is back; penalties are shared again.');
  }

  /** Open the breaker (once per outage: one line), and probe until Redis answers. */
  trip(kind: TripKind, reason: string): void {
    if (this.current === 'open' || this.stopped) return;
    this.current = 'open';
    // At start (Redis never answered yet), the gateway starts anyway, with local state, and says so.
    const message = !this.answeredOnce
      ? `Redis at ${this.options.where} does not answer at start; the gateway starts with local state (penalties counted on this gateway alone) and shares them once Redis answers. Check the state: URL in gateway.yaml and that Redis runs there.`
      : kind === 'timeout'
        ? `Redis at ${this.options.where} stopped answering; counting on this gateway alone until it answers again.`
        : 'The shared state (Redis) is unreachable; penalties are counted on this gateway alone until it returns.';
    this.options.logger.warn({ state: this.options.where, reason, code: 'PINHOLE_STATE_UNREACHABLE' }, message);
    this.probeTimer = setInterval(() => this.probeNow(), this.options.probeEveryMs);
    this.probeTimer.unref();
  }

  /** Ask Redis now (an open breaker only; one probe at a time). */
  probeNow(): void {
    if (this.current !== 'open' || this.probing || this.stopped) return;
    this.probing = true;
    this.options
      .probe()
      .then(
        () => this.answered(),
        () => undefined, // still away: the next probe asks again
      )
      .finally(() => {
        this.probing = false;
      });
  }

  /** The gateway is stopping: no more probes, no more lines (a stop is not an outage). */
  stop(): void {
    this.stopped = true;
    this.stopProbing();
  }

  private stopProbing(): void {
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }
}
