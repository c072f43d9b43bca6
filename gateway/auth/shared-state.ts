/**
 * `--state redis://HOST:PORT`: penalties kept in Redis, so guesses spread over N gateways are
 * penalised as if there were one. Redis must never stand between a user and a sign-in: every
 * limiter has an in-memory twin (rate-limiter-flexible's insurance limiter) that answers whenever
 * Redis is not ready, the loss is logged once, and the return once.
 */
import { createRequire } from 'node:module';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { Logger } from '../../shared/log.js';
import type { LimiterFactory } from './penalties.js';

export interface SharedState {
  readonly limiters: LimiterFactory;
  /** True while Redis answers (penalties are shared); false while counting locally. */
  readonly shared: () => boolean;
  close(): Promise<void>;
}

/** A redis:// URL without its password, for logs. Pure. */
export const describeStateUrl = (url: string): string => {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    parsed.username = '';
    return parsed.toString();
  } catch {
    return 'redis://(unparsable)';
  }
};

/** ioredis (some 60 modules) is loaded only by a gateway started with --state, synchronously so that setup stays synchronous. */
const loadRedis = (): typeof import('ioredis').Redis => (createRequire(import.meta.url)('ioredis') as typeof import('ioredis')).Redis;

export function connectSharedState(url: string, logger: Logger): SharedState {
  const where = describeStateUrl(url);
  const Redis = loadRedis();
  const redis = new Redis(url, {
    // Fail fast instead of queueing: a command that cannot run now goes to the local twin.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 1_000,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  // undefined until the first answer: a Redis that is down at start is reported once too.
  let reachable: boolean | undefined;
  const lost = (reason: string): void => {
    if (reachable === false) return;
    reachable = false;
    logger.warn({ state: where, reason }, 'The shared state (Redis) is unreachable; penalties are counted on this gateway alone until it returns.');
  };
  redis.on('ready', () => {
    if (reachable === false) logger.info({ state: where }, 'The shared state (Redis) is back; penalties are shared again.');
    else logger.info({ state: where }, 'Penalties are shared through Redis.');
    reachable = true;
  });
  redis.on('error', (err: Error) => lost(err.message));
  redis.on('close', () => lost('the connection closed'));
  const limiters: LimiterFactory = (options) =>
    new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory({ ...options }) });
  return {
    limiters,
    shared: () => reachable === true,
    close: async () => {
      reachable = false; // a stop is not an outage: no log line
      redis.disconnect(false);
    },
  };
}
