import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FIXTURES, fixture } from './fixtures/fixtures.js';
import { PROXY_V1_MAX, PROXY_V2_MAX, encodeProxyV1, encodeProxyV2, normaliseIp, parseProxyHeader, type ProxyHeader } from './proxy-protocol.js';

const CLIENT_LINE = 'hello from the client\n';

const expectHeader = (bytes: Uint8Array): ProxyHeader => {
  const parsed = parseProxyHeader(bytes);
  assert.equal(parsed.kind, 'header', JSON.stringify(parsed));
  if (parsed.kind !== 'header') throw new Error('unreachable');
  return parsed.header;
};

const captures: Array<{ file: string; version: 1 | 2; family: string; address: string }> = [
  { file: FIXTURES.proxyV1Tcp4, version: 1, family: 'tcp4', address: '127.0.0.1' },
  { file: FIXTURES.proxyV1Tcp6, version: 1, family: 'tcp6', address: '::1' },
  { file: FIXTURES.proxyV2Tcp4, version: 2, family: 'tcp4', address: '127.0.0.1' },
  { file: FIXTURES.proxyV2Tcp6, version: 2, family: 'tcp6', address: '::1' },
  { file: FIXTURES.proxyV2Tlvs, version: 2, family: 'tcp4', address: '127.0.0.1' },
];

for (const { file, version, family, address } of captures) {
  test(`haproxy's header in ${file} gives the client's address, and the client's bytes follow it`, () => {
    const bytes = fixture(file);
    const header = expectHeader(bytes);
    assert.equal(header.version, version);
    assert.equal(header.family, family);
    assert.equal(header.command, 'proxy');
    assert.equal(header.source?.address, address);
    assert.equal(header.destination?.address, address);
    assert.ok(header.source!.port > 1024 && header.destination!.port > 1024);
    assert.equal(bytes.subarray(header.length).toString('latin1'), CLIENT_LINE);
    for (let cut = 0; cut < header.length; cut++) assert.deepEqual(parseProxyHeader(bytes.subarray(0, cut)), { kind: 'again' }, `cut at ${cut}`);
  });
}

test('a v2 header with TLVs (crc32c, unique-id) is skipped whole', () => {
  const header = expectHeader(fixture(FIXTURES.proxyV2Tlvs));
  assert.equal(header.length, 16 + 12 + 7 + 3);
});

test('encoders round-trip through the parser, for IPv4, IPv6 and mixed families', () => {
  const v4 = { address: '203.0.113.7', port: 51234 };
  const gw = { address: '198.51.100.1', port: 443 };
  assert.equal(Buffer.from(encodeProxyV1(v4, gw)).toString(), 'PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n');
  assert.deepEqual(expectHeader(encodeProxyV2(v4, gw)).source, v4);
  const v6 = { address: '2001:DB8::0:1', port: 1 };
  const gw6 = { address: '2001:db8:0:0:1::', port: 65535 };
  assert.deepEqual(expectHeader(encodeProxyV1(v6, gw6)).source, { address: '2001:db8::1', port: 1 });
  assert.deepEqual(expectHeader(encodeProxyV2(v6, gw6)).destination, { address: '2001:db8:0:0:1::', port: 65535 });
  const mapped = { address: '::ffff:192.0.2.9', port: 40000 };
  assert.equal(Buffer.from(encodeProxyV1(mapped, gw)).toString(), 'PROXY TCP4 192.0.2.9 198.51.100.1 40000 443\r\n');
  const mixed = expectHeader(encodeProxyV2(v4, gw6));
  assert.equal(mixed.family, 'tcp6');
  assert.deepEqual(mixed.source, v4);
  assert.deepEqual(expectHeader(encodeProxyV2(v4, gw, { command: 'local' })), { version: 2, length: 16, command: 'local', family: 'unknown' });
  assert.throws(() => encodeProxyV1({ address: 'example.org', port: 1 }, gw), /not an IP address/);
  assert.throws(() => encodeProxyV2(v4, { address: '1.2.3.4', port: 70000 }), /out of range/);
});

