import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_HELLO_MAX_BYTES, parseClientHello, type ClientHello } from './client-hello.js';
import { FIXTURES, fixture, handshakeOf, inRecords, withPadding } from './fixtures/fixtures.js';

const X25519MLKEM768 = 0x11ec;
const TLS13 = 0x0304;
const TLS12 = 0x0303;

const expectHello = (bytes: Uint8Array): ClientHello => {
  const parsed = parseClientHello(bytes);
  assert.equal(parsed.kind, 'hello', JSON.stringify(parsed));
  if (parsed.kind !== 'hello') throw new Error('unreachable');
  return parsed.hello;
};

const real: Array<{ file: string; sni: string; alpn: string[]; versions: number[] }> = [
  { file: FIXTURES.tls13OpenSsl, sni: 'pinhole.example.org', alpn: ['h2', 'http/1.1'], versions: [TLS13] },
  { file: FIXTURES.tlsOpenSslDefault, sni: 'www.example.org', alpn: [], versions: [TLS13, TLS12, 0x0302, 0x0301] },
  { file: FIXTURES.tlsCurl, sni: 'x.test', alpn: ['h2', 'http/1.1'], versions: [TLS13, TLS12, 0x0302, 0x0301] },
  { file: FIXTURES.tlsNode, sni: 'gw.pinhole.test', alpn: ['h2', 'http/1.1'], versions: [TLS13, TLS12] },
  { file: FIXTURES.tlsChromium, sni: 'x.test', alpn: ['h2', 'http/1.1'], versions: [0xfafa, TLS13, TLS12] },
];

for (const { file, sni, alpn, versions } of real) {
  test(`the ClientHello of ${file} gives its server name, ALPN and versions`, () => {
    const bytes = fixture(file);
    const hello = expectHello(bytes);
    assert.equal(hello.serverName, sni);
    assert.deepEqual(hello.alpn, alpn);
    // Chromium's first supported version is GREASE (random 0x?a?a); compare the rest exactly.
    if (file === FIXTURES.tlsChromium) {
      assert.equal(hello.versions[0]! & 0x0f0f, 0x0a0a);
      assert.deepEqual(hello.versions.slice(1), versions.slice(1));
    } else assert.deepEqual(hello.versions, versions);
    assert.equal(hello.recordVersion, 0x0301);
    assert.equal(hello.legacyVersion, TLS12);
    assert.equal(hello.records, 1);
    assert.equal(hello.end, bytes.length);
    assert.ok(hello.cipherSuites > 0);
  });
}

test("Chromium's post-quantum hello (X25519MLKEM768) is larger than a small segment and still parses", () => {
  const hello = expectHello(fixture(FIXTURES.tlsChromium));
  assert.ok(hello.keyShareGroups.includes(X25519MLKEM768));
  assert.ok(hello.length > 1500);
});

for (const { file } of real) {
  test(`every split point of ${file} answers again until the last byte, then the same hello`, () => {
    const bytes = fixture(file);
    const whole = expectHello(bytes);
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.deepEqual(parseClientHello(bytes.subarray(0, cut)), { kind: 'again' }, `cut at ${cut}`);
    }
    assert.deepEqual(expectHello(bytes), whole);
  });
}

test('a hello fragmented into several TLS records gives the same names at ten record sizes, and waits at every split point of three of them', () => {
  const bytes = fixture(FIXTURES.tlsChromium);
  const message = handshakeOf(bytes);
  const single = expectHello(bytes);
  for (const size of [1, 2, 3, 4, 5, 7, 100, 512, 1000, 2004]) {
    const records = inRecords(message, size);
    const hello = expectHello(records);
    assert.equal(hello.records, Math.ceil(message.length / size));
    assert.equal(hello.end, records.length);
    assert.deepEqual({ ...hello, records: 1, end: bytes.length }, single);
    if (size === 1 || size === 7 || size === 512) {
      for (let cut = 0; cut < records.length; cut++) assert.equal(parseClientHello(records.subarray(0, cut)).kind, 'again', `size ${size} cut ${cut}`);
    }
  }
});

test('bytes after the hello (an early-data record, the next packet) are left alone', () => {
  const bytes = fixture(FIXTURES.tlsCurl);
  const hello = expectHello(Buffer.concat([bytes, Buffer.from([23, 3, 3, 0, 5, 1, 2, 3, 4, 5])]));
  assert.equal(hello.end, bytes.length);
});

test('a hello larger than one 16 KiB record (padding) spans records and parses', () => {
  const message = withPadding(handshakeOf(fixture(FIXTURES.tlsNode)), 20_000);
  const hello = expectHello(inRecords(message, 16384));
  assert.equal(hello.records, 2);
  assert.equal(hello.serverName, 'gw.pinhole.test');
  assert.ok(hello.extensions.includes(21));
});

