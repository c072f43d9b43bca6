import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { PinholeError } from '../../shared/errors.js';
import { formatIPv6 } from '../../shared/ip.js';
import {
  COMMAND,
  REPLY,
  encodeAddress,
  encodeGreeting,
  encodeMethodSelection,
  encodeReply,
  encodeRequest,
  encodeUdpDatagram,
  encodeUserPass,
  encodeUserPassStatus,
  ipv6Bytes,
  parseGreeting,
  parseReply,
  parseRequest,
  parseUdpDatagram,
  parseUserPass,
} from './codec.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const code = (expected: string, why?: RegExp) => (err: unknown) => err instanceof PinholeError && err.code === expected && (why === undefined || why.test(err.message));

/** Every proper prefix needs more bytes; the whole message parses; extra bytes are left alone. */
function truncations<T>(parse: (b: Uint8Array) => { value: T; consumed: number } | undefined, bytes: Uint8Array, expected: T): void {
  for (let cut = 0; cut < bytes.length; cut++) assert.equal(parse(bytes.subarray(0, cut)), undefined, `cut at ${cut} of ${toHex(bytes)}`);
  assert.deepEqual(parse(bytes), { value: expected, consumed: bytes.length });
  const extra = Buffer.concat([bytes, hex('deadbeef')]);
  assert.deepEqual(parse(extra), { value: expected, consumed: bytes.length });
}

test('greeting: every truncation point, then the offered methods', () => {
  truncations(parseGreeting, hex('05 02 00 02'), { methods: [0, 2] });
  truncations(parseGreeting, encodeGreeting([0]), { methods: [0] });
});

test('method selection bytes', () => {
  assert.equal(toHex(encodeMethodSelection(0x02)), '0502');
  assert.equal(toHex(encodeMethodSelection(0xff)), '05ff');
});

const requests: Array<[string, string, { command: number; address: { type: string; host: string; port: number } }]> = [
  ['CONNECT to an IPv4 address', '05 01 00 01 7f000001 0050', { command: COMMAND.connect, address: { type: 'ipv4', host: '127.0.0.1', port: 80 } }],
  [
    'CONNECT to an IPv6 address',
    '05 01 00 04 20010db8000000000000000000000001 01bb',
    { command: COMMAND.connect, address: { type: 'ipv6', host: '2001:db8::1', port: 443 } },
  ],
  [
    'CONNECT to a domain name, kept as a name',
    '05 01 00 03 0b 6578616d706c652e636f6d 01bb',
    { command: COMMAND.connect, address: { type: 'domain', host: 'example.com', port: 443 } },
  ],
  ['UDP ASSOCIATE with 0.0.0.0:0', '05 03 00 01 00000000 0000', { command: COMMAND.udpAssociate, address: { type: 'ipv4', host: '0.0.0.0', port: 0 } }],
  ['BIND (parsed; the server answers 0x07)', '05 02 00 01 0a000001 1f90', { command: COMMAND.bind, address: { type: 'ipv4', host: '10.0.0.1', port: 8080 } }],
  ['a non-zero RSV is tolerated', '05 01 ff 01 01020304 0001', { command: 1, address: { type: 'ipv4', host: '1.2.3.4', port: 1 } }],
];
for (const [name, bytes, expected] of requests) {
  test(`request: ${name}, at every truncation point`, () => {
    truncations(parseRequest, hex(bytes), expected);
    assert.equal(toHex(encodeRequest(expected.command, expected.address.host, expected.address.port)), toHex(hex(bytes)).replace(/^(....)ff/, '$100'));
  });
}

const malformedRequests: Array<[string, string, string, RegExp]> = [
  ['SOCKS4', '04 01 0050 7f000001 00', 'PINHOLE_SOCKS_MALFORMED', /version 4 is not 5/],
  ['an HTTP request', '474554', 'PINHOLE_SOCKS_MALFORMED', /version 71/],
  ['an empty domain name', '05 01 00 03 00 0050', 'PINHOLE_SOCKS_MALFORMED', /domain name is empty/],
  ['a domain name with a space', '05 01 00 03 03 612062 0050', 'PINHOLE_SOCKS_MALFORMED', /spaces or control/],
  ['a domain name that is not UTF-8', '05 01 00 03 02 c328 0050', 'PINHOLE_SOCKS_MALFORMED', /not UTF-8/],
  ['address type 2', '05 01 00 02 00000000', 'PINHOLE_SOCKS_UNSUPPORTED', /address type 2/],
];
for (const [name, bytes, expected, why] of malformedRequests) {
  test(`request refused: ${name}`, () => {
    assert.throws(() => parseRequest(hex(bytes)), code(expected, why));
  });
}

const malformedGreetings: Array<[string, string, RegExp]> = [
  ['SOCKS4', '04 01', /version 4/],
  ['no methods', '05 00', /no authentication method/],
];
for (const [name, bytes, why] of malformedGreetings) {
  test(`greeting refused: ${name}`, () => {
    assert.throws(() => parseGreeting(hex(bytes)), code('PINHOLE_SOCKS_MALFORMED', why));
  });
}

