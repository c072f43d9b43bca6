import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../shared/log.js';
import { LogRing } from './log-ring.js';

test('the log ring keeps the newest lines with increasing sequence numbers and no secrets', () => {
  const ring = new LogRing(3);
  const seen: number[] = [];
  ring.onLine((line) => seen.push(line.seq));
  const logger = createLogger({ name: 'test', destination: ring });
  logger.info({ target: 'a:1' }, 'First.');
  logger.warn({ code: 'PINHOLE_TLS_INSECURE', password: 'hunter2' }, 'Second.');
  logger.error('Third.');
  logger.info('Fourth.');
  const lines = ring.get();
  assert.deepEqual(lines.map((l) => l.msg), ['Second.', 'Third.', 'Fourth.']);
  assert.deepEqual(seen, [1, 2, 3, 4]);
  assert.equal(lines[0]?.level, 'warn');
  assert.equal(lines[0]?.code, 'PINHOLE_TLS_INSECURE');
  assert.deepEqual(ring.get(3).map((l) => l.msg), ['Fourth.']);
  assert.equal(lines[0]?.fields['password'], '[redacted]');
  assert.ok(!JSON.stringify(ring.get()).includes('hunter2'));
});
