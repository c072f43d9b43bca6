/**
 * `--state redis://HOST:PORT`: penalties kept in Redis, so guesses spread over N gateways are
 * penalised as if there were one. Redis must never stand between a user and a sign-in: every
 * limiter has an in-memory twin, and every Redis call sits behind a circuit breaker
 * (redis-breaker.ts) with a short deadline (gateway.yaml `stateTimeoutSeconds`, `--state-timeout`), so a Redis that is down or
 * hangs costs one deadline, then the gateway counts alone (one line) until Redis answers again
 * (one line).
 */
import { createRequire } from 'node:module';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { Logger } from '../../shared/log.js';
import type { Limiter, LimiterFactory } from './penalties.js';
import { RedisBreaker } from './redis-breaker.js';

export interface SharedState {
  readonly limiters: LimiterFactory;
  /** True while Redis answers (penalties are shared); false while counting locally. */
  readonly shared: () => boolean;
  close(): Promise<void>;
}

/** How often a Redis that stopped answering is asked again. */
const PROBE_EVERY_MS = 500;

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

/** HOST:PORT of a redis:// URL, for the breaker's sentence. Pure. */
const hostOf = (url: string): string => {
  try {
    const { hostname, port } = new URL(url);
    return `${hostname}:${port === '' ? '6379' : port}`;
  } catch {
    return '(unparsable)';
  }
};

/** ioredis (some 60 modules) is loaded only by a gateway started with --state, synchronously so that setup stays synchronous. */
export const loadRedis = (): typeof import('ioredis').Redis => (createRequire(import.meta.url)('ioredis') as typeof import('ioredis')).Redis;

export function connectSharedState(url: string, logger: Logger, timeoutMs: number): SharedState {
  const where = describeStateUrl(url);
  const Redis = loadRedis();
  const redis = new Redis(url, {
    // Fail fast instead of queueing: a command that cannot run now goes to the local twin.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // The breaker's deadline: a call that gets no answer in time opens it.
    commandTimeout: timeoutMs,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  const breaker = new RedisBreaker({ where: hostOf(url), probe: () => redis.ping(), probeEveryMs: PROBE_EVERY_MS, logger });
  redis.on('ready', () => breaker.answered());
  redis.on('error', (err: Error) => breaker.trip('unreachable', err.message));
  redis.on('close', () => breaker.trip('unreachable', 'the connection closed'));
  const limiters: LimiterFactory = (options) => {
    const viaRedis = new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true });
    const local = new RateLimiterMemory({ ...options });
    const limiter: Limiter = {
      get: (key, opts) => breaker.run(() => viaRedis.get(key, opts), () => local.get(key, opts)),
      penalty: (key, points, opts) => breaker.run(() => viaRedis.penalty(key, points, opts), () => local.penalty(key, points, opts)),
      delete: (key, opts) => breaker.run(() => viaRedis.delete(key, opts), () => local.delete(key, opts)),
      set: (key, points, seconds, opts) => breaker.run(() => viaRedis.set(key, points, seconds, opts), () => local.set(key, points, seconds, opts)),
      block: (key, seconds, opts) => breaker.run(() => viaRedis.block(key, seconds, opts), () => local.block(key, seconds, opts)),
    };
    return limiter;
  };
  logger.debug({ state: where, timeoutMs }, 'Connecting to the shared state (Redis).');
  return {
    limiters,
    shared: () => breaker.shared,
    close: async () => {
      breaker.stop(); // a stop is not an outage: no log line
      redis.disconnect(false);
    },
  };
}