test('RFC 1929 username/password: every truncation point, UTF-8 names, an empty password', () => {
  truncations(parseUserPass, encodeUserPass({ user: 'alice', password: 's3cr:et' }), { user: 'alice', password: 's3cr:et' });
  truncations(parseUserPass, encodeUserPass({ user: 'jörg', password: '' }), { user: 'jörg', password: '' });
  assert.equal(toHex(encodeUserPass({ user: 'u', password: 'p' })), '0101750170');
  assert.equal(toHex(encodeUserPassStatus(true)), '0100');
  assert.equal(toHex(encodeUserPassStatus(false)), '0101');
});

test('RFC 1929 refusals: wrong version, an empty user name; names over 255 bytes cannot be encoded', () => {
  assert.throws(() => parseUserPass(hex('05 01 75 01 70')), code('PINHOLE_SOCKS_MALFORMED', /version 5 is not 1/));
  assert.throws(() => parseUserPass(hex('01 00 01 70')), code('PINHOLE_SOCKS_MALFORMED', /user name is empty/));
  assert.throws(() => encodeUserPass({ user: 'x'.repeat(256), password: '' }), RangeError);
  assert.throws(() => encodeUserPass({ user: '', password: 'p' }), RangeError);
});

test('replies: success with 0.0.0.0:0, a bound IPv6 address, and each code', () => {
  assert.equal(toHex(encodeReply(REPLY.succeeded)), '05000001000000000000');
  assert.equal(toHex(encodeReply(REPLY.connectionRefused)), '05050001000000000000');
  const v6 = encodeReply(REPLY.succeeded, { host: '::1', port: 1080 });
  truncations(parseReply, v6, { code: 0, bound: { type: 'ipv6', host: '::1', port: 1080 } });
});

const ipv6Texts: Array<[string, string | undefined]> = [
  ['::', '00000000000000000000000000000000'],
  ['::1', '00000000000000000000000000000001'],
  ['[2001:db8::1]', '20010db8000000000000000000000001'],
  ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
  ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
  ['::1.2.3.4', '00000000000000000000000001020304'],
  ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
  ['1:2:3:4:5:6:7:8:9', undefined],
  ['1::2::3', undefined],
  ['12345::', undefined],
  ['::ffff:1.2.3.256', undefined],
  ['1:2:3:4:5:6:7', undefined],
  ['1:2:3:4:5:6:7::8', undefined],
];
for (const [text, bytes] of ipv6Texts) {
  test(`IPv6 text ${text} is ${bytes ?? 'refused'}`, () => {
    const got = ipv6Bytes(text);
    assert.equal(got === undefined ? undefined : toHex(Uint8Array.from(got)), bytes);
  });
}

test('IPv6 text from formatIPv6 parses back to the same 16 bytes (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      const text = formatIPv6(bytes);
      assert.ok(isIPv6(text));
      assert.deepEqual(ipv6Bytes(text), Array.from(bytes));
    }),
  );
});

test('encodeAddress: IPv4 and IPv6 literals are addresses, anything else a name (never resolved)', () => {
  assert.equal(toHex(encodeAddress('10.1.2.3', 53)), '010a0102030035');
  assert.equal(toHex(encodeAddress('localhost', 53)), '03096c6f63616c686f73740035');
  assert.equal(toHex(encodeAddress('999.1.1.1', 1)), '0309' + Buffer.from('999.1.1.1').toString('hex') + '0001');
  assert.throws(() => encodeAddress('', 1), RangeError);
});

test('UDP ASSOCIATE datagrams: header and payload both ways, every truncation of the header is malformed', () => {
  const datagram = encodeUdpDatagram('dns.test', 53, hex('abcdef'));
  assert.equal(toHex(datagram), '000000' + '0308' + Buffer.from('dns.test').toString('hex') + '0035' + 'abcdef');
  assert.deepEqual(parseUdpDatagram(datagram), { fragment: 0, address: { type: 'domain', host: 'dns.test', port: 53 }, payload: hex('abcdef') });
  const headerLength = datagram.length - 3;
  for (let cut = 0; cut < headerLength; cut++) assert.throws(() => parseUdpDatagram(datagram.subarray(0, cut)), code('PINHOLE_SOCKS_MALFORMED', /cut short/), `cut ${cut}`);
  assert.equal(parseUdpDatagram(datagram.subarray(0, headerLength)).payload.length, 0);
  assert.equal(parseUdpDatagram(hex('0000 81 01 7f000001 0035 00')).fragment, 0x81);
});

test('any request round-trips through encode and parse (property)', () => {
  const host = fc.oneof(
    fc.ipV4(),
    fc.ipV6().map((h) => formatIPv6(Uint8Array.from(ipv6Bytes(h)!))),
    fc.domain(),
  );
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 3), host, fc.integer({ min: 0, max: 65535 }), (command, h, port) => {
      const parsed = parseRequest(encodeRequest(command, h, port));
      assert.equal(parsed?.value.command, command);
      assert.equal(parsed?.value.address.host, h);
      assert.equal(parsed?.value.address.port, port);
    }),
  );
});
