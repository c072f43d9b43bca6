import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIPv6 } from './ip.js';

const bytes = (hex: string): number[] => hex.match(/../g)!.map((h) => parseInt(h, 16));

test('IPv6 addresses print in RFC 5952 form, IPv4-mapped ones with a dotted tail', () => {
  const cases: Array<[string, string]> = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['00010000000000020000000000000003', '1:0:0:2::3'],
    ['00010000000100000001000000010000', '1:0:1:0:1:0:1:0'],
    ['20010db8000100000001000100010001', '2001:db8:1:0:1:1:1:1'],
    ['00000000000000000000ffff7f000001', '::ffff:127.0.0.1'],
    ['fe800000000000000000000000000abc', 'fe80::abc'],
  ];
  for (const [hex, text] of cases) assert.equal(formatIPv6(bytes(hex)), text, hex);
});

test('an address can be read from the middle of a larger buffer', () => {
  assert.equal(formatIPv6([9, 9, ...bytes('20010db8000000000000000000000001')], 2), '2001:db8::1');
});