test('normaliseIp gives RFC 5952 text and unmaps IPv4-mapped addresses', () => {
  assert.equal(normaliseIp('::FFFF:10.0.0.1'), '10.0.0.1');
  assert.equal(normaliseIp('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
  assert.equal(normaliseIp('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
  assert.equal(normaliseIp('1:0:1:0:1:0:1:0'), '1:0:1:0:1:0:1:0');
  assert.equal(normaliseIp('::'), '::');
  assert.equal(normaliseIp('10.1.2.3'), '10.1.2.3');
});

test('v1 UNKNOWN and v2 UNIX/UNSPEC headers parse', () => {
  assert.deepEqual(expectHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nX')), { version: 1, length: 35, command: 'proxy', family: 'unknown' });
  const unix = Buffer.alloc(16 + 216);
  Buffer.from(encodeProxyV2({ address: '1.1.1.1', port: 1 }, { address: '1.1.1.1', port: 1 })).copy(unix, 0, 0, 13);
  unix[13] = 0x31;
  unix.writeUInt16BE(216, 14);
  unix.write('/run/client.sock', 16);
  unix.write('/run/gw.sock', 16 + 108);
  const header = expectHeader(unix);
  assert.deepEqual([header.family, header.source, header.destination], ['unix', { address: '/run/client.sock', port: 0 }, { address: '/run/gw.sock', port: 0 }]);
  unix[13] = 0x00;
  assert.equal(expectHeader(unix).family, 'unknown');
});

const refusals: Array<{ story: string; bytes: Uint8Array }> = [
  { story: 'a TLS hello', bytes: fixture(FIXTURES.tlsCurl) },
  { story: 'a v1 header with a bad address', bytes: Buffer.from('PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n') },
  { story: 'a v1 TCP4 header with IPv6 addresses', bytes: Buffer.from('PROXY TCP4 ::1 ::1 1 2\r\n') },
  { story: 'a v1 header with port 65536', bytes: Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n') },
  { story: 'a v1 header with a leading-zero port', bytes: Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n') },
  { story: 'a v1 header with UDP4', bytes: Buffer.from('PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n') },
  { story: 'a v1 header with too many fields', bytes: Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n') },
  { story: 'a v1 header with a bare CR', bytes: Buffer.from('PROXY TCP4 1.2.3.4\rX') },
  { story: 'a v1 header without CRLF in 107 bytes', bytes: Buffer.from(`PROXY UNKNOWN ${'x'.repeat(120)}`) },
  { story: 'a v1 header with a control byte', bytes: Buffer.from('PROXY TCP4 \x01') },
  { story: 'a v2 header of version 3', bytes: Buffer.concat([Buffer.from(encodeProxyV2({ address: '1.1.1.1', port: 1 }, { address: '1.1.1.1', port: 1 })).subarray(0, 12), Buffer.from([0x31])]) },
  { story: 'a v2 header with command 2', bytes: Buffer.concat([Buffer.from(encodeProxyV2({ address: '1.1.1.1', port: 1 }, { address: '1.1.1.1', port: 1 })).subarray(0, 12), Buffer.from([0x22, 0x11, 0, 12])]) },
  { story: 'a v2 TCP4 header with a short address block', bytes: Buffer.concat([Buffer.from(encodeProxyV2({ address: '1.1.1.1', port: 1 }, { address: '1.1.1.1', port: 1 })).subarray(0, 12), Buffer.from([0x21, 0x11, 0, 4, 1, 2, 3, 4])]) },
  { story: 'a v2 header longer than the cap', bytes: Buffer.concat([Buffer.from(encodeProxyV2({ address: '1.1.1.1', port: 1 }, { address: '1.1.1.1', port: 1 })).subarray(0, 12), Buffer.from([0x21, 0x11, 0x10, 0x00])]) },
];
for (const { story, bytes } of refusals) {
  test(`${story} is refused as a PROXY header`, () => {
    assert.equal(parseProxyHeader(bytes).kind, 'invalid');
  });
}

const realPrefix = fc.tuple(fc.constantFrom(...captures.map((c) => c.file)), fc.nat(), fc.uint8Array({ maxLength: 40 })).map(([file, cut, tail]) => {
  const bytes = fixture(file);
  return Buffer.concat([bytes.subarray(0, cut % (bytes.length + 1)), tail]);
});

test('property: the PROXY parser answers header, again or invalid to any bytes, never throws, never waits past its cap', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), realPrefix), (bytes) => {
      const parsed = parseProxyHeader(bytes);
      assert.ok(['header', 'again', 'invalid'].includes(parsed.kind));
      if (parsed.kind === 'header') assert.ok(parsed.header.length <= bytes.length);
      if (bytes.length >= PROXY_V2_MAX || (bytes[0] === 0x50 && bytes.length >= PROXY_V1_MAX)) assert.notEqual(parsed.kind, 'again');
    }),
    { numRuns: 3000 },
  );
});

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const port = fc.integer({ min: 0, max: 65535 });
test('property: any TCP4/TCP6 address pair survives encode then parse, in v1 and v2', () => {
  fc.assert(
    fc.property(fc.oneof(fc.tuple(ipv4, ipv4), fc.tuple(ipv6, ipv6)), port, port, ([src, dst], sport, dport) => {
      const source = { address: src, port: sport };
      const destination = { address: dst, port: dport };
      for (const encoded of [encodeProxyV1(source, destination), encodeProxyV2(source, destination)]) {
        const header = expectHeader(encoded);
        assert.equal(header.length, encoded.length);
        assert.deepEqual(header.source, { address: normaliseIp(src), port: sport });
        assert.deepEqual(header.destination, { address: normaliseIp(dst), port: dport });
      }
    }),
    { numRuns: 1000 },
  );
});
