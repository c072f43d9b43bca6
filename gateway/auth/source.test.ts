import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PinholeError } from '../../shared/errors.js';
import { sourceOf } from './source.js';
import { TunnelLimits } from './tunnel-limits.js';

test('penalties and limits count an IPv4 address, or the /64 of an IPv6 one', () => {
  const table: Array<[string | undefined, string]> = [
    ['203.0.113.7:5123', '203.0.113.7'],
    ['[2001:db8:1:2:3:4:5:6]:443', '2001:db8:1:2::/64'],
    ['[2001:db8:1:2::99]:443', '2001:db8:1:2::/64'],
    ['[2001:db8::1]:1', '2001:db8:0:0::/64'],
    ['[::ffff:10.0.0.1]:9', '10.0.0.1'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    [undefined, 'unknown'],
  ];
  for (const [client, source] of table) assert.equal(sourceOf(client), source, String(client));
});

test('tunnels per user and per source are capped, and a closed tunnel frees its place once', () => {
  const limits = new TunnelLimits({ maxTunnelsPerUser: 2, maxTunnelsPerSource: 3 });
  const a1 = limits.hold('alice', '192.0.2.1:1');
  limits.hold('alice', '192.0.2.1:2');
  const code = (fn: () => void): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return err instanceof PinholeError ? err.code : 'other';
    }
  };
  assert.equal(code(() => limits.admit('alice', '192.0.2.9:1')), 'PINHOLE_LIMIT_REACHED');
  assert.equal(code(() => limits.admit('bob', '192.0.2.1:3')), undefined);
  limits.hold('bob', '192.0.2.1:3');
  assert.equal(code(() => limits.admit('carol', '192.0.2.1:4')), 'PINHOLE_LIMIT_REACHED', 'the source holds 3');
  a1();
  a1();
  assert.equal(limits.tunnelsOf('alice'), 1);
  assert.equal(code(() => limits.admit('alice', '192.0.2.9:1')), undefined);
});
