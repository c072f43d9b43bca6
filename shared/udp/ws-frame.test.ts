import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PinholeError } from '../errors.js';
import { MAX_UDP_PAYLOAD } from './capsule.js';
import { datagramOfMessage } from './ws-frame.js';

const malformed = (why: RegExp) => (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_UDP_MALFORMED' && why.test(err.message);

test('a BINARY message is exactly one datagram, the empty one included', () => {
  const data = Uint8Array.of(1, 2, 3);
  assert.equal(datagramOfMessage(data, true), data);
  assert.equal(datagramOfMessage(new Uint8Array(0), true).length, 0);
  assert.equal(datagramOfMessage(new Uint8Array(MAX_UDP_PAYLOAD), true).length, MAX_UDP_PAYLOAD);
});

test('a TEXT message or one larger than a UDP payload is a protocol error', () => {
  assert.throws(() => datagramOfMessage(Uint8Array.of(0x65, 0x6e, 0x64), false), malformed(/BINARY messages only/));
  assert.throws(() => datagramOfMessage(new Uint8Array(MAX_UDP_PAYLOAD + 1), true), malformed(/larger than 65527/));
});
