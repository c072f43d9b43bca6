import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import fc from 'fast-check';
import { generatePac } from './pac.js';
import { compileRules, rulesFromLinkDomains, type Rule, type RuleAction } from './rules.js';

// The PAC helpers a browser provides, written after Mozilla's pac_utils.js. dnsResolve never
// touches the network here: a name that is not an IP literal does not resolve.
const PAC_UTILS = String.raw`
function dnsDomainIs(host, domain) {
  return host.length >= domain.length && host.substring(host.length - domain.length) == domain;
}
function shExpMatch(url, pattern) {
  pattern = pattern.replace(/\./g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp('^' + pattern + '$').test(url);
}
function isPlainHostName(host) { return host.search('\\.') == -1; }
function dnsResolve(host) { return /^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : null; }
function convert_addr(ipchars) {
  var bytes = ipchars.split('.');
  return ((bytes[0] & 0xff) << 24) | ((bytes[1] & 0xff) << 16) | ((bytes[2] & 0xff) << 8) | (bytes[3] & 0xff);
}
function isInNet(ipaddr, pattern, maskstr) {
  var test = /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})\.(\d{1,4})$/.exec(ipaddr);
  if (test == null) { ipaddr = dnsResolve(ipaddr); if (ipaddr == null) return false; }
  else if (test[1] > 255 || test[2] > 255 || test[3] > 255 || test[4] > 255) return false;
  var host = convert_addr(ipaddr), pat = convert_addr(pattern), mask = convert_addr(maskstr);
  return (host & mask) == (pat & mask);
}
function myIpAddress() { return '127.0.0.1'; }
`;

const PROXY = '127.0.0.1:18080';

const loadPac = (pac: string): ((host: string) => string) => {
  const context = vm.createContext({});
  vm.runInContext(PAC_UTILS, context);
  vm.runInContext(pac, context);
  return (host) => vm.runInContext(`FindProxyForURL(${JSON.stringify(`https://${host}/`)}, ${JSON.stringify(host)})`, context) as string;
};

const expected = (action: RuleAction): string => (action === 'direct' ? 'DIRECT' : `PROXY ${PROXY}`);

const RULES: Rule[] = [
  { match: 'blocked.example.com', action: 'block' },
  { match: '.example.com', action: 'tunnel' },
  { match: '*.cdn.net', action: 'tunnel' },
  { match: 'exact.org', action: 'tunnel' },
  { match: 'direct.exact.org', action: 'direct' },
  { match: '10.1.0.0/16', action: 'tunnel' },
  { match: '10.0.0.0/8', action: 'direct' },
  { match: '0.0.0.0/0', action: 'block' },
  { match: '192.0.2.7', action: 'direct' },
  { match: 'fd00::/8', action: 'tunnel' },
  { match: '2001:db8:1::/48', action: 'tunnel' },
  { match: '::1', action: 'direct' },
  { match: '::ffff:0:0/96', action: 'direct' },
];

const HOSTS = [
  'blocked.example.com', 'BLOCKED.EXAMPLE.COM', 'example.com', 'example.com.', 'a.b.example.com', 'notexample.com',
  'cdn.net', 'x.cdn.net', 'y.x.cdn.net', 'exact.org', 'www.exact.org', 'direct.exact.org', 'intranet', '',
  '10.1.2.3', '10.2.3.4', '11.0.0.1', '192.0.2.7', '255.255.255.255', '0.0.0.0', '01.2.3.4', '256.1.1.1', '1.2.3',
  'fd12::5', '[fd12::5]', 'fe80::1', '::1', '0::1', '2001:db8:1:ffff::1', '2001:db8:2::1', '::ffff:192.0.2.1',
  '::ffff:c000:201', '1::2::3', 'a:b', 'host:8080', '.example.com', 'a..example.com',
];

const check = (rules: Rule[], defaultAction: RuleAction, hosts: string[]): void => {
  const engine = compileRules(rules, defaultAction);
  const pac = loadPac(generatePac(rules, defaultAction, PROXY));
  for (const host of hosts) assert.equal(pac(host), expected(engine.decide(host)), `host ${JSON.stringify(host)}`);
};

test('the PAC file makes the same decision as the rule engine for every host in the table', () => {
  for (const def of ['tunnel', 'direct', 'block'] as const) check(RULES, def, HOSTS);
  check([{ match: '*', action: 'direct' }, ...RULES], 'tunnel', HOSTS);
  check([], 'direct', HOSTS);
});

test('the PAC file sends blocked destinations to the local proxy, which refuses them', () => {
  const pac = loadPac(generatePac([{ match: 'bad.example', action: 'block' }], 'direct', PROXY));
  assert.equal(pac('bad.example'), `PROXY ${PROXY}`);
  assert.equal(pac('good.example'), 'DIRECT');
});

test('a link with a domain list: its PAC tunnels exactly those domains', () => {
  const set = rulesFromLinkDomains(['api.vendor.com', '.files.vendor.com']);
  const pac = loadPac(generatePac(set.rules, set.defaultAction, PROXY));
  assert.equal(pac('api.vendor.com'), `PROXY ${PROXY}`);
  assert.equal(pac('x.files.vendor.com'), `PROXY ${PROXY}`);
  assert.equal(pac('www.vendor.com'), 'DIRECT');
});

test('PAC and engine agree on generated rules and hosts', () => {
  const label = fc.constantFrom('a', 'b', 'example', 'com', 'x-1');
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
  const v6 = fc.ipV6();
  const match = fc.oneof(
    name,
    name.map((n) => `.${n}`),
    name.map((n) => `*.${n}`),
    fc.tuple(v4, fc.nat(32)).map(([a, bits]) => `${a}/${bits}`),
    fc.tuple(v6, fc.nat(128)).map(([a, bits]) => `${a}/${bits}`),
    fc.constant('*'),
  );
  const action = fc.constantFrom<RuleAction>('tunnel', 'direct', 'block');
  const rules = fc.array(fc.record({ match, action }), { maxLength: 12 });
  const hosts = fc.array(fc.oneof(name, v4, v6, name.map((n) => n.toUpperCase())), { minLength: 1, maxLength: 20 });
  fc.assert(fc.property(rules, action, hosts, (r, d, h) => check(r, d, h)), { numRuns: 300 });
});
