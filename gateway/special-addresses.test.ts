import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { test } from 'node:test';
import { ALLOWED_SPELLINGS, REFUSED_SPELLINGS } from '../test/support/address-spellings.js';
import { canonicalText, isForbiddenAddress, parseIpLiteral, refusedRange } from './special-addresses.js';

/** The kernel's reading of `text` (inet_pton, through Node's BlockList) is the same address as `canonical`. */
const kernelAgrees = (text: string, canonical: string): boolean => {
  const family = isIP(text) === 6 ? 'ipv6' : 'ipv4';
  const list = new BlockList();
  list.addAddress(canonical, family);
  return list.check(text, family);
};

test('every spelling in the table is an IP literal, read exactly as the kernel reads it', () => {
  for (const { text } of [...REFUSED_SPELLINGS, ...ALLOWED_SPELLINGS]) {
    const address = parseIpLiteral(text);
    assert.ok(address !== undefined, `${text} parses`);
    assert.ok(kernelAgrees(text, canonicalText(address)), `${text} is ${canonicalText(address)} for the kernel too`);
  }
});

test('"::a.b.c.d" is IPv4-compatible as RFC 4291 and the kernel say (ipaddr.js alone would read it as IPv4-mapped)', () => {
  assert.equal(canonicalText(parseIpLiteral('::10.0.0.53')!), '::a00:35');
  assert.equal(canonicalText(parseIpLiteral('0::1.2.3.4')!), '::102:304');
  assert.equal(canonicalText(parseIpLiteral('::ffff:10.0.0.53')!), '::ffff:a00:35');
});

for (const { text, what } of REFUSED_SPELLINGS) {
  test(`${text} (${what}) is refused`, () => {
    const why = refusedRange(parseIpLiteral(text)!);
    assert.ok(why !== undefined, `${text} should be refused`);
    assert.equal(isForbiddenAddress(text), true);
  });
}

for (const { text, what, canonical } of ALLOWED_SPELLINGS) {
  test(`${text} (${what}) is allowed, as ${canonical}`, () => {
    const address = parseIpLiteral(text)!;
    assert.equal(refusedRange(address), undefined);
    assert.equal(canonicalText(address), canonical);
  });
}

test('the reason names the form and the IPv4 address it carries', () => {
  assert.equal(refusedRange(parseIpLiteral('64:ff9b:0:0:0:0:a00:35')!), 'NAT64 of 10.0.0.53 (private)');
  assert.equal(refusedRange(parseIpLiteral('2001:0:101:101::f5ff:ffca')!), 'Teredo of 10.0.0.53 (private)');
  assert.equal(refusedRange(parseIpLiteral('2002:a9fe:a9fe::1')!), '6to4 of 169.254.169.254 (link-local (cloud metadata))');
  assert.equal(refusedRange(parseIpLiteral('::1')!), 'loopback');
});

test('only what Node takes for an IP literal is one: other texts are names, left to the resolver', () => {
  for (const text of ['127.1', '0x7f.0.0.1', '0177.0.0.1', '2130706433', '::ffff:127.1', '1::2::3', 'example.test', '']) {
    assert.equal(parseIpLiteral(text), undefined, text);
    assert.equal(isForbiddenAddress(text), true, `${text} is no address the gateway can vouch for`);
  }
});

test('IPv4 special ranges are refused, public addresses allowed', () => {
  const refused = ['0.1.2.3', '10.255.255.255', '100.64.0.1', '127.0.0.1', '169.254.169.254', '172.31.255.255', '192.0.0.8', '192.168.1.1', '198.19.0.1', '224.0.0.1', '240.0.0.1', '255.255.255.255'];
  const allowed = ['1.1.1.1', '100.128.0.1', '172.32.0.1', '198.51.100.53', '203.0.113.9', '11.0.0.1'];
  for (const text of refused) assert.equal(isForbiddenAddress(text), true, text);
  for (const text of allowed) assert.equal(isForbiddenAddress(text), false, text);
});
