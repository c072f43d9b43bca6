import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CLIENT_HELLO_MAX_BYTES } from './client-hello.js';
import { FIXTURES, fixture } from './fixtures/fixtures.js';
import { HTTP2_PREFACE, PROBES, TLS_ONLY, classify, customProbe, http2Probe, httpProbe, openvpnProbe, sshProbe, tableMaxBytes, tlsProbe } from './probes.js';
import type { Probe } from './probe.js';

const text = (s: string): Buffer => Buffer.from(s, 'latin1');

const captures: Array<{ file: string; name: string }> = [
  { file: FIXTURES.tls13OpenSsl, name: 'tls' },
  { file: FIXTURES.tlsOpenSslDefault, name: 'tls' },
  { file: FIXTURES.tlsCurl, name: 'tls' },
  { file: FIXTURES.tlsNode, name: 'tls' },
  { file: FIXTURES.tlsChromium, name: 'tls' },
  { file: FIXTURES.ssh, name: 'ssh' },
  { file: FIXTURES.http1, name: 'http' },
  { file: FIXTURES.http2, name: 'http2' },
  { file: FIXTURES.openvpn, name: 'openvpn' },
  { file: FIXTURES.openvpnTlsAuth, name: 'openvpn' },
  { file: FIXTURES.openvpnTlsCrypt, name: 'openvpn' },
];

for (const { file, name } of captures) {
  test(`the real first bytes of ${file} are classified as ${name}, and every prefix waits or agrees`, () => {
    const bytes = fixture(file);
    const whole = classify(bytes);
    assert.equal(whole.kind, 'match');
    if (whole.kind === 'match') assert.equal(whole.name, name);
    if (name === 'tls') assert.ok(whole.kind === 'match' && whole.hello?.serverName);
    for (let cut = 0; cut < bytes.length; cut++) {
      const part = classify(bytes.subarray(0, cut));
      assert.ok(part.kind === 'again' || (part.kind === 'match' && part.name === name), `${file} cut at ${cut}: ${JSON.stringify(part)}`);
    }
  });
}

test('PROXY headers, from haproxy, are not mistaken for any protocol of the table', () => {
  for (const file of [FIXTURES.proxyV1Tcp4, FIXTURES.proxyV2Tcp4, FIXTURES.proxyV2Tcp6]) assert.deepEqual(classify(fixture(file)), { kind: 'none' });
});

