import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentDestinations } from './recent-destinations.js';

test('a destination is trusted for an early start only after the gateway accepted it, and only for a while', () => {
  let now = 1_000;
  const accepted = new RecentDestinations({ ttlMs: 60_000, now: () => now });
  const target = { host: 'Example.COM', port: 443 };
  assert.equal(accepted.has(target), false, 'never seen');
  accepted.remember(target);
  assert.equal(accepted.has({ host: 'example.com', port: 443 }), true, 'host names compare case-insensitively');
  assert.equal(accepted.has({ host: 'example.com', port: 8443 }), false, 'another port is another destination');
  now += 60_001;
  assert.equal(accepted.has(target), false, 'an old acceptance has expired');
  assert.equal(accepted.size, 0, 'and is dropped');
});

test('a refused destination is forgotten, so its next tunnel waits for the answer again', () => {
  const accepted = new RecentDestinations();
  const target = { host: '192.0.2.7', port: 443 };
  accepted.remember(target);
  accepted.forget(target);
  assert.equal(accepted.has(target), false);
});

test('the least recently accepted destination makes room when the list is full', () => {
  const accepted = new RecentDestinations({ capacity: 2 });
  const [a, b, c] = ['a.test', 'b.test', 'c.test'].map((host) => ({ host, port: 443 })) as [{ host: string; port: number }, { host: string; port: number }, { host: string; port: number }];
  accepted.remember(a);
  accepted.remember(b);
  accepted.remember(a); // accepted again: now the most recent
  accepted.remember(c);
  assert.equal(accepted.has(b), false, 'b was the oldest');
  assert.equal(accepted.has(a), true);
  assert.equal(accepted.has(c), true);
  assert.equal(accepted.size, 2);
});
