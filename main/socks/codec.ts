/**
 * SOCKS5 messages (RFC 1928) and the username/password sub-negotiation (RFC 1929), as pure
 * functions over bytes. A parser answers `undefined` when it needs more bytes, a value with the
 * number of bytes it used, or throws PinholeError (PINHOLE_SOCKS_MALFORMED, or
 * PINHOLE_SOCKS_UNSUPPORTED for an address type it cannot size). Domain names stay names: nothing
 * here resolves anything.
 */
import { PinholeError } from '../../shared/errors.js';
import { formatIPv6 } from '../../shared/ip.js';
import { parseIPv4, parseIPv6 } from '../../shared/rules.js';

export const SOCKS_VERSION = 0x05;
export const USERPASS_VERSION = 0x01;

export const METHOD = { noAuth: 0x00, userPass: 0x02, noAcceptable: 0xff } as const;
export const COMMAND = { connect: 0x01, bind: 0x02, udpAssociate: 0x03 } as const;
export const ATYP = { ipv4: 0x01, domain: 0x03, ipv6: 0x04 } as const;
/** Reply field values (RFC 1928 section 6). */
export const REPLY = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;
export type ReplyCode = (typeof REPLY)[keyof typeof REPLY];

export type AddressType = 'ipv4' | 'ipv6' | 'domain';
export interface SocksAddress {
  readonly type: AddressType;
  /** Dotted IPv4, RFC 5952 IPv6 (no brackets), or the domain name as sent. */
  readonly host: string;
  readonly port: number;
}

export interface Parsed<T> {
  readonly value: T;
  /** Bytes this message took. */
  readonly consumed: number;
}

const malformed = (why: string): PinholeError => new PinholeError('PINHOLE_SOCKS_MALFORMED', `The SOCKS5 message is malformed: ${why}.`);

// ---------------------------------------------------------------- greeting and method selection

/** Client greeting: VER NMETHODS METHODS... */
export function parseGreeting(bytes: Uint8Array): Parsed<{ methods: readonly number[] }> | undefined {
  if (bytes.length < 1) return undefined;
  if (bytes[0] !== SOCKS_VERSION) throw malformed(`version ${bytes[0]} is not 5`);
  if (bytes.length < 2) return undefined;
  const count = bytes[1]!;
  if (count === 0) throw malformed('the greeting offers no authentication method');
  if (bytes.length < 2 + count) return undefined;
  return { value: { methods: Array.from(bytes.subarray(2, 2 + count)) }, consumed: 2 + count };
}

export const encodeGreeting = (methods: readonly number[]): Uint8Array => Uint8Array.of(SOCKS_VERSION, methods.length, ...methods);
export const encodeMethodSelection = (method: number): Uint8Array => Uint8Array.of(SOCKS_VERSION, method);

// ---------------------------------------------------------------- RFC 1929

