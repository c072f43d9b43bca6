/**
 * PROXY protocol (haproxy's proxy-protocol.txt) v1 and v2: a pure parser over the bytes a trusted
 * load balancer has sent so far, and encoders for the headers we send to backends so they see the
 * real client address. TLVs in v2 are skipped (their bytes are counted in `length`).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { PinholeError } from '../../shared/errors.js';
import { formatIPv6 } from '../../shared/ip.js';

export const PROXY_V1_MAX = 107;
/** Longest v2 header we accept (16-byte preamble + addresses + TLVs); cloud balancers stay far below. */
export const PROXY_V2_MAX = 4096;
export const PROXY_V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
const V1_PREFIX = Uint8Array.from('PROXY ', (c) => c.charCodeAt(0));

/** An address and port; for AF_UNIX the address is the socket path and the port is 0. */
export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** Header bytes to strip before the client's own bytes. */
  readonly length: number;
  /** 'local': the balancer speaking for itself (health check); use the socket's own addresses. */
  readonly command: 'proxy' | 'local';
  readonly family: 'tcp4' | 'tcp6' | 'unix' | 'unknown';
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
}

export type ProxyParse =
  | { readonly kind: 'header'; readonly header: ProxyHeader }
  | { readonly kind: 'again' }
  | { readonly kind: 'invalid'; readonly reason: string };

const AGAIN = { kind: 'again' } as const;
const invalid = (reason: string): ProxyParse => ({ kind: 'invalid', reason });

/** Parse a PROXY v1 or v2 header at the start of `bytes`. Never throws; 'again' only below the max. */
export function parseProxyHeader(bytes: Uint8Array): ProxyParse {
  if (bytes.length === 0) return AGAIN;
  if (bytes[0] === 0x0d) return parseV2(bytes);
  if (bytes[0] === 0x50) return parseV1(bytes);
  return invalid('no PROXY protocol signature');
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): 'yes' | 'partial' | 'no' {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return 'no';
  return n === prefix.length ? 'yes' : 'partial';
}

function parseV1(bytes: Uint8Array): ProxyParse {
  const prefix = startsWith(bytes, V1_PREFIX);
  if (prefix === 'no') return invalid('no PROXY protocol signature');
  if (prefix === 'partial') return AGAIN;
  const n = Math.min(bytes.length, PROXY_V1_MAX);
  let end = -1;
  for (let i = V1_PREFIX.length; i < n; i++) {
    const c = bytes[i]!;
    if (c === 0x0d) {
      if (i + 1 >= n) return n < PROXY_V1_MAX ? AGAIN : invalid('v1 header longer than 107 bytes');
      if (bytes[i + 1] !== 0x0a) return invalid('v1 header has CR without LF');
      end = i;
      break;
    }
    if (c < 0x20 || c > 0x7e) return invalid('v1 header has a byte outside printable ASCII');
  }
  if (end < 0) return n < PROXY_V1_MAX ? AGAIN : invalid('v1 header longer than 107 bytes');
  let line = '';
  for (let i = V1_PREFIX.length; i < end; i++) line += String.fromCharCode(bytes[i]!);
  const length = end + 2;
  const parts = line.split(' ');
  if (parts[0] === 'UNKNOWN') return { kind: 'header', header: { version: 1, length, command: 'proxy', family: 'unknown' } };
  if (parts.length !== 5) return invalid('v1 header does not have five fields');
  const [proto, src, dst, sport, dport] = parts as [string, string, string, string, string];
  const family = proto === 'TCP4' ? 'tcp4' : proto === 'TCP6' ? 'tcp6' : undefined;
  if (family === undefined) return invalid(`v1 protocol ${proto} is not TCP4, TCP6 or UNKNOWN`);
  const isIP = family === 'tcp4' ? isIPv4 : isIPv6;
  if (!isIP(src) || !isIP(dst)) return invalid(`v1 addresses are not ${proto} addresses`);
  const sourcePort = v1Port(sport);
  const destinationPort = v1Port(dport);
  if (sourcePort === undefined || destinationPort === undefined) return invalid('v1 port is not a number from 0 to 65535');
  return {
    kind: 'header',
    header: {
      version: 1,
      length,
      command: 'proxy',
      family,
      source: { address: normaliseIp(src), port: sourcePort },
      destination: { address: normaliseIp(dst), port: destinationPort },
    },
  };
}

