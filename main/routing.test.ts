import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import type { AppAction } from '../shared/profile.js';
import { createRouting, routingForProfile, type RouteDecision, type RouteQuery } from './routing.js';

const CURL = { path: '/usr/bin/curl', name: 'curl' };
const WGET = { path: '/usr/bin/wget', name: 'wget' };
const FIREFOX = { path: '/usr/bin/firefox', name: 'firefox' };
const query = (host: string, app?: RouteQuery['app']): RouteQuery => ({ host, port: 443, ...(app ? { app } : {}) });

test('app rules and domain rules compose: an app block wins, an app direct goes direct, otherwise the domain decides', () => {
  const table: Array<[app: AppAction, domain: AppAction, expected: RouteDecision['route']]> = [
    ['block', 'tunnel', 'block'],
    ['block', 'direct', 'block'],
    ['direct', 'tunnel', 'direct'],
    ['direct', 'block', 'direct'],
    ['tunnel', 'tunnel', 'tunnel'],
    ['tunnel', 'direct', 'direct'],
    ['tunnel', 'block', 'block'],
  ];
  for (const [app, domain, expected] of table) {
    const routing = createRouting({ rules: { rules: [], defaultAction: domain }, appRules: { appRules: { [CURL.path]: app } } });
    assert.equal(routing.decide(query('example.org', CURL)).route, expected, `${app} + ${domain}`);
  }
});

test("a link's domain list sends exactly those hosts through the tunnel, and each app's rule still applies", () => {
  const routing = routingForProfile({
    domains: ['localhost', '.vendor.example'],
    appRules: { [CURL.path]: 'block', [WGET.path]: 'direct' },
    defaultAppAction: 'tunnel',
  });
  const route = (host: string, app?: RouteQuery['app']): string => routing.decide(query(host, app)).route;
  assert.equal(route('localhost'), 'tunnel');
  assert.equal(route('api.vendor.example'), 'tunnel');
  assert.equal(route('127.0.0.1'), 'direct');
  assert.equal(route('example.org'), 'direct');
  assert.equal(route('localhost', CURL), 'block');
  assert.equal(route('localhost', WGET), 'direct');
  assert.equal(route('localhost', FIREFOX), 'tunnel');
});

test('no domain list means everything goes through the tunnel, unless the default app action says otherwise', () => {
  assert.deepEqual(createRouting().decide(query('anything.example')), { route: 'tunnel' });
  assert.deepEqual(createRouting({ appRules: { defaultAppAction: 'block' } }).decide(query('anything.example')), { route: 'block', code: 'PINHOLE_APP_BLOCKED', rule: 'default' });
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
    const decision = routing.decide(query(host));
    assert.equal(pac, decision.route === 'direct' ? 'DIRECT' : 'PROXY 127.0.0.1:18080', host);
  }
});

test('a block carries its code and the rule that matched: the app rule, or the domain rule for an allowed app', () => {
  const routing = createRouting({
    rules: { rules: [{ match: '.ads.example', action: 'block' }], defaultAction: 'tunnel' },
    appRules: { appRules: { [CURL.path]: 'block' } },
  });
  assert.deepEqual(routing.decide(query('x.ads.example', FIREFOX)), { route: 'block', code: 'PINHOLE_DOMAIN_BLOCKED', rule: '.ads.example', app: 'firefox' });
  assert.deepEqual(routing.decide(query('example.org', CURL)), { route: 'block', code: 'PINHOLE_APP_BLOCKED', rule: CURL.path, app: 'curl' });
  assert.deepEqual(routing.decide(query('ads.example')), { route: 'block', code: 'PINHOLE_DOMAIN_BLOCKED', rule: '.ads.example' });
  const byDefault = createRouting({ rules: { rules: [{ match: 'ok.example', action: 'tunnel' }], defaultAction: 'block' } });
  assert.deepEqual(byDefault.decide(query('other.example')), { route: 'block', code: 'PINHOLE_DOMAIN_BLOCKED', rule: 'default' });
});
