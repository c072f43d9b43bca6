import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRules, parseIPv4, parseIPv6, parseRuleMatch, rulesFromLinkDomains, type Rule } from './rules.js';

const rules: Rule[] = [
  { match: 'blocked.example.com', action: 'block' },
  { match: '.example.com', action: 'tunnel' },
  { match: '*.cdn.net', action: 'tunnel' },
  { match: 'exact.org', action: 'tunnel' },
  { match: '10.0.0.0/8', action: 'direct' },
  { match: '10.1.0.0/16', action: 'tunnel' },
  { match: '192.0.2.7', action: 'block' },
  { match: 'fd00::/8', action: 'tunnel' },
  { match: '::1', action: 'direct' },
];

const table: [string, string][] = [
  ['blocked.example.com', 'block'],
  ['BLOCKED.Example.COM.', 'block'],
  ['example.com', 'tunnel'],
  ['a.b.c.example.com', 'tunnel'],
  ['notexample.com', 'direct'],
  ['cdn.net', 'direct'],
  ['img.cdn.net', 'tunnel'],
  ['a.img.cdn.net', 'tunnel'],
  ['exact.org', 'tunnel'],
  ['www.exact.org', 'direct'],
  ['10.1.2.3', 'direct'],
  ['10.200.0.1', 'direct'],
  ['11.0.0.1', 'direct'],
  ['192.0.2.7', 'block'],
  ['192.0.2.8', 'direct'],
  ['fd12::5', 'tunnel'],
  ['[fd12::5]', 'tunnel'],
  ['fe80::1', 'direct'],
  ['0:0:0:0:0:0:0:1', 'direct'],
  ['intranet', 'direct'],
];

test('the rule engine: first matching rule wins, otherwise the default', () => {
  const engine = compileRules(rules, 'direct');
  for (const [host, want] of table) assert.equal(engine.decide(host), want, host);
});

test('an earlier broader rule beats a later exact one, whatever the match kinds', () => {
  const engine = compileRules(
    [
      { match: '.example.com', action: 'direct' },
      { match: 'www.example.com', action: 'block' },
      { match: '*', action: 'tunnel' },
      { match: 'other.com', action: 'block' },
    ],
    'block',
  );
  assert.equal(engine.decide('www.example.com'), 'direct');
  assert.equal(engine.decide('other.com'), 'tunnel');
  assert.equal(engine.decide('1.2.3.4'), 'tunnel');
});

test('a wildcard rule does not match the bare domain, a dot rule does', () => {
  const wild = compileRules([{ match: '*.example.com', action: 'block' }], 'tunnel');
  assert.equal(wild.decide('example.com'), 'tunnel');
  assert.equal(wild.decide('x.example.com'), 'block');
  const dot = compileRules([{ match: '.example.com', action: 'block' }], 'tunnel');
  assert.equal(dot.decide('example.com'), 'block');
});

test('IP rules never match host names and name rules never match IP literals', () => {
  const engine = compileRules([{ match: '.0.2.7', action: 'block' }, { match: '0.0.0.0/0', action: 'tunnel' }], 'direct');
  assert.equal(engine.decide('192.0.2.7'), 'tunnel');
  assert.equal(engine.decide('host.0.2.7'), 'block');
});

test('bad rules are refused with the reason', () => {
  for (const bad of ['', 'exa mple.com', '10.0.0.0/33', 'fd00::/129', '1.2.3.4/x', '*.', '.', 'a..b', '-bad.com', 'foo/8']) {
    assert.throws(() => parseRuleMatch(bad), (err: { code?: string; message: string }) => err.code === 'PINHOLE_CONFIG_INVALID' && err.message.includes('is not valid'), bad);
  }
});

test('IPv4 and IPv6 literals parse in every textual form', () => {
  assert.equal(parseIPv4('192.0.2.1'), 0xc0000201);
  for (const bad of ['1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1.2.3.a', '']) assert.equal(parseIPv4(bad), undefined, bad);
  assert.equal(parseIPv6('::'), 0n);
  assert.equal(parseIPv6('::1'), 1n);
  assert.equal(parseIPv6('1::'), 1n << 112n);
  assert.equal(parseIPv6('::ffff:192.0.2.1'), 0xffffc0000201n);
  assert.equal(parseIPv6('2001:db8::8:800:200c:417a'), 0x20010db8000000000008_0800_200c_417an);
  assert.equal(parseIPv6('1:2:3:4:5:6:7:8'), 0x00010002000300040005000600070008n);
  for (const bad of ['1:2:3:4:5:6:7:8:9', '1::2::3', ':::', '12345::', 'g::1', '1:2:3:4:5:6:7', '::1.2.3', 'example.com']) assert.equal(parseIPv6(bad), undefined, bad);
});

test('a link with a domain list routes exactly those domains through the tunnel, the rest direct', () => {
  const set = rulesFromLinkDomains(['api.vendor.com', 'auth.vendor.com', '.files.vendor.com']);
  const engine = compileRules(set.rules, set.defaultAction);
  assert.equal(engine.decide('api.vendor.com'), 'tunnel');
  assert.equal(engine.decide('auth.vendor.com'), 'tunnel');
  assert.equal(engine.decide('eu.files.vendor.com'), 'tunnel');
  assert.equal(engine.decide('www.vendor.com'), 'direct');
  assert.equal(engine.decide('example.org'), 'direct');
  const none = rulesFromLinkDomains([]);
  assert.equal(compileRules(none.rules, none.defaultAction).decide('anything.example'), 'tunnel');
});

test('match names the rule that decided (the earliest that matches), or none when the default applied', () => {
  const rules = [
    { match: 'www.example.com', action: 'direct' as const },
    { match: '.example.com', action: 'block' as const },
    { match: '10.0.0.0/8', action: 'direct' as const },
  ];
  const engine = compileRules(rules, 'tunnel');
  assert.deepEqual(engine.match('www.example.com'), { action: 'direct', rule: rules[0] });
  assert.deepEqual(engine.match('a.example.com'), { action: 'block', rule: rules[1] });
  assert.deepEqual(engine.match('10.2.3.4'), { action: 'direct', rule: rules[2] });
  assert.deepEqual(engine.match('other.org'), { action: 'tunnel', rule: undefined });
});
