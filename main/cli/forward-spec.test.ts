import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PinholeError } from '../../shared/errors.js';
import { parseForwardSpec, type ForwardSpec } from './forward-spec.js';

const good: Array<[string, ForwardSpec]> = [
  ['8022:127.0.0.1:22', { kind: 'listen', bindHost: '127.0.0.1', bindPort: 8022, target: { host: '127.0.0.1', port: 22 } }],
  ['0:db.internal:5432', { kind: 'listen', bindHost: '127.0.0.1', bindPort: 0, target: { host: 'db.internal', port: 5432 } }],
  ['0.0.0.0:8022:ssh.example.org:22', { kind: 'listen', bindHost: '0.0.0.0', bindPort: 8022, target: { host: 'ssh.example.org', port: 22 } }],
  ['[::1]:8022:[2001:db8::1]:22', { kind: 'listen', bindHost: '::1', bindPort: 8022, target: { host: '2001:db8::1', port: 22 } }],
  ['localhost:1:[::1]:443', { kind: 'listen', bindHost: 'localhost', bindPort: 1, target: { host: '::1', port: 443 } }],
  ['stdio:127.0.0.1:22', { kind: 'stdio', target: { host: '127.0.0.1', port: 22 } }],
  ['STDIO:[::1]:22', { kind: 'stdio', target: { host: '::1', port: 22 } }],
  ['udp:12345:127.0.0.1:1194', { kind: 'udp', bindHost: '127.0.0.1', bindPort: 12345, target: { host: '127.0.0.1', port: 1194 } }],
  ['udp:0.0.0.0:5353:dns.internal:53', { kind: 'udp', bindHost: '0.0.0.0', bindPort: 5353, target: { host: 'dns.internal', port: 53 } }],
  ['UDP:[::1]:51820:[2001:db8::9]:51820', { kind: 'udp', bindHost: '::1', bindPort: 51820, target: { host: '2001:db8::9', port: 51820 } }],
  ['udp:0:127.0.0.1:53', { kind: 'udp', bindHost: '127.0.0.1', bindPort: 0, target: { host: '127.0.0.1', port: 53 } }],
];

for (const [spec, expected] of good) {
  test(`-L ${spec} is understood`, () => {
    assert.deepEqual(parseForwardSpec(spec), expected);
  });
}

const bad: Array<[string, RegExp]> = [
  ['', /part is empty/],
  ['8022', /1 parts/],
  ['8022:host', /2 parts/],
  ['a:b:c:d:e', /5 parts/],
  ['8022:host:0', /not a destination port/],
  ['8022:host:65536', /not a destination port/],
  ['x:host:22', /not a local port/],
  ['8022::22', /part is empty/],
  ['[::1:8022:host:22', /bracketed/],
  ['::1:8022:host:22', /part is empty|parts/],
  ['stdio:host', /stdio takes HOST:PORT/],
  ['stdio:host:22:1', /stdio takes HOST:PORT/],
  ['8022:host:22x', /not a destination port/],
  ['udp:', /part is empty/],
  ['udp:53', /udp: takes \[BIND:\]PORT:HOST:PORT, not 1 parts/],
  ['udp:53:host', /not 2 parts/],
  ['udp:a:b:53:host:53', /not 5 parts/],
  ['udp:x:host:53', /not a local port/],
  ['udp:53:host:0', /not a destination port/],
  ['udp:[::1:53:host:53', /bracketed/],
];

for (const [spec, why] of bad) {
  test(`-L ${JSON.stringify(spec)} is refused with a usage error that says why`, () => {
    assert.throws(
      () => parseForwardSpec(spec),
      (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_USAGE' && why.test(err.message) && err.message.includes('[BIND:]PORT:HOST:PORT') && err.message.includes('udp:[BIND:]PORT:HOST:PORT'),
    );
  });
}
