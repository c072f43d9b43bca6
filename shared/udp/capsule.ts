/**
 * HTTP Datagrams carried as capsules (RFC 9297) for CONNECT-UDP (RFC 9298) over HTTP/2, where
 * there is no QUIC DATAGRAM frame: the request stream's DATA is a sequence of
 *   Capsule { Type (varint), Length (varint), Value (Length bytes) }
 * and a DATAGRAM capsule (type 0x00) holds { Context ID (varint), Payload }. Context ID 0 is a
 * whole UDP payload (RFC 9298 section 5); other context IDs are dropped, unknown capsule types are
 * skipped without being buffered (RFC 9297 section 3.2). Pure: bytes in, datagrams out.
 */
import { PinholeError } from '../errors.js';

/** Capsule type of an HTTP Datagram (RFC 9297 section 3.5). */
export const CAPSULE_DATAGRAM = 0x00;
/** Context ID of a UDP payload (RFC 9298 section 5). */
export const CONTEXT_UDP_PAYLOAD = 0;
/** The largest UDP payload (65535 minus the 8-byte UDP header). */
export const MAX_UDP_PAYLOAD = 65_527;

/** Bytes a QUIC variable-length integer needs (RFC 9000 section 16). */
export const varintLength = (value: number): 1 | 2 | 4 | 8 => {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** 62) throw new RangeError(`${value} is not a QUIC varint.`);
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x4000_0000) return 4;
  return 8;
};

/** Writes `value` at `offset`; returns the offset after it. */
export const writeVarint = (value: number, target: Uint8Array, offset: number): number => {
  const length = varintLength(value);
  if (length === 1) {
    target[offset] = value;
  } else if (length === 2) {
    target[offset] = 0x40 | (value >>> 8);
    target[offset + 1] = value & 0xff;
  } else if (length === 4) {
    target[offset] = 0x80 | (value >>> 24);
    target[offset + 1] = (value >>> 16) & 0xff;
    target[offset + 2] = (value >>> 8) & 0xff;
    target[offset + 3] = value & 0xff;
  } else {
    const high = Math.floor(value / 2 ** 32);
    const low = value - high * 2 ** 32;
    target[offset] = 0xc0 | (high >>> 24);
    target[offset + 1] = (high >>> 16) & 0xff;
    target[offset + 2] = (high >>> 8) & 0xff;
    target[offset + 3] = high & 0xff;
    target[offset + 4] = low >>> 24;
    target[offset + 5] = (low >>> 16) & 0xff;
    target[offset + 6] = (low >>> 8) & 0xff;
    target[offset + 7] = low & 0xff;
  }
  return offset + length;
};

export const encodeVarint = (value: number): Uint8Array => {
  const out = new Uint8Array(varintLength(value));
  writeVarint(value, out, 0);
  return out;
};

/** Reads a varint at `offset`; undefined when the bytes end first (need more). */
export const readVarint = (bytes: Uint8Array, offset: number): { value: number; next: number } | undefined => {
  if (offset >= bytes.length) return undefined;
  const first = bytes[offset]!;
  const length = 1 << (first >> 6);
  if (offset + length > bytes.length) return undefined;
  let value = first & 0x3f;
  // Multiplication, not shifts: an 8-byte varint exceeds 32 bits.
  for (let i = 1; i < length; i++) value = value * 256 + bytes[offset + i]!;
  return { value, next: offset + length };
};

/** One DATAGRAM capsule carrying a UDP payload (context ID 0): what the sender writes to the stream. */
export const encodeDatagramCapsule = (payload: Uint8Array): Uint8Array => {
  if (payload.length > MAX_UDP_PAYLOAD) throw new PinholeError('PINHOLE_UDP_MALFORMED', `A UDP datagram of ${payload.length} bytes is larger than ${MAX_UDP_PAYLOAD}.`);
  const valueLength = 1 + payload.length; // context ID 0 is one byte
  const out = new Uint8Array(1 + varintLength(valueLength) + valueLength);
  let at = writeVarint(CAPSULE_DATAGRAM, out, 0);
  at = writeVarint(valueLength, out, at);
  at = writeVarint(CONTEXT_UDP_PAYLOAD, out, at);
  out.set(payload, at);
  return out;
};

