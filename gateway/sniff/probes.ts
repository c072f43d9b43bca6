/**
 * The protocol table, after sslh's probe.c: one row per protocol, each a pure probe over the bytes
 * seen so far. `classify` walks the whole table as sslh's loop does: the first probe (in table
 * order) that answers 'match' decides; a probe that answers 'again' (needs more bytes) does not
 * hold the others back, it only means that, when nothing matched, the answer is 'again' rather
 * than 'none'. Adding a protocol is one function and one row.
 */
import { CLIENT_HELLO_MAX_BYTES, parseClientHello, type ClientHello } from './client-hello.js';
import type { Probe, ProbeAnswer, ProbeResult } from './probe.js';

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** 'match' if bytes start with one of the prefixes, 'again' while they are a prefix of one. */
function prefixProbe(bytes: Uint8Array, prefixes: readonly Uint8Array[]): ProbeResult {
  let again = false;
  for (const prefix of prefixes) {
    const n = Math.min(bytes.length, prefix.length);
    let i = 0;
    while (i < n && bytes[i] === prefix[i]) i++;
    if (i < n) continue;
    if (n === prefix.length) return 'match';
    again = true;
  }
  return again ? 'again' : 'no';
}

export const tlsProbe: Probe = {
  name: 'tls',
  maxBytes: CLIENT_HELLO_MAX_BYTES,
  probe(bytes): ProbeAnswer {
    const parsed = parseClientHello(bytes);
    if (parsed.kind === 'hello') return { result: 'match', hello: parsed.hello };
    return parsed.kind === 'again' ? 'again' : 'no';
  },
};

const SSH_PREFIXES = [ascii('SSH-2.0-'), ascii('SSH-1.99-')];
export const sshProbe: Probe = {
  name: 'ssh',
  maxBytes: 9,
  probe: (bytes) => prefixProbe(bytes, SSH_PREFIXES),
};