const cases: Array<{ probe: Probe; input: string | Uint8Array; answer: 'match' | 'no' | 'again' }> = [
  { probe: sshProbe, input: '', answer: 'again' },
  { probe: sshProbe, input: 'SSH-2.', answer: 'again' },
  { probe: sshProbe, input: 'SSH-1.9', answer: 'again' },
  { probe: sshProbe, input: 'SSH-1.99-OpenSSH_3.9p1\r\n', answer: 'match' },
  { probe: sshProbe, input: 'SSH-1.5-old\r\n', answer: 'no' },
  { probe: sshProbe, input: 'ssh-2.0-lower', answer: 'no' },
  { probe: httpProbe, input: 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', answer: 'match' },
  { probe: httpProbe, input: 'CONNECT example.org:443 HTTP/1.1\r\n', answer: 'match' },
  { probe: httpProbe, input: 'PROPFIND /dav/ HTTP/1.1\r\n', answer: 'match' },
  { probe: httpProbe, input: 'GET http://a/ HTTP/1.0', answer: 'match' },
  { probe: httpProbe, input: 'GET / HTTP/1.', answer: 'again' },
  { probe: httpProbe, input: 'GE', answer: 'again' },
  { probe: httpProbe, input: 'GET /very/long', answer: 'again' },
  { probe: httpProbe, input: 'PRI * HTTP/2.0\r\n', answer: 'no' },
  { probe: httpProbe, input: 'get / HTTP/1.1\r\n', answer: 'no' },
  { probe: httpProbe, input: 'GET  / HTTP/1.1\r\n', answer: 'no' },
  { probe: httpProbe, input: 'GET / HTTP/1.1x', answer: 'match' },
  { probe: httpProbe, input: 'GET /\r\n', answer: 'no' },
  { probe: httpProbe, input: 'AVERYLONGMETHODNAMEISNOTONE / HTTP/1.1', answer: 'no' },
  { probe: httpProbe, input: `GET /${'a'.repeat(9000)} HTTP/1.1`, answer: 'no' },
  { probe: http2Probe, input: 'PRI * HTTP/2.0\r\n', answer: 'again' },
  { probe: http2Probe, input: HTTP2_PREFACE, answer: 'match' },
  { probe: http2Probe, input: 'PRI * HTTP/1.1\r\n', answer: 'no' },
  { probe: openvpnProbe, input: Uint8Array.of(0), answer: 'again' },
  { probe: openvpnProbe, input: Uint8Array.of(0, 14, 0x38), answer: 'again' },
  { probe: openvpnProbe, input: Uint8Array.of(0, 14, 0x50, ...new Uint8Array(14).fill(0).subarray(1)), answer: 'match' },
  { probe: openvpnProbe, input: Uint8Array.of(0, 14, 0x39, ...new Uint8Array(13)), answer: 'no' }, // key id 1
  { probe: openvpnProbe, input: Uint8Array.of(0, 14, 0x20, ...new Uint8Array(13)), answer: 'no' }, // P_CONTROL_V1
  { probe: openvpnProbe, input: Uint8Array.of(0, 3, 0x38, 0, 0), answer: 'no' }, // too short to be a reset
  { probe: openvpnProbe, input: Uint8Array.of(0x47, 0x45, 0x54), answer: 'no' },
  { probe: tlsProbe, input: Uint8Array.of(22, 3), answer: 'again' },
  { probe: tlsProbe, input: 'GET / HTTP/1.1', answer: 'no' },
];
for (const { probe, input, answer } of cases) {
  const shown = typeof input === 'string' ? JSON.stringify(input.slice(0, 40)) : `[${[...input.subarray(0, 6)].join(',')}${input.length > 6 ? ',…' : ''}]`;
  test(`the ${probe.name} probe answers ${answer} to ${shown}`, () => {
    const bytes = typeof input === 'string' ? text(input) : input;
    const got = probe.probe(bytes);
    assert.equal(typeof got === 'string' ? got : got.result, answer);
  });
}

test('a custom byte probe works like haproxy payload(0,7) -m bin 5353482d322e30', () => {
  const ssh7 = customProbe({ name: 'ssh-bin', bytes: Buffer.from('5353482d322e30', 'hex') });
  assert.equal(ssh7.probe(text('SSH-2.0-x')), 'match');
  assert.equal(ssh7.probe(text('SSH')), 'again');
  assert.equal(ssh7.probe(text('SSX')), 'no');
  assert.equal(ssh7.maxBytes, 7);
  const atOffset = customProbe({ name: 'magic', offset: 4, bytes: Uint8Array.of(0xca, 0xfe) });
  assert.equal(atOffset.probe(Uint8Array.of(1, 2, 3, 4, 0xca)), 'again');
  assert.equal(atOffset.probe(Uint8Array.of(1, 2, 3, 4, 0xca, 0xfe)), 'match');
  assert.equal(atOffset.probe(Uint8Array.of(1, 2, 3, 4, 0xcb)), 'no');
});

test('a custom regex probe waits for its window, then tests it', () => {
  const xmpp = customProbe({ name: 'xmpp', regex: /^<\?xml|<stream:stream/g, length: 5 });
  assert.equal(xmpp.probe(text('<?xm')), 'again');
  assert.equal(xmpp.probe(text('<?xml version')), 'match');
  assert.equal(xmpp.probe(text('<?xml version')), 'match', 'a global regex keeps no state between calls');
  assert.equal(xmpp.probe(text('hello')), 'no');
  assert.throws(() => customProbe({ name: 'bad', regex: /x/ }), RangeError);
  assert.throws(() => customProbe({ name: 'bad', bytes: Uint8Array.of(1), regex: /x/, length: 1 }), RangeError);
});

test('table order is priority among probes that decide: a custom probe placed first takes SSH clients of one brand', () => {
  const dropbear = customProbe({ name: 'dropbear', bytes: text('SSH-2.0-dropbear') });
  const table = [dropbear, ...PROBES];
  assert.deepEqual(classify(text('SSH-2.0-dropbear_2022.83\r\n'), table), { kind: 'match', name: 'dropbear' });
  assert.deepEqual(classify(text('SSH-2.0-OpenSSH_9.2\r\n'), table), { kind: 'match', name: 'ssh' });
});

test('as in sslh, a probe that needs more bytes does not stop a later one from matching', () => {
  // A probe first in the table that waits for 32 bytes, then SSH: byte by byte, SSH matches as
  // soon as its prefix is complete, and waiting is the answer only while nothing matched.
  const slow = customProbe({ name: 'slow', offset: 0, regex: /^SSH-2\.0-slowbrand/, length: 32 });
  const table = [slow, ...PROBES];
  const banner = text('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
  for (let cut = 0; cut <= banner.length; cut++) {
    const expected = cut < 8 ? { kind: 'again' } : { kind: 'match', name: 'ssh' };
    assert.deepEqual(classify(banner.subarray(0, cut), table), expected, `cut at ${cut}`);
  }
  // The slow probe still wins what it is first to decide on.
  assert.deepEqual(classify(text('SSH-2.0-slowbrand_1.0 xxxxxxxxxxxxxxxx'), table), { kind: 'match', name: 'slow' });
  // A waiting probe and no match: wait; once every probe says no: none.
  assert.deepEqual(classify(text('\x7fzz'), table), { kind: 'again' });
  assert.deepEqual(classify(text('\x7f'.repeat(40)), table), { kind: 'none' });
});

test('the TLS-only table is one row: byte 0x16 matches, any other first byte does not, nothing waits', () => {
  assert.deepEqual(classify(new Uint8Array(0), TLS_ONLY), { kind: 'again' });
  assert.deepEqual(classify(Uint8Array.of(0x16), TLS_ONLY), { kind: 'match', name: 'tls' });
  assert.deepEqual(classify(Uint8Array.of(0x16, 3, 1, 0xff), TLS_ONLY), { kind: 'match', name: 'tls' });
  for (let first = 0; first < 256; first++) if (first !== 0x16) assert.deepEqual(classify(Uint8Array.of(first), TLS_ONLY), { kind: 'none' }, `first byte ${first}`);
  assert.equal(tableMaxBytes(TLS_ONLY), 1);
});

test('garbage is classified as none, and an empty read waits', () => {
  assert.deepEqual(classify(text('\x00\x01\x02hello')), { kind: 'none' });
  assert.deepEqual(classify(text('hello world')), { kind: 'none' });
  assert.deepEqual(classify(new Uint8Array(0)), { kind: 'again' });
  assert.equal(tableMaxBytes(PROBES), CLIENT_HELLO_MAX_BYTES);
});

const allProbes: Probe[] = [
  ...PROBES,
  customProbe({ name: 'bin', offset: 3, bytes: Uint8Array.of(1, 2, 3) }),
  customProbe({ name: 're', offset: 1, regex: /^[a-z]+$/, length: 10 }),
];
const realPrefix = fc
  .tuple(fc.constantFrom(...captures.map((c) => c.file), FIXTURES.proxyV1Tcp4, FIXTURES.proxyV2Tcp6), fc.nat(), fc.uint8Array({ maxLength: 64 }))
  .map(([file, cut, tail]) => {
    const bytes = fixture(file);
    return Buffer.concat([bytes.subarray(0, cut % (bytes.length + 1)), tail]);
  });
const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 3000 }), realPrefix, realPrefix.map((b) => Buffer.concat([Uint8Array.of(22, 3, 1), b])));