test('a hello that declares more than the 64 KiB cap is refused at once, without waiting for it', () => {
  // Record header, then a ClientHello header declaring a 64 KiB body.
  assert.deepEqual(parseClientHello(Uint8Array.of(22, 3, 1, 0x40, 0, 1, 0x01, 0x00, 0x00)), { kind: 'invalid', reason: 'too-large' });
  // The largest hello that fits under the cap is still awaited.
  const fits = 0x10000 - 4 - 5;
  assert.deepEqual(parseClientHello(Uint8Array.of(22, 3, 1, 0x40, 0, 1, fits >> 16, (fits >> 8) & 0xff, fits & 0xff)), { kind: 'again' });
});

test('a hello in tiny records whose record stream passes the cap is refused, never again', () => {
  const message = withPadding(handshakeOf(fixture(FIXTURES.tlsNode)), 20_000);
  const stream = inRecords(message, 2); // 7 bytes of stream per 2 bytes of hello: ~70 KiB
  assert.ok(stream.length > CLIENT_HELLO_MAX_BYTES);
  assert.deepEqual(parseClientHello(stream.subarray(0, CLIENT_HELLO_MAX_BYTES)), { kind: 'invalid', reason: 'too-large' });
  assert.equal(parseClientHello(stream.subarray(0, CLIENT_HELLO_MAX_BYTES - 1)).kind, 'again');
});

test('a record longer than 16 KiB is refused', () => {
  assert.deepEqual(parseClientHello(Uint8Array.of(22, 3, 1, 0x40, 0x01, 1)), { kind: 'invalid', reason: 'record-too-long' });
});

const invalids: Array<{ story: string; bytes: Uint8Array; reason: string }> = [
  { story: 'an SSLv2-compatible hello', bytes: Uint8Array.of(0x80, 0x2e, 0x01, 0x03, 0x01), reason: 'sslv2' },
  { story: 'an SSH banner', bytes: Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'), reason: 'not-handshake' },
  { story: 'a TLS alert record', bytes: Uint8Array.of(21, 3, 3, 0, 2, 2, 40), reason: 'not-handshake' },
  { story: 'record version 2.x', bytes: Uint8Array.of(22, 2, 0, 0, 4), reason: 'bad-record-version' },
  { story: 'record version 3.5', bytes: Uint8Array.of(22, 3, 5, 0, 4), reason: 'bad-record-version' },
  { story: 'an empty handshake record', bytes: Uint8Array.of(22, 3, 1, 0, 0), reason: 'empty-record' },
  { story: 'a ServerHello', bytes: Uint8Array.of(22, 3, 3, 0, 4, 2, 0, 0, 0), reason: 'not-client-hello' },
  { story: 'a hello too short for its random', bytes: Uint8Array.of(22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0), reason: 'malformed' },
];
for (const { story, bytes, reason } of invalids) {
  test(`${story} is not a ClientHello (${reason})`, () => {
    const parsed = parseClientHello(bytes);
    assert.equal(parsed.kind, 'invalid');
    if (parsed.kind === 'invalid') assert.equal(parsed.reason, reason);
  });
}

test('an alert record between two fragments of a hello is refused', () => {
  const message = handshakeOf(fixture(FIXTURES.tlsCurl));
  const first = inRecords(message.subarray(0, 100), 100);
  const parsed = parseClientHello(Buffer.concat([first, Buffer.from([21, 3, 3, 0, 2, 2, 40])]));
  assert.equal(parsed.kind, 'invalid');
});

test('a hello with a broken extension length is malformed, not a crash', () => {
  const message = handshakeOf(fixture(FIXTURES.tls13OpenSsl));
  let malformed = 0;
  for (let at = 4; at < message.length; at++) {
    const broken = Buffer.from(message);
    broken[at] = broken[at]! ^ 0xff;
    const parsed = parseClientHello(inRecords(broken, 16384));
    assert.ok(parsed.kind === 'hello' || parsed.kind === 'invalid', `flip at ${at}: ${parsed.kind}`);
    if (parsed.kind === 'invalid' && parsed.reason === 'malformed') malformed++;
  }
  assert.ok(malformed > 20, `only ${malformed} flipped bytes were caught`);
});

test('a hello repeating an extension is malformed', () => {
  const message = handshakeOf(fixture(FIXTURES.tlsNode));
  // Append a second SNI extension (type 0) through the padding helper's length bookkeeping.
  const padded = withPadding(message, 0);
  padded[padded.length - 3] = 0; // turn the appended type 21 into type 0
  const parsed = parseClientHello(inRecords(padded, 16384));
  assert.deepEqual(parsed, { kind: 'invalid', reason: 'malformed', detail: 'extension 0 appears twice' });
});