function v1Port(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function parseV2(bytes: Uint8Array): ProxyParse {
  const signature = startsWith(bytes, PROXY_V2_SIGNATURE);
  if (signature === 'no') return invalid('no PROXY protocol signature');
  if (signature === 'partial' || bytes.length < 16) {
    if (bytes.length > 12 && bytes[12]! >> 4 !== 2) return invalid('v2 version nibble is not 2');
    return AGAIN;
  }
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) return invalid('v2 version nibble is not 2');
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`v2 command ${command} is unknown`);
  const familyByte = bytes[13]!;
  const length = 16 + ((bytes[14]! << 8) | bytes[15]!);
  if (length > PROXY_V2_MAX) return invalid(`v2 header longer than ${PROXY_V2_MAX} bytes`);
  if (bytes.length < length) return AGAIN;
  if (command === 0) return { kind: 'header', header: { version: 2, length, command: 'local', family: 'unknown' } };
  const addressFamily = familyByte >> 4;
  const transport = familyByte & 0x0f;
  if (addressFamily === 0 || transport === 0) return { kind: 'header', header: { version: 2, length, command: 'proxy', family: 'unknown' } };
  if (transport > 2) return invalid(`v2 transport ${transport} is unknown`);
  const at = 16;
  if (addressFamily === 1) {
    if (length < at + 12) return invalid('v2 TCP4 address block is short');
    return header2(length, 'tcp4', ipv4(bytes, at), ipv4(bytes, at + 4), u16(bytes, at + 8), u16(bytes, at + 10));
  }
  if (addressFamily === 2) {
    if (length < at + 36) return invalid('v2 TCP6 address block is short');
    return header2(length, 'tcp6', formatIPv6(bytes, at), formatIPv6(bytes, at + 16), u16(bytes, at + 32), u16(bytes, at + 34));
  }
  if (addressFamily === 3) {
    if (length < at + 216) return invalid('v2 UNIX address block is short');
    return header2(length, 'unix', unixPath(bytes, at), unixPath(bytes, at + 108), 0, 0);
  }
  return invalid(`v2 address family ${addressFamily} is unknown`);
}

function header2(length: number, family: ProxyHeader['family'], src: string, dst: string, sport: number, dport: number): ProxyParse {
  return {
    kind: 'header',
    header: {
      version: 2,
      length,
      command: 'proxy',
      family,
      source: { address: family === 'unix' ? src : normaliseIp(src), port: sport },
      destination: { address: family === 'unix' ? dst : normaliseIp(dst), port: dport },
    },
  };
}

const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const ipv4 = (b: Uint8Array, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

function unixPath(b: Uint8Array, at: number): string {
  let s = '';
  for (let i = at; i < at + 108 && b[i] !== 0; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** 16 bytes of an IPv6 address in any valid text form (including an embedded IPv4 tail). */
function ipv6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let address = text;
  const tail: number[] = [];
  if (address.includes('.')) {
    const cut = address.lastIndexOf(':');
    for (const part of address.slice(cut + 1).split('.')) tail.push(Number(part));
    address = `${address.slice(0, cut + 1)}0:0`;
  }
  const [head, rest] = address.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** "::ffff:1.2.3.4" (what a dual-stack Node socket reports) becomes "1.2.3.4". */
export function normaliseIp(text: string): string {
  const address = text.replace(/%.*$/, ''); // a zone id ("fe80::1%eth0") means nothing to the far side
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  return isIPv6(address) ? formatIPv6(ipv6Bytes(address)) : address;
}

type Family = 'tcp4' | 'tcp6';
function familyOf(source: ProxyEndpoint, destination: ProxyEndpoint): { family: Family; src: string; dst: string } {
  const src = normaliseIp(source.address);
  const dst = normaliseIp(destination.address);
  for (const e of [source, destination]) {
    if (!Number.isInteger(e.port) || e.port < 0 || e.port > 65535) throw new PinholeError('PINHOLE_INTERNAL', `PROXY header port ${e.port} is out of range`);
  }
  for (const a of [src, dst]) {
    if (!isIPv4(a) && !isIPv6(a)) throw new PinholeError('PINHOLE_INTERNAL', `PROXY header address ${a} is not an IP address`);
  }
  if (isIPv4(src) && isIPv4(dst)) return { family: 'tcp4', src, dst };
  // Mixed families: speak IPv6, with IPv4 addresses mapped.
  const six = (a: string): string => (isIPv4(a) ? `::ffff:${a}` : a);
  return { family: 'tcp6', src: six(src), dst: six(dst) };
}

/** "PROXY TCP4 src dst sport dport\r\n" for a backend that reads PROXY v1. */
export function encodeProxyV1(source: ProxyEndpoint, destination: ProxyEndpoint): Uint8Array {
  const { family, src, dst } = familyOf(source, destination);
  const line = `PROXY ${family.toUpperCase()} ${src} ${dst} ${source.port} ${destination.port}\r\n`;
  return Uint8Array.from(line, (c) => c.charCodeAt(0));
}

/** A binary PROXY v2 header (PROXY command over TCP, or LOCAL with no addresses). */
export function encodeProxyV2(source: ProxyEndpoint, destination: ProxyEndpoint, options: { command?: 'proxy' | 'local' } = {}): Uint8Array {
  if (options.command === 'local') {
    const out = new Uint8Array(16);
    out.set(PROXY_V2_SIGNATURE);
    out[12] = 0x20;
    return out;
  }
  const { family, src, dst } = familyOf(source, destination);
  const addressLength = family === 'tcp4' ? 12 : 36;
  const out = new Uint8Array(16 + addressLength);
  out.set(PROXY_V2_SIGNATURE);
  out[12] = 0x21;
  out[13] = family === 'tcp4' ? 0x11 : 0x21;
  out[15] = addressLength;
  if (family === 'tcp4') {
    out.set(src.split('.').map(Number), 16);
    out.set(dst.split('.').map(Number), 20);
  } else {
    out.set(ipv6Bytes(src), 16);
    out.set(ipv6Bytes(dst), 32);
  }
  const portAt = 16 + addressLength - 4;
  out[portAt] = source.port >> 8;
  out[portAt + 1] = source.port & 0xff;
  out[portAt + 2] = destination.port >> 8;
  out[portAt + 3] = destination.port & 0xff;
  return out;
}