export interface UserPass {
  readonly user: string;
  readonly password: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const decodeText = (bytes: Uint8Array, what: string): string => {
  try {
    return utf8.decode(bytes);
  } catch {
    throw malformed(`the ${what} is not UTF-8`);
  }
};

/** Username/password request: VER(1) ULEN UNAME PLEN PASSWD. An empty password is accepted (the check then fails). */
export function parseUserPass(bytes: Uint8Array): Parsed<UserPass> | undefined {
  if (bytes.length < 1) return undefined;
  if (bytes[0] !== USERPASS_VERSION) throw malformed(`the username/password version ${bytes[0]} is not 1`);
  if (bytes.length < 2) return undefined;
  const userLength = bytes[1]!;
  if (userLength === 0) throw malformed('the user name is empty');
  if (bytes.length < 3 + userLength) return undefined;
  const passwordLength = bytes[2 + userLength]!;
  const end = 3 + userLength + passwordLength;
  if (bytes.length < end) return undefined;
  return {
    value: { user: decodeText(bytes.subarray(2, 2 + userLength), 'user name'), password: decodeText(bytes.subarray(3 + userLength, end), 'password') },
    consumed: end,
  };
}

export function encodeUserPass({ user, password }: UserPass): Uint8Array {
  const u = new TextEncoder().encode(user);
  const p = new TextEncoder().encode(password);
  if (u.length < 1 || u.length > 255 || p.length > 255) throw new RangeError('RFC 1929 user names are 1-255 bytes and passwords 0-255 bytes.');
  return Uint8Array.of(USERPASS_VERSION, u.length, ...u, p.length, ...p);
}

/** Sub-negotiation status: 0 success, anything else failure (the server then closes). */
export const encodeUserPassStatus = (ok: boolean): Uint8Array => Uint8Array.of(USERPASS_VERSION, ok ? 0x00 : 0x01);

// ---------------------------------------------------------------- addresses

/** ATYP ADDR PORT from `at`; undefined when more bytes are needed. */
function parseAddress(bytes: Uint8Array, at: number): { address: SocksAddress; next: number } | undefined {
  if (bytes.length <= at) return undefined;
  const atyp = bytes[at]!;
  let host: string;
  let type: AddressType;
  let next: number;
  if (atyp === ATYP.ipv4) {
    next = at + 1 + 4;
    if (bytes.length < next + 2) return undefined;
    host = Array.from(bytes.subarray(at + 1, next)).join('.');
    type = 'ipv4';
  } else if (atyp === ATYP.ipv6) {
    next = at + 1 + 16;
    if (bytes.length < next + 2) return undefined;
    host = formatIPv6(bytes, at + 1);
    type = 'ipv6';
  } else if (atyp === ATYP.domain) {
    if (bytes.length <= at + 1) return undefined;
    const length = bytes[at + 1]!;
    if (length === 0) throw malformed('the domain name is empty');
    next = at + 2 + length;
    if (bytes.length < next + 2) return undefined;
    host = decodeText(bytes.subarray(at + 2, next), 'domain name');
    if (/[\s\p{Cc}/]/u.test(host)) throw malformed('the domain name has spaces or control characters');
    type = 'domain';
  } else {
    throw new PinholeError('PINHOLE_SOCKS_UNSUPPORTED', `SOCKS5 address type ${atyp} is not supported.`, { details: { atyp } });
  }
  const port = (bytes[next]! << 8) | bytes[next + 1]!;
  return { address: { type, host, port }, next: next + 2 };
}

/** IPv4 dotted text to 4 bytes; undefined when it is not one. */
function ipv4Bytes(text: string): number[] | undefined {
  const value = parseIPv4(text);
  return value === undefined ? undefined : [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/** IPv6 text (optionally bracketed, with an embedded IPv4 tail) to 16 bytes; undefined when it is not one. */
export function ipv6Bytes(text: string): number[] | undefined {
  const value = parseIPv6(text.replace(/^\[(.*)\]$/, '$1'));
  if (value === undefined) return undefined;
  return Array.from({ length: 16 }, (_, i) => Number((value >> BigInt(8 * (15 - i))) & 0xffn));
}

/** ATYP ADDR PORT for a host (an IP literal becomes IPv4/IPv6, anything else a domain name). */
export function encodeAddress(host: string, port: number): Uint8Array {
  const v4 = ipv4Bytes(host);
  if (v4) return Uint8Array.of(ATYP.ipv4, ...v4, port >> 8, port & 0xff);
  const v6 = host.includes(':') ? ipv6Bytes(host) : undefined;
  if (v6) return Uint8Array.of(ATYP.ipv6, ...v6, port >> 8, port & 0xff);
  const name = new TextEncoder().encode(host);
  if (name.length < 1 || name.length > 255) throw new RangeError('A SOCKS5 domain name is 1-255 bytes.');
  return Uint8Array.of(ATYP.domain, name.length, ...name, port >> 8, port & 0xff);
}

// ---------------------------------------------------------------- request and reply

export interface SocksRequest {
  /** COMMAND value as sent (the server answers 0x07 to anything it does not do). */
  readonly command: number;
  readonly address: SocksAddress;
}

/** Request: VER CMD RSV ATYP DST.ADDR DST.PORT. RSV is not checked (clients in the wild send junk). */
export function parseRequest(bytes: Uint8Array): Parsed<SocksRequest> | undefined {
  if (bytes.length < 1) return undefined;
  if (bytes[0] !== SOCKS_VERSION) throw malformed(`version ${bytes[0]} is not 5`);
  if (bytes.length < 4) return undefined;
  const parsed = parseAddress(bytes, 3);
  if (!parsed) return undefined;
  return { value: { command: bytes[1]!, address: parsed.address }, consumed: parsed.next };
}

export const encodeRequest = (command: number, host: string, port: number): Uint8Array =>
  Uint8Array.of(SOCKS_VERSION, command, 0x00, ...encodeAddress(host, port));

/** Reply: VER REP RSV ATYP BND.ADDR BND.PORT (0.0.0.0:0 when the bound address means nothing). */
export const encodeReply = (code: ReplyCode, bound: { host: string; port: number } = { host: '0.0.0.0', port: 0 }): Uint8Array =>
  Uint8Array.of(SOCKS_VERSION, code, 0x00, ...encodeAddress(bound.host, bound.port));

export const parseReply = (bytes: Uint8Array): Parsed<{ code: number; bound: SocksAddress }> | undefined => {
  const request = parseRequest(bytes);
  return request && { value: { code: request.value.command, bound: request.value.address }, consumed: request.consumed };
};

// ---------------------------------------------------------------- UDP ASSOCIATE datagrams

export interface SocksUdpDatagram {
  /** 0 for a whole datagram; fragments (1-127, high bit = last) are not supported and get dropped by the relay. */
  readonly fragment: number;
  readonly address: SocksAddress;
  readonly payload: Uint8Array;
}

/** One relay datagram: RSV(2) FRAG ATYP DST.ADDR DST.PORT DATA. The datagram is whole, so short means malformed. */
export function parseUdpDatagram(bytes: Uint8Array): SocksUdpDatagram {
  if (bytes.length < 4) throw malformed('the UDP header is cut short');
  const parsed = parseAddress(bytes, 3);
  if (!parsed) throw malformed('the UDP header is cut short');
  return { fragment: bytes[2]!, address: parsed.address, payload: bytes.subarray(parsed.next) };
}

export function encodeUdpDatagram(host: string, port: number, payload: Uint8Array): Uint8Array {
  const address = encodeAddress(host, port);
  const out = new Uint8Array(3 + address.length + payload.length);
  out.set(address, 3);
  out.set(payload, 3 + address.length);
  return out;
}
