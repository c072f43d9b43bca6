import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../shared/log.js';
import { RedisBreaker } from './redis-breaker.js';

const recorder = () => {
  const lines: string[] = [];
  const logger = createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line).msg as string) } });
  return { lines, logger };
};

test('the first timeout opens the breaker once; calls then go local without asking Redis; a probe that answers closes it', async () => {
  const { lines, logger } = recorder();
  let redisAnswers = false;
  let probe: { resolve: () => void; reject: (err: Error) => void } | undefined;
  const breaker = new RedisBreaker({
    where: '127.0.0.1:6379',
    probe: () => new Promise<void>((resolve, reject) => (probe = { resolve, reject })),
    probeEveryMs: 60_000, // probed by hand below
    logger,
  });
  breaker.answered(); // Redis answered at start: what follows is an outage, not a start without Redis
  lines.splice(0);
  let redisCalls = 0;
  const viaRedis = async (): Promise<string> => {
    redisCalls++;
    if (!redisAnswers) throw new Error('Command timed out');
    return 'redis';
  };
  const locally = async (): Promise<string> => 'local';
  assert.equal(await breaker.run(viaRedis, locally), 'local', 'the failed call is answered locally');
  assert.equal(breaker.state, 'open');
  assert.equal(await breaker.run(viaRedis, locally), 'local');
  assert.equal(await breaker.run(viaRedis, locally), 'local');
  assert.equal(redisCalls, 1, 'an open breaker does not ask Redis');
  assert.deepEqual(lines, ['Redis at 127.0.0.1:6379 stopped answering; counting on this gateway alone until it answers again.']);
  breaker.probeNow();
  breaker.probeNow(); // one probe at a time
  probe?.reject(new Error('Command timed out'));
  await new Promise((r) => setImmediate(r));
  assert.equal(breaker.state, 'open', 'a probe that fails keeps it open');
  redisAnswers = true;
  breaker.probeNow();
  probe?.resolve();
  await new Promise((r) => setImmediate(r));
  assert.equal(breaker.state, 'closed');
  assert.equal(await breaker.run(viaRedis, locally), 'redis');
  assert.equal(lines.length, 2);
  assert.equal(lines[1], 'The shared state (Redis) is back; penalties are shared again.');
  breaker.stop();
});

test('a limiter refusal (not an Error) passes through; a refused connection says unreachable; a stopped breaker logs nothing', async () => {
  const { lines, logger } = recorder();
  const breaker = new RedisBreaker({ where: '127.0.0.1:6379', probe: () => Promise.reject(new Error('down')), probeEveryMs: 60_000, logger });
  const refusal = { remainingPoints: 0 };
  await assert.rejects(
    breaker.run(() => Promise.reject(refusal), () => Promise.resolve('local')),
    (err) => err === refusal,
  );
  assert.equal(breaker.state, 'closed');
  breaker.answered();
  lines.splice(0);
  breaker.trip('unreachable', 'connect ECONNREFUSED');
  assert.deepEqual(lines, ['The shared state (Redis) is unreachable; penalties are counted on this gateway alone until it returns.']);
  breaker.stop();
  breaker.answered();
  assert.equal(lines.length, 1);
});

test('a Redis that never answered since the start is reported as such: the gateway runs with local state and says so, with its code', () => {
  const records: Record<string, unknown>[] = [];
  const logger = createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) } });
  const breaker = new RedisBreaker({ where: '127.0.0.1:6379', probe: () => Promise.reject(new Error('down')), probeEveryMs: 60_000, logger });
  breaker.trip('unreachable', 'connect ECONNREFUSED');
  assert.equal(records.length, 1);
  assert.equal(records[0]?.['code'], 'PINHOLE_STATE_UNREACHABLE');
  assert.match(String(records[0]?.['msg']), /^Redis at 127\.0\.0\.1:6379 does not answer at start; the gateway starts with local state/);
  breaker.stop();
});
