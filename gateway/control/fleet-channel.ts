/**
 * The fleet's control messages over Redis (the `state:` URL the gateways already share):
 *   - the deny list, one sorted set `pinhole:revoked` (member `KIND:VALUE`, score = until in ms),
 *     so a gateway started later, or one that lost Redis for a while, reads what it missed;
 *   - the live end, pub/sub on `pinhole:control`: every gateway ends the named tunnels at once.
 * A gateway only ever listens here: its tunnels never wait on Redis (a revocation is checked in
 * memory), so a Redis that hangs delays news, never a tunnel. Writers (fleet-control.ts) send with
 * a deadline and say when Redis did not answer.
 */
import { z } from 'zod';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/log.js';
import { describeStateUrl, loadRedis } from '../auth/shared-state.js';
import { REVOCATION_KINDS, parseRevocationKey, revocationKey, type Revocation, type RevocationTarget } from './revocation-list.js';

export const REVOKED_KEY = 'pinhole:revoked';
export const CONTROL_CHANNEL = 'pinhole:control';

const TargetSchema = z.object({ kind: z.enum(REVOCATION_KINDS), value: z.string().min(1).max(256) });
export const ControlMessageSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('revoke'), until: z.number(), ...TargetSchema.shape }),
  z.object({ op: z.literal('restore'), ...TargetSchema.shape }),
  z.object({ op: z.literal('disconnect'), session: z.string().min(1).max(128) }),
]);
export type ControlMessage = z.output<typeof ControlMessageSchema>;

/** A message's JSON, or undefined when it is not one of ours. Pure. */
export const parseControlMessage = (text: string): ControlMessage | undefined => {
  try {
    const parsed = ControlMessageSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

/** Store (for a revocation) and publish one message, in one MULTI; rejects when Redis does not answer within the client's commandTimeout. */
export async function sendControl(redis: Redis, message: ControlMessage, now = Date.now()): Promise<void> {
  const multi = redis.multi();
  if (message.op === 'revoke') multi.zadd(REVOKED_KEY, message.until, revocationKey(message));
  if (message.op === 'restore') multi.zrem(REVOKED_KEY, revocationKey(message));
  multi.zremrangebyscore(REVOKED_KEY, '-inf', now);
  multi.publish(CONTROL_CHANNEL, JSON.stringify(message));
  const results = await multi.exec();
  const failed = results?.find(([err]) => err !== null)?.[0];
  if (failed) throw failed;
}

/** The live entries of the stored deny list. */
export async function readRevoked(redis: Redis, now = Date.now()): Promise<Revocation[]> {
  const flat = await redis.zrangebyscore(REVOKED_KEY, `(${now}`, '+inf', 'WITHSCORES');
  const entries: Revocation[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const target = parseRevocationKey(flat[i] ?? '');
    const until = Number(flat[i + 1]);
    if (target !== undefined && Number.isFinite(until)) entries.push({ ...target, until });
  }
  return entries;
}

/** A Redis client for control: fails fast, never queues (a writer must know it did not go out). */
export const controlClient = (url: string, timeoutMs: number): Redis => {
  const Redis = loadRedis();
  return new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: timeoutMs, connectTimeout: timeoutMs, lazyConnect: true, retryStrategy: () => null });
};

export interface ControlListener {
  close(): void;
}

export interface ListenOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Each message from another gateway or the CLI. */
  readonly onMessage: (message: ControlMessage) => void;
  /** The whole stored deny list, at each (re)connection: what was missed meanwhile. */
  readonly onSnapshot: (entries: Revocation[]) => void;
  /** The deadline of the snapshot's read. */
  readonly timeoutMs: number;
}

/** How often the stored list is read again anyway (a message lost to a short disconnection is caught here). */
const RESYNC_EVERY_MS = 30_000;

/** Subscribe to the channel and read the stored list at each connection; both reconnect on their own. */
export function listenForControl({ url, logger, onMessage, onSnapshot, timeoutMs }: ListenOptions): ControlListener {
  const Redis = loadRedis();
  const retryStrategy = (times: number): number => Math.min(times * 200, 2_000);
  const subscriber = new Redis(url, { maxRetriesPerRequest: null, connectTimeout: 2_000, retryStrategy });
  const reader = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: timeoutMs, connectTimeout: 2_000, retryStrategy });
  const where = describeStateUrl(url);
  const snapshot = (): void => {
    readRevoked(reader).then(onSnapshot, (err: Error) => logger.debug({ state: where, err: err.message }, 'The fleet deny list could not be read; trying again later.'));
  };
  subscriber.on('message', (channel: string, text: string) => {
    if (channel !== CONTROL_CHANNEL) return;
    const message = parseControlMessage(text);
    if (message === undefined) logger.warn({ state: where }, 'A fleet control message was not understood; it was ignored.');
    else onMessage(message);
  });
  // ioredis subscribes again by itself after a reconnection.
  subscriber.subscribe(CONTROL_CHANNEL).then(
    () => logger.info({ state: where }, "Listening for the fleet's revocations (Redis)."),
    () => undefined,
  );
  subscriber.on('error', () => undefined); // the breaker's connection says Redis is away, once
  reader.on('error', () => undefined);
  reader.on('ready', snapshot);
  const timer = setInterval(snapshot, RESYNC_EVERY_MS);
  timer.unref();
  return {
    close: () => {
      clearInterval(timer);
      subscriber.disconnect(false);
      reader.disconnect(false);
    },
  };
}

export type { RevocationTarget };
