import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PinholeError } from '../errors.js';
import { CapsuleReader, MAX_UDP_PAYLOAD, encodeDatagramCapsule, encodeVarint, readVarint, varintLength } from './capsule.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

// RFC 9000 appendix A.1's examples, plus the edges of every length.
const varints: Array<[number, string]> = [
  [0, '00'],
  [37, '25'],
  [63, '3f'],
  [64, '4040'],
  [15293, '7bbd'],
  [16383, '7fff'],
  [16384, '80004000'],
  [494878333, '9d7f3e7d'],
  [2 ** 30 - 1, 'bfffffff'],
  [2 ** 30, 'c000000040000000'],
  [2 ** 53 - 1, 'c01fffffffffffff'],
];

for (const [value, bytes] of varints) {
  test(`varint ${value} is ${bytes} and reads back, and every truncation asks for more`, () => {
    assert.equal(toHex(encodeVarint(value)), bytes);
    assert.equal(varintLength(value), bytes.length / 2);
    const encoded = hex(bytes);
    assert.deepEqual(readVarint(encoded, 0), { value, next: encoded.length });
    for (let cut = 0; cut < encoded.length; cut++) assert.equal(readVarint(encoded.subarray(0, cut), 0), undefined, `cut at ${cut}`);
  });
}

test("RFC 9000's 8-byte example reads as its value (to a double's precision) and a non-minimal 2-byte 37 reads as 37", () => {
  assert.equal(readVarint(hex('c2197c5eff14e88c'), 0)?.value, Number('151288809941952652'));
  assert.deepEqual(readVarint(hex('4025'), 0), { value: 37, next: 2 });
});

test('values that are not varints are refused', () => {
  for (const bad of [-1, 1.5, 2 ** 62, Number.NaN]) assert.throws(() => varintLength(bad), RangeError);
});

test('varints round-trip for any safe integer (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (value) => {
      const bytes = encodeVarint(value);
      assert.deepEqual(readVarint(bytes, 0), { value, next: bytes.length });
    }),
  );
});

const collect = (limits?: { maxDatagramCapsule?: number }): { reader: CapsuleReader; got: string[] } => {
  const got: string[] = [];
  return { reader: new CapsuleReader((payload) => got.push(toHex(payload)), limits), got };
};

test('a DATAGRAM capsule is type 0, length, context ID 0, payload', () => {
  assert.equal(toHex(encodeDatagramCapsule(hex('cafe'))), '000300cafe');
  assert.equal(toHex(encodeDatagramCapsule(new Uint8Array(0))), '000100');
  const big = encodeDatagramCapsule(new Uint8Array(100));
  assert.equal(toHex(big.subarray(0, 4)), '00406500'); // length 101 needs two bytes
});

test('a datagram larger than a UDP payload cannot be encoded', () => {
  assert.throws(() => encodeDatagramCapsule(new Uint8Array(MAX_UDP_PAYLOAD + 1)), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_UDP_MALFORMED');
  assert.equal(encodeDatagramCapsule(new Uint8Array(MAX_UDP_PAYLOAD)).length, 1 + 4 + 1 + MAX_UDP_PAYLOAD);
});

test('every truncation point of a capsule delivers nothing until the capsule is whole, then exactly it', () => {
  const capsule = encodeDatagramCapsule(hex('00112233445566778899'));
  for (let cut = 0; cut <= capsule.length; cut++) {
    const { reader, got } = collect();
    reader.push(capsule.subarray(0, cut));
    assert.deepEqual(got, cut === capsule.length ? ['00112233445566778899'] : [], `cut at ${cut}`);
    assert.equal(reader.atBoundary, cut === 0 || cut === capsule.length);
    reader.push(capsule.subarray(cut));
    assert.deepEqual(got, ['00112233445566778899'], `rest after ${cut}`);
    assert.ok(reader.atBoundary);
  }
});

test('unknown capsules are skipped, even across chunks, and datagrams around them still arrive', () => {
  const unknown = hex('4029 05 0102030405'); // type 0x29 (a GREASE-like value), 5 bytes
  const stream = Buffer.concat([encodeDatagramCapsule(hex('aa')), unknown, encodeDatagramCapsule(hex('bb'))]);
  for (let chunk = 1; chunk <= stream.length; chunk++) {
    const { reader, got } = collect();
    for (let at = 0; at < stream.length; at += chunk) reader.push(stream.subarray(at, at + chunk));
    assert.deepEqual(got, ['aa', 'bb'], `chunks of ${chunk}`);
    assert.equal(reader.counters.skippedCapsules, 1);
    assert.ok(reader.atBoundary);
  }
});

test('an unknown capsule is skipped without being buffered, however large it says it is', () => {
  const { reader, got } = collect();
  reader.push(hex('17 80100000')); // type 0x17, length 1 MiB
  for (let i = 0; i < 16; i++) {
    reader.push(new Uint8Array(65536));
    assert.equal(reader.buffered, 0);
  }
  reader.push(encodeDatagramCapsule(hex('01')));
  assert.deepEqual(got, ['01']);
});

test('DATAGRAM capsules with another context ID are dropped (RFC 9298: unknown contexts)', () => {
  const { reader, got } = collect();
  reader.push(hex('0003 02 abcd'));
  reader.push(hex('0003 00 abcd'));
  assert.deepEqual(got, ['abcd']);
  assert.equal(reader.counters.droppedContexts, 1);
});

const malformed: Array<[string, string, RegExp]> = [
  ['an empty DATAGRAM capsule has no context ID', '0000', /too short for its context ID/],
  ['a context ID running past the capsule', '0001 40', /too short/],
  ['a DATAGRAM capsule over the limit', `00 80010000`, /larger than/],
];
for (const [name, bytes, why] of malformed) {
  test(`malformed: ${name}`, () => {
    const { reader } = collect();
    assert.throws(
      () => reader.push(hex(bytes)),
      (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_UDP_MALFORMED' && why.test(err.message),
    );
  });
}

test('the DATAGRAM limit is configurable and refuses before the payload arrives', () => {
  const { reader } = collect({ maxDatagramCapsule: 10 });
  assert.throws(() => reader.push(hex('000b')), /larger than 10/);
});

test('any sequence of datagrams split anywhere arrives whole and in order (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }),
      (payloads, sizes) => {
        const stream = Buffer.concat(payloads.map(encodeDatagramCapsule));
        const { reader, got } = collect();
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const size = sizes[i % sizes.length]!;
          reader.push(stream.subarray(at, at + size));
          at += size;
        }
        assert.deepEqual(got, payloads.map(toHex));
        assert.ok(reader.atBoundary);
      },
    ),
    { numRuns: 200 },
  );
});