export interface CapsuleLimits {
  /** Largest DATAGRAM capsule value accepted (context ID + payload); a larger one is a protocol error. */
  readonly maxDatagramCapsule?: number;
}

export interface CapsuleCounters {
  /** UDP payloads delivered. */
  datagrams: number;
  /** DATAGRAM capsules with a context ID other than 0, dropped. */
  droppedContexts: number;
  /** Capsules of unknown types, skipped. */
  skippedCapsules: number;
}

/**
 * Incremental capsule reader for one stream: feed it DATA chunks as they arrive; it calls
 * `onDatagram` with each UDP payload (a view into its input or its own buffer: copy it to keep it
 * past the callback). Throws PinholeError PINHOLE_UDP_MALFORMED on a stream that cannot be valid;
 * after that the stream must be reset.
 */
export class CapsuleReader {
  readonly counters: CapsuleCounters = { datagrams: 0, droppedContexts: 0, skippedCapsules: 0 };
  private pending: Uint8Array = new Uint8Array(0);
  /** Bytes of an unknown capsule still to skip. */
  private skip = 0;
  private readonly maxDatagramCapsule: number;

  constructor(
    private readonly onDatagram: (payload: Uint8Array) => void,
    limits: CapsuleLimits = {},
  ) {
    this.maxDatagramCapsule = limits.maxDatagramCapsule ?? MAX_UDP_PAYLOAD + 8;
  }

  /** Bytes held waiting for the rest of a capsule (bounded by the DATAGRAM limit plus a header). */
  get buffered(): number {
    return this.pending.length;
  }

  /** True when the stream may end here: no capsule is cut in half. */
  get atBoundary(): boolean {
    return this.pending.length === 0 && this.skip === 0;
  }

  push(chunk: Uint8Array): void {
    let bytes = chunk;
    if (this.skip > 0) {
      const skipped = Math.min(this.skip, bytes.length);
      this.skip -= skipped;
      bytes = bytes.subarray(skipped);
      if (bytes.length === 0) return;
    }
    if (this.pending.length > 0) {
      const joined = new Uint8Array(this.pending.length + bytes.length);
      joined.set(this.pending, 0);
      joined.set(bytes, this.pending.length);
      bytes = joined;
    }
    let at = 0;
    while (at < bytes.length) {
      const type = readVarint(bytes, at);
      if (type === undefined) break;
      const length = readVarint(bytes, type.next);
      if (length === undefined) break;
      const start = length.next;
      if (type.value !== CAPSULE_DATAGRAM) {
        this.counters.skippedCapsules++;
        const available = bytes.length - start;
        if (length.value > available) {
          this.skip = length.value - available;
          at = bytes.length;
          break;
        }
        at = start + length.value;
        continue;
      }
      if (length.value > this.maxDatagramCapsule)
        throw new PinholeError('PINHOLE_UDP_MALFORMED', `A DATAGRAM capsule of ${length.value} bytes is larger than ${this.maxDatagramCapsule}.`);
      if (start + length.value > bytes.length) break;
      const end = start + length.value;
      const context = readVarint(bytes.subarray(0, end), start);
      if (context === undefined) throw new PinholeError('PINHOLE_UDP_MALFORMED', 'A DATAGRAM capsule is too short for its context ID.');
      if (context.value === CONTEXT_UDP_PAYLOAD) {
        this.counters.datagrams++;
        this.onDatagram(bytes.subarray(context.next, end));
      } else {
        this.counters.droppedContexts++;
      }
      at = end;
    }
    // Keep only the unfinished capsule; copy so a caller's chunk is never retained.
    this.pending = at >= bytes.length ? new Uint8Array(0) : bytes.slice(at);
  }
}
