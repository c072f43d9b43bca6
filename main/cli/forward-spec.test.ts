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
];

for (const [spec, why] of bad) {
  test(`-L ${JSON.stringify(spec)} is refused with a usage error that says why`, () => {
    assert.throws(
      () => parseForwardSpec(spec),
      (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_USAGE' && why.test(err.message) && err.message.includes('[BIND:]PORT:HOST:PORT'),
    );
  });
}
