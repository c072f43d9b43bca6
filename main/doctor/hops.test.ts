import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressKind, isPublicName } from './addresses.js';
import { checkResolve, checkSystemProxy } from './hops.js';

test('addresses are told apart: sinkholes, private ranges, public ones', () => {
  for (const [address, kind] of [
    ['0.0.0.0', 'sinkhole'],
    ['127.0.0.53', 'sinkhole'],
    ['::', 'sinkhole'],
    ['::1', 'sinkhole'],
    ['::ffff:127.0.0.1', 'sinkhole'],
    ['10.1.2.3', 'private'],
    ['172.20.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd00::1', 'private'],
    ['203.0.113.7', 'public'],
    ['2001:db8::1', 'public'],
  ] as const)
    assert.equal(addressKind(address), kind, address);
  assert.equal(isPublicName('gw.example.com'), true);
  for (const name of ['localhost', 'gw.local', 'gw.lan.test', 'gw.corp', 'router.home.arpa', '10.0.0.1']) assert.equal(isPublicName(name), false, name);
});

const resolver = (answers: Record<string, string[] | string>) => async (host: string): Promise<string[]> => {
  const answer = answers[host];
  if (typeof answer === 'string') throw Object.assign(new Error(answer), { code: answer });
  if (!answer) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  return answer;
};

test('the name hop: NXDOMAIN fails, a sinkhole for a public name fails naming it, a private answer for a public name passes but is named', async () => {
  const nx = await checkResolve([{ host: 'gw.example.com', port: 443 }], resolver({}));
  assert.equal(nx.hop.status, 'fail');
  assert.match(nx.hop.verdict, /gw\.example\.com does not exist in DNS/);
  const sink = await checkResolve([{ host: 'gw.example.com', port: 443 }], resolver({ 'gw.example.com': ['0.0.0.0'] }));
  assert.equal(sink.hop.status, 'fail');
  assert.equal(sink.hop.code, 'PINHOLE_DNS_SINKHOLE');
  assert.match(sink.hop.verdict, /0\.0\.0\.0, a sinkhole answer/);
  const silent = await checkResolve([{ host: 'gw.example.com', port: 443 }], resolver({ 'gw.example.com': 'EAI_AGAIN' }));
  assert.match(silent.hop.verdict, /No DNS server answered for gw\.example\.com/);
  const inside = await checkResolve([{ host: 'gw.example.com', port: 443 }], resolver({ 'gw.example.com': ['10.0.0.5'] }));
  assert.equal(inside.hop.status, 'pass');
  assert.match(inside.hop.verdict, /private addresses/);
  const test = await checkResolve([{ host: 'gw.lan.test', port: 443 }], resolver({ 'gw.lan.test': ['127.0.0.1'] }));
  assert.equal(test.hop.status, 'pass', 'loopback is fine for a name that is not public');
  const oneOfTwo = await checkResolve([{ host: 'a.example.com', port: 443 }, { host: 'b.example.com', port: 443 }], resolver({ 'b.example.com': ['203.0.113.9'] }));
  assert.equal(oneOfTwo.hop.status, 'pass');
  assert.match(oneOfTwo.hop.verdict, /but the name a\.example\.com does not exist/);
  assert.deepEqual([...oneOfTwo.resolved.keys()], ['b.example.com']);
});

test('the system-proxy hop: skipped without a local proxy, passes when the manual proxy or the PAC is Pinhole, fails naming what it points at', () => {
  const local = { host: '127.0.0.1', port: 8080 };
  assert.equal(checkSystemProxy(undefined, { kind: 'none' }, 'gnome').status, 'skip');
  assert.equal(checkSystemProxy(local, { kind: 'manual', proxy: { host: 'localhost', port: 8080 } }, 'gnome').status, 'pass');
  assert.equal(checkSystemProxy(local, { kind: 'pac', url: 'http://127.0.0.1:8080/proxy.pac' }, 'gnome').status, 'pass');
  const off = checkSystemProxy(local, { kind: 'none' }, 'gnome');
  assert.equal(off.status, 'fail');
  assert.match(off.verdict, /is off/);
  const elsewhere = checkSystemProxy(local, { kind: 'manual', proxy: { host: 'proxy.corp.test', port: 3128 } }, 'gnome');
  assert.equal(elsewhere.status, 'fail');
  assert.match(elsewhere.verdict, /points at proxy\.corp\.test:3128, not at Pinhole's local proxy 127\.0\.0\.1:8080/);
  assert.equal(checkSystemProxy(local, { kind: 'pac', url: 'http://wpad.corp.test/wpad.dat' }, 'gnome').status, 'fail');
});