export const HTTP2_PREFACE = ascii('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
export const http2Probe: Probe = {
  name: 'http2',
  maxBytes: HTTP2_PREFACE.length,
  probe: (bytes) => prefixProbe(bytes, [HTTP2_PREFACE]),
};

/** Longest HTTP/1.x request line we wait for (nginx's default large header buffer). */
export const HTTP_REQUEST_LINE_MAX = 8192;
const METHOD_MAX = 20;
const SP = 0x20;
const isMethodByte = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f; // A-Z - _
const isTargetByte = (c: number): boolean => c > 0x20 && c < 0x7f;
const HTTP1 = ascii('HTTP/1.');
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/**
 * An HTTP/1.x request line: METHOD SP request-target SP HTTP/1.d. Any upper-case method token is
 * accepted (WebDAV, CONNECT, ...), not only sslh's list, because the whole line is checked; the
 * probe matches as soon as "HTTP/1.d" is seen, without waiting for CRLF.
 */
export const httpProbe: Probe = {
  name: 'http',
  maxBytes: HTTP_REQUEST_LINE_MAX,
  probe(bytes): ProbeResult {
    const n = Math.min(bytes.length, HTTP_REQUEST_LINE_MAX);
    let i = 0;
    while (i < n && i <= METHOD_MAX && isMethodByte(bytes[i]!)) i++;
    if (i === n) return i <= METHOD_MAX && n < HTTP_REQUEST_LINE_MAX ? 'again' : 'no';
    if (i === 0 || i > METHOD_MAX || bytes[i] !== SP) return 'no';
    const targetStart = ++i;
    while (i < n && isTargetByte(bytes[i]!)) i++;
    if (i === n) return n < HTTP_REQUEST_LINE_MAX ? 'again' : 'no';
    if (i === targetStart || bytes[i] !== SP) return 'no';
    i++;
    for (let k = 0; k <= HTTP1.length; k++, i++) {
      if (i >= n) return n < HTTP_REQUEST_LINE_MAX ? 'again' : 'no';
      const ok = k < HTTP1.length ? bytes[i] === HTTP1[k] : isDigit(bytes[i]!);
      if (!ok) return 'no';
    }
    return 'match';
  },
};

/** OpenVPN over TCP: P_CONTROL_HARD_RESET_CLIENT_V2 (7) or _V3 (10, tls-crypt-v2), key id 0. */
const OPENVPN_MIN_PACKET = 14; // opcode + session id (8) + ack count + packet id (4)
const OPENVPN_MAX_PACKET = 2048; // tls-crypt-v2 carries the wrapped client key (at most 1 KiB)
export const openvpnProbe: Probe = {
  name: 'openvpn',
  maxBytes: 2 + OPENVPN_MAX_PACKET,
  probe(bytes): ProbeResult {
    if (bytes.length >= 1 && bytes[0]! > OPENVPN_MAX_PACKET >> 8) return 'no';
    if (bytes.length < 3) return 'again';
    const length = (bytes[0]! << 8) | bytes[1]!;
    if (length < OPENVPN_MIN_PACKET || length > OPENVPN_MAX_PACKET) return 'no';
    const opcode = bytes[2]! >> 3;
    if ((opcode !== 7 && opcode !== 10) || (bytes[2]! & 7) !== 0) return 'no';
    return bytes.length >= 2 + length ? 'match' : 'again';
  },
};

export interface CustomProbeSpec {
  readonly name: string;
  /** Where the payload starts (haproxy `payload(offset,length)`). Default 0. */
  readonly offset?: number;
  /** Match these exact bytes at `offset`. */
  readonly bytes?: Uint8Array;
  /** Or test this regex on `length` bytes at `offset`, decoded as latin1. */
  readonly regex?: RegExp;
  /** Bytes the regex looks at; required with `regex`. */
  readonly length?: number;
}

/**
 * A user-defined probe, like haproxy's `payload(offset,length) -m bin HEX` or `-m reg RE`: it
 * waits until offset+length bytes have arrived (answering 'no' early when a byte pattern already
 * differs), then matches or not.
 */
export function customProbe(spec: CustomProbeSpec): Probe {
  const offset = spec.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError('customProbe: offset must be a non-negative integer');
  if ((spec.bytes === undefined) === (spec.regex === undefined)) throw new RangeError('customProbe: give exactly one of bytes or regex');
  if (spec.bytes !== undefined) {
    const pattern = spec.bytes;
    if (pattern.length === 0) throw new RangeError('customProbe: bytes must not be empty');
    return {
      name: spec.name,
      maxBytes: offset + pattern.length,
      probe(bytes): ProbeResult {
        const n = Math.min(bytes.length, offset + pattern.length);
        for (let i = offset; i < n; i++) if (bytes[i] !== pattern[i - offset]) return 'no';
        return n === offset + pattern.length ? 'match' : 'again';
      },
    };
  }
  const length = spec.length ?? 0;
  if (!Number.isInteger(length) || length < 1) throw new RangeError('customProbe: regex needs a positive length');
  const regex = new RegExp(spec.regex!.source, spec.regex!.flags.replace(/[gy]/g, ''));
  return {
    name: spec.name,
    maxBytes: offset + length,
    probe(bytes): ProbeResult {
      if (bytes.length < offset + length) return 'again';
      let text = '';
      for (let i = offset; i < offset + length; i++) text += String.fromCharCode(bytes[i]!);
      return regex.test(text) ? 'match' : 'no';
    },
  };
}

/** The built-in table, in priority order. */
export const PROBES: readonly Probe[] = [tlsProbe, sshProbe, httpProbe, http2Probe, openvpnProbe];

export type Classification =
  | { readonly kind: 'match'; readonly name: string; readonly hello?: ClientHello }
  | { readonly kind: 'again' }
  | { readonly kind: 'none' };

const AGAIN: Classification = { kind: 'again' };
const NONE: Classification = { kind: 'none' };

export function classify(bytes: Uint8Array, probes: readonly Probe[] = PROBES): Classification {
  let again = false;
  for (const probe of probes) {
    const answer = probe.probe(bytes);
    if (answer === 'no') continue;
    if (answer === 'again') {
      again = true;
      continue;
    }
    return answer === 'match' ? { kind: 'match', name: probe.name } : { kind: 'match', name: probe.name, hello: answer.hello };
  }
  return again ? AGAIN : NONE;
}

/**
 * The TLS row for a listener that only terminates TLS (no routes): a TLS record starts with the
 * handshake content type 0x16, and that first byte is all such a listener needs to see.
 */
export const tlsRecordProbe: Probe = {
  name: 'tls',
  maxBytes: 1,
  probe: (bytes) => (bytes.length === 0 ? 'again' : bytes[0] === 0x16 ? 'match' : 'no'),
};

/** The first-byte table of a TLS-only listener. */
export const TLS_ONLY: readonly Probe[] = [tlsRecordProbe];

/**
 * The gateway's TLS-only listener: a connection starting with a TLS record is TLS's (as with
 * `tlsRecordProbe`), and its ClientHello is read whole first and handed on (the ticket's key name
 * chooses the TLS server); a hello this parser refuses is still TLS's, for OpenSSL to answer.
 */
export const tlsHelloProbe: Probe = {
  name: 'tls',
  maxBytes: CLIENT_HELLO_MAX_BYTES,
  probe(bytes): ProbeAnswer {
    if (bytes.length === 0) return 'again';
    if (bytes[0] !== 0x16) return 'no';
    const parsed = parseClientHello(bytes);
    if (parsed.kind === 'hello') return { result: 'match', hello: parsed.hello };
    return parsed.kind === 'again' ? 'again' : 'match';
  },
};

/** The table of the gateway's TLS-only listener (no routes configured). */
export const TLS_HELLO_ONLY: readonly Probe[] = [tlsHelloProbe];

/** After this many bytes the table has decided, whatever they are. */
export const tableMaxBytes = (probes: readonly Probe[]): number => Math.max(0, ...probes.map((p) => p.maxBytes));
