import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PinholeError } from '../../shared/errors.js';
import { multiplexes, muxConfigFrom, parseCidr, routeTableOf, trustedProxyList, webTargetOf, type MuxFlagValues } from './config.js';

test('sslh-style flags become a route table with per-route and global PROXY versions', () => {
  const config = muxConfigFrom({
    ssh: '127.0.0.1:22',
    openvpn: '127.0.0.1:1194',
    http: '127.0.0.1:80',
    web: '127.0.0.1:8080',
    sni: ['other.test=127.0.0.1:8443', '*.example.org=[::1]:9443'],
    'send-proxy': ['v1', 'ssh=v2', '*.example.org=v2'],
    'trusted-proxy': ['127.0.0.1/32', '::1'],
    'on-timeout': 'openvpn',
    'ws-path': '/t',
  });
  const table = routeTableOf(config);
  assert.deepEqual(table.ssh, { host: '127.0.0.1', port: 22, sendProxy: 'v2' });
  assert.deepEqual(table.openvpn, { host: '127.0.0.1', port: 1194, sendProxy: 'v1' });
  assert.deepEqual(table.sni, [
    { pattern: 'other.test', target: { host: '127.0.0.1', port: 8443, sendProxy: 'v1' } },
    { pattern: '*.example.org', target: { host: '::1', port: 9443, sendProxy: 'v2' } },
  ]);
  assert.equal(table.onTimeout, 'openvpn');
  assert.equal(config.wsPath, '/t');
  assert.deepEqual(webTargetOf(config), { host: '127.0.0.1', port: 8080 });
  assert.equal(multiplexes(config), true);
  const list = trustedProxyList(config.trustedProxies)!;
  assert.equal(list.check('127.0.0.1', 'ipv4'), true);
  assert.equal(list.check('127.0.0.2', 'ipv4'), false);
  assert.equal(list.check('::1', 'ipv6'), true);
});

test('the config file section and flags merge: flags win, SNI routes and trusted proxies add up', () => {
  const config = muxConfigFrom(
    { ssh: '127.0.0.1:2222', sni: ['b.test=127.0.0.1:2'], 'trusted-proxy': ['10.0.0.0/8'] },
    { ssh: { target: '127.0.0.1:22', sendProxy: 'v2' }, sni: [{ pattern: 'a.test', target: '127.0.0.1:1' }], trustedProxies: ['192.168.0.0/16'], sniffTimeoutMs: 500 },
  );
  assert.equal(config.ssh?.target, '127.0.0.1:2222');
  assert.deepEqual(config.sni.map((s) => s.pattern), ['a.test', 'b.test']);
  assert.deepEqual(config.trustedProxies, ['192.168.0.0/16', '10.0.0.0/8']);
  assert.equal(config.sniffTimeoutMs, 500);
});

test('without routes the gateway stays TLS-only and the tunnel path has its default', () => {
  const config = muxConfigFrom({});
  assert.equal(multiplexes(config), false);
  assert.equal(config.wsPath, '/pinhole/ws');
  assert.equal(trustedProxyList(config.trustedProxies), undefined);
});

const bad: Array<[string, MuxFlagValues, RegExp]> = [
  ['a route that is not HOST:PORT', { ssh: 'localhost' }, /--ssh localhost is not HOST:PORT/],
  ['an SNI route without =', { sni: ['other.test'] }, /--sni other.test should be NAME=HOST:PORT/],
  ['an SNI target that is not HOST:PORT', { sni: ['a.test=nowhere'] }, /nowhere is not HOST:PORT/],
  ['an SNI pattern with a wildcard in the middle', { sni: ['a.*.test=127.0.0.1:1'] }, /mux.sni.0.pattern/],
  ['a PROXY version that does not exist', { 'send-proxy': ['v3'] }, /v1 or v2/],
  ['a PROXY version for an unknown route', { 'send-proxy': ['smtp=v1'] }, /no route called smtp/],
  ['a timeout route that is not set', { 'on-timeout': 'ssh' }, /mux.onTimeout names the ssh route, which is not set/],
  ['a timeout route that does not exist', { 'on-timeout': 'smtp' }, /mux.onTimeout/],
  ['a trusted proxy that is not a CIDR', { 'trusted-proxy': ['10.0.0.0/33'] }, /mux.trustedProxies.0/],
  ['a tunnel path without a slash', { 'ws-path': 'ws' }, /mux.wsPath/],
  ['a sniff timeout that is not a number', { 'sniff-timeout': 'soon' }, /--sniff-timeout soon/],
];

for (const [what, flags, why] of bad) {
  test(`${what} is refused with a message naming it`, () => {
    assert.throws(
      () => muxConfigFrom(flags),
      (err: unknown) => err instanceof PinholeError && (err.code === 'PINHOLE_USAGE' || err.code === 'PINHOLE_CONFIG_INVALID') && why.test(err.message),
    );
  });
}

const cidrs: Array<[string, ReturnType<typeof parseCidr>]> = [
  ['127.0.0.1', { address: '127.0.0.1', prefix: 32, family: 'ipv4' }],
  ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
  ['::1', { address: '::1', prefix: 128, family: 'ipv6' }],
  ['2001:db8::/32', { address: '2001:db8::', prefix: 32, family: 'ipv6' }],
  ['10.0.0.0/33', undefined],
  ['10.0.0.0/', undefined],
  ['example.org/24', undefined],
  ['1.2.3.4/8/9', undefined],
];
for (const [text, expected] of cidrs) {
  test(`CIDR ${text} parses as ${expected === undefined ? 'invalid' : `${expected.family}/${expected.prefix}`}`, () => {
    assert.deepEqual(parseCidr(text), expected);
  });
}
