import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PinholeError } from '../errors.js';
import { formatConnectUdpPath, parseConnectUdpPath, type UdpTarget } from './connect-udp-path.js';

const good: Array<[UdpTarget, string]> = [
  [{ host: 'dns.example', port: 53 }, '/.well-known/masque/udp/dns.example/53/'],
  [{ host: '192.0.2.6', port: 443 }, '/.well-known/masque/udp/192.0.2.6/443/'],
  [{ host: '2001:db8::42', port: 1194 }, '/.well-known/masque/udp/2001%3Adb8%3A%3A42/1194/'],
  [{ host: 'münchen.example', port: 1 }, '/.well-known/masque/udp/m%C3%BCnchen.example/1/'],
];
for (const [target, path] of good) {
  test(`CONNECT-UDP to ${target.host}:${target.port} is ${path} and back`, () => {
    assert.equal(formatConnectUdpPath(target), path);
    assert.deepEqual(parseConnectUdpPath(path), target);
  });
}

test('a bracketed IPv6 literal is written without brackets, and one received with brackets is accepted', () => {
  assert.equal(formatConnectUdpPath({ host: '[::1]', port: 53 }), '/.well-known/masque/udp/%3A%3A1/53/');
  assert.deepEqual(parseConnectUdpPath('/.well-known/masque/udp/%5B%3A%3A1%5D/53/'), { host: '::1', port: 53 });
  assert.deepEqual(parseConnectUdpPath('/.well-known/masque/udp/::1/53/?x=1'), { host: '::1', port: 53 });
});

const bad: Array<[string, RegExp]> = [
  ['/', /MASQUE UDP prefix/],
  ['/.well-known/masque/tcp/h/53/', /prefix/],
  ['/.well-known/masque/udp/h/53', /exactly a host and a port/],
  ['/.well-known/masque/udp/h/53/x/', /exactly/],
  ['/.well-known/masque/udp//53/', /no valid host/],
  ['/.well-known/masque/udp/h/0/', /port/],
  ['/.well-known/masque/udp/h/65536/', /port/],
  ['/.well-known/masque/udp/h/-1/', /port/],
  ['/.well-known/masque/udp/h/053x/', /port/],
  ['/.well-known/masque/udp/%ZZ/53/', /percent-encoding/],
  ['/.well-known/masque/udp/a%2Fb/53/', /no valid host/],
  ['/.well-known/masque/udp/a%20b/53/', /no valid host/],
  ['/.well-known/masque/udp/a%00b/53/', /no valid host/],
];
for (const [path, why] of bad) {
  test(`CONNECT-UDP path ${JSON.stringify(path)} is refused with a reason`, () => {
    assert.throws(() => parseConnectUdpPath(path), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_BAD_REQUEST' && why.test(err.message));
  });
}

test('every truncation of a valid path is refused', () => {
  const path = '/.well-known/masque/udp/2001%3Adb8%3A%3A42/1194/';
  for (let cut = 0; cut < path.length; cut++) {
    const prefix = path.slice(0, cut);
    assert.throws(() => parseConnectUdpPath(prefix), PinholeError, `cut at ${cut}: ${prefix}`);
  }
});

test('any host without control characters round-trips (property)', () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 60 }).filter((h) => !/[\s/\p{Cc}[\]]/u.test(h)),
      fc.integer({ min: 1, max: 65535 }),
      (host, port) => {
        assert.deepEqual(parseConnectUdpPath(formatConnectUdpPath({ host, port })), { host, port });
      },
    ),
  );
});
