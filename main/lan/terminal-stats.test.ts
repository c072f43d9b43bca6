import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TerminalStats } from './terminal-stats.js';

test('counters add up per terminal, with IPv4-mapped sources folded into IPv4', () => {
  let now = 100;
  const stats = new TerminalStats({ now: () => now });
  stats.request('192.168.52.10');
  stats.bytes('::ffff:192.168.52.10', 300, 4000);
  now = 200;
  stats.request('192.168.52.11');
  stats.refusal('192.168.52.11');
  assert.deepEqual(stats.get('192.168.52.10'), { source: '192.168.52.10', requests: 1, bytesUp: 300, bytesDown: 4000, refused: 0, firstSeen: 100, lastSeen: 100 });
  assert.deepEqual(
    stats.snapshot().map((t) => [t.source, t.requests, t.refused]),
    [
      ['192.168.52.11', 1, 1],
      ['192.168.52.10', 1, 0],
    ],
  );
});

test('bounded: past the limit the terminal seen least recently is forgotten, not the busy one', () => {
  let now = 0;
  const stats = new TerminalStats({ maxTerminals: 3, now: () => ++now });
  for (const s of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) stats.request(s);
  stats.request('10.0.0.1'); // 10.0.0.1 is busy again
  stats.request('10.0.0.4');
  assert.equal(stats.size, 3);
  assert.equal(stats.evicted, 1);
  assert.equal(stats.get('10.0.0.2'), undefined);
  assert.equal(stats.get('10.0.0.1')?.requests, 2);
  for (let i = 0; i < 10_000; i++) stats.request(`10.1.${i >> 8}.${i & 255}`);
  assert.equal(stats.size, 3);
});

test('a snapshot is a copy: changing it changes nothing', () => {
  const stats = new TerminalStats();
  stats.request('10.0.0.1');
  stats.snapshot()[0]!.requests = 99;
  assert.equal(stats.get('10.0.0.1')?.requests, 1);
});
