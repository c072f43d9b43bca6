import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REPLY_HEAD, parseConnectReply } from './connect-reply.js';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

const table: Array<[string, string, (r: ReturnType<typeof parseConnectReply>) => void]> = [
  ['Squid says the tunnel is up', 'HTTP/1.1 200 Connection established\r\n\r\n', (r) => assert.deepEqual(r, { kind: 'reply', status: 200, reason: 'Connection established', headers: {}, headLength: 39 })],
  ['HTTP/1.0 200 without a reason', 'HTTP/1.0 200\r\n\r\n', (r) => assert.equal(r.kind === 'reply' && r.status, 200)],
  [
    'Squid asks for credentials',
    'HTTP/1.1 407 Proxy Authentication Required\r\nServer: squid\r\nProxy-Authenticate: Basic realm="Proxy"\r\nContent-Length: 0\r\n\r\n',
    (r) => {
      assert.equal(r.kind, 'reply');
      if (r.kind !== 'reply') return;
      assert.equal(r.status, 407);
      assert.equal(r.headers['proxy-authenticate'], 'Basic realm="Proxy"');
      assert.equal(r.headers['content-length'], '0');
    },
  ],
  ['Pinhole refuses with a code', 'HTTP/1.1 403 Forbidden\r\nPinhole-Error: PINHOLE_DEST_FORBIDDEN\r\n\r\n', (r) => assert.equal(r.kind === 'reply' && r.headers['pinhole-error'], 'PINHOLE_DEST_FORBIDDEN')],
  ['repeated headers are joined', 'HTTP/1.1 407 x\r\nVia: a\r\nVia: b\r\n\r\n', (r) => assert.equal(r.kind === 'reply' && r.headers['via'], 'a, b')],
  ['not HTTP at all', 'SSH-2.0-OpenSSH\r\n', (r) => assert.equal(r.kind, 'invalid')],
  ['a garbled status line', 'HTTP/1.1 OK\r\n\r\n', (r) => assert.equal(r.kind, 'invalid')],
  ['HTTP/2 status line', 'HTTP/2 200\r\n\r\n', (r) => assert.equal(r.kind, 'invalid')],
  ['a header without a colon', 'HTTP/1.1 200 OK\r\nnonsense\r\n\r\n', (r) => assert.equal(r.kind, 'invalid')],
];

for (const [story, text, check] of table) test(`connect reply: ${story}`, () => check(parseConnectReply(b(text))));

test('connect reply: bytes after the head belong to the tunnel', () => {
  const head = 'HTTP/1.1 200 Connection established\r\n\r\n';
  const r = parseConnectReply(b(`${head}\x16\x03\x03`));
  assert.equal(r.kind === 'reply' && r.headLength, head.length);
});

test('connect reply: every truncation of a valid reply is incomplete, never a wrong answer', () => {
  for (const full of ['HTTP/1.1 200 Connection established\r\n\r\n', 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x"\r\n\r\n']) {
    for (let cut = 0; cut < full.length; cut++) {
      assert.deepEqual(parseConnectReply(b(full.slice(0, cut))), { kind: 'incomplete' }, `cut at ${cut}`);
    }
    assert.equal(parseConnectReply(b(full)).kind, 'reply');
  }
});

test('connect reply: a head that never ends is refused once it passes 16 KiB', () => {
  const r = parseConnectReply(b(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_REPLY_HEAD)}`));
  assert.equal(r.kind, 'invalid');
});