test('property: every probe answers match, no or again to any bytes, never throws, and never waits past its maxBytes', () => {
  fc.assert(
    fc.property(anyBytes, (bytes) => {
      for (const probe of allProbes) {
        const answer = probe.probe(bytes);
        const result = typeof answer === 'string' ? answer : answer.result;
        assert.ok(result === 'match' || result === 'no' || result === 'again');
        if (bytes.length >= probe.maxBytes) assert.notEqual(result, 'again', `${probe.name} waits at ${bytes.length} bytes`);
      }
      const c = classify(bytes, allProbes);
      assert.ok(['match', 'again', 'none'].includes(c.kind));
    }),
    { numRuns: 2000 },
  );
});

test('property: bytes at or past a probe cap get a final answer (long random inputs)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 8192, maxLength: 9000 }), fc.constantFrom(...allProbes.filter((p) => p.maxBytes <= 8192)), (bytes, probe) => {
      const answer = probe.probe(bytes);
      assert.notEqual(typeof answer === 'string' ? answer : answer.result, 'again');
    }),
    { numRuns: 200 },
  );
  // The TLS probe's cap: a stream of 1-byte handshake records never ends before 64 KiB.
  const stream = Buffer.alloc(CLIENT_HELLO_MAX_BYTES);
  stream.set([22, 3, 1, 0, 4, 1, 0, 0x30, 0x00]); // a 12 KiB hello announced, then 1-byte records
  for (let at = 9; at + 6 <= stream.length; at += 6) stream.set([22, 3, 1, 0, 1, 0], at);
  assert.equal(tlsProbe.probe(stream.subarray(0, stream.length - 100)), 'again');
  assert.equal(tlsProbe.probe(stream), 'no');
});
