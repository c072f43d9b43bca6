/**
 * A WebSocket tunnel started early (issue 24): client frames by hand (RFC 6455 5.2) and the order
 * of bytes around the upgrade request and the gateway's answer.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { EarlyWsStream, maskedBinaryFrame } from './early-ws-stream.js';

/** Read one client frame back (RFC 6455 5.2): its first byte, whether masked, and the unmasked payload. */
const unframe = (frame: Buffer): { first: number; masked: boolean; payload: Buffer; size: number } => {
  let length = frame[1]! & 0x7f;
  let at = 2;
  if (length === 126) {
    length = frame.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    length = Number(frame.readBigUInt64BE(2));
    at = 10;
  }
  const mask = frame.subarray(at, at + 4);
  const payload = Buffer.from(frame.subarray(at + 4, at + 4 + length));
  for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i & 3]!;
  return { first: frame[0]!, masked: (frame[1]! & 0x80) !== 0, payload, size: at + 4 + length };
};

test('a client frame carries the payload masked, with the 7-bit, 16-bit and 64-bit lengths at their edges', () => {
  for (const length of [0, 1, 125, 126, 65_535, 65_536, 70_000]) {
    const payload = Buffer.alloc(length, 0xa5);
    const frame = maskedBinaryFrame(payload);
    const read = unframe(frame);
    assert.equal(read.first, 0x82, 'FIN and BINARY');
    assert.equal(read.masked, true);
    assert.equal(read.size, frame.length, `the frame is exactly its header and ${length} bytes`);
    assert.deepEqual(read.payload, payload);
  }
});

test('bytes written before the request is sent wait for it, then go as frames in order; nothing is read until the gateway accepted', async () => {
  const connection = new PassThrough();
  const stream = new EarlyWsStream(connection);
  stream.write(Buffer.from('first'));
  assert.equal(connection.readableLength, 0, 'nothing before the upgrade request');
  stream.requestSent();
  stream.write(Buffer.from('second'));
  await new Promise((resolve) => setImmediate(resolve));
  const written = connection.read() as Buffer;
  const one = unframe(written);
  assert.equal(one.payload.toString(), 'first');
  assert.equal(unframe(written.subarray(one.size)).payload.toString(), 'second');

  const received: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => received.push(chunk));
  const inner = new PassThrough();
  inner.write('from the destination');
  stream.end();
  assert.equal(inner.writableEnded, false, 'the end waits for the answer');
  stream.accepted(inner);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(Buffer.concat(received).toString(), 'from the destination');
  assert.equal(inner.writableEnded, true, 'the held end goes to the WebSocket once it is open');
});
