import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import { composeDecision, createRouting, routingForProfile } from './routing.js';
import type { Decision } from './proxy/local-proxy.js';

test('app rules and domain rules compose: an app block wins, an app direct goes direct, otherwise the domain decides', () => {
  const table: Array<[app: 'tunnel' | 'direct' | 'block', domain: 'tunnel' | 'direct' | 'block', expected: Decision]> = [
    ['block', 'tunnel', 'block'],
    ['block', 'direct', 'block'],
    ['direct', 'tunnel', 'direct'],
    ['direct', 'block', 'direct'],
    ['tunnel', 'tunnel', 'tunnel'],
    ['tunnel', 'direct', 'direct'],
    ['tunnel', 'block', 'block'],
  ];
  for (const [app, domain, expected] of table) assert.equal(composeDecision(app, domain), expected, `${app} + ${domain}`);
});

test("a link's domain list sends exactly those hosts through the tunnel, and each app's rule still applies", () => {
  const routing = routingForProfile({
    domains: ['localhost', '.vendor.example'],
    appRules: { '/usr/bin/curl': 'block', '/usr/bin/wget': 'direct' },
    defaultAppAction: 'tunnel',
  });
  assert.equal(routing.decide({ host: 'localhost' }), 'tunnel');
  assert.equal(routing.decide({ host: 'api.vendor.example' }), 'tunnel');
  assert.equal(routing.decide({ host: '127.0.0.1' }), 'direct');
  assert.equal(routing.decide({ host: 'example.org' }), 'direct');
  assert.equal(routing.decide({ host: 'localhost', path: '/usr/bin/curl' }), 'block');
  assert.equal(routing.decide({ host: 'localhost', path: '/usr/bin/wget' }), 'direct');
  assert.equal(routing.decide({ host: 'localhost', path: '/usr/bin/firefox' }), 'tunnel');
});

test('no domain list means everything goes through the tunnel, unless the default app action says otherwise', () => {
  assert.equal(createRouting().decide({ host: 'anything.example' }), 'tunnel');
  assert.equal(createRouting({ appRules: { defaultAppAction: 'block' } }).decide({ host: 'anything.example' }), 'block');
});

test('the PAC served for a profile agrees with the proxy for every host (tunnel and block go to the proxy)', () => {
  const routing = createRouting({ domains: ['localhost', '*.cdn.example', '10.0.0.0/8'] });
  const context = vm.createContext({
    dnsDomainIs: (host: string, domain: string) => host.endsWith(domain),
    isInNet: (ip: string, pattern: string, mask: string) => {
      const n = (a: string) => a.split('.').reduce((acc, b) => acc * 256 + Number(b), 0);
      const m = n(mask);
      return (n(ip) & m) >>> 0 === (n(pattern) & m) >>> 0;
    },
  });
  vm.runInContext(routing.pac('127.0.0.1:18080'), context);
  for (const host of ['localhost', 'a.cdn.example', 'cdn.example', '10.1.2.3', '127.0.0.1', 'example.org']) {
    const pac = vm.runInContext(`FindProxyForURL("https://${host}/", "${host}")`, context) as string;
    const decision = routing.decide({ host });
    assert.equal(pac, decision === 'direct' ? 'DIRECT' : 'PROXY 127.0.0.1:18080', host);
  }
});

test('a block says which rule it came from: the app rule, or the domain rule for an allowed app', () => {
  const routing = createRouting({
    rules: { rules: [{ match: 'ads.example', action: 'block' }], defaultAction: 'tunnel' },
    appRules: { appRules: { '/usr/bin/curl': 'block' } },
  });
  assert.equal(routing.decide({ host: 'ads.example', path: '/usr/bin/firefox' }), 'block');
  assert.equal(routing.blockedBy({ host: 'ads.example', path: '/usr/bin/firefox' }), 'domain');
  assert.equal(routing.blockedBy({ host: 'example.org', path: '/usr/bin/curl' }), 'app');
  assert.equal(routing.blockedBy({ host: 'ads.example' }), 'domain');
});
