/**
 * Which IP addresses the gateway never reaches by default, decided on the address's value, never
 * on its text: every literal is parsed (ipaddr.js) into its 16 or 4 bytes first, so
 * `64:ff9b::a00:35`, `64:ff9b:0:0:0:0:a00:35`, `0064:FF9B::10.0.0.53` are one address and get one
 * answer. An IPv6 form that carries an IPv4 address (mapped, compatible, translated, NAT64, 6to4,
 * Teredo) is refused when that IPv4 address is. Shared by every door, TCP and UDP
 * (gateway/policy.ts), so no door can have its own idea of "private".
 */
import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

type Ranges<T> = ReadonlyArray<readonly [name: string, range: [T, number]]>;

const v4 = (name: string, cidr: string): readonly [string, [ipaddr.IPv4, number]] => [name, ipaddr.IPv4.parseCIDR(cidr)];
const v6 = (name: string, cidr: string): readonly [string, [ipaddr.IPv6, number]] => [name, ipaddr.IPv6.parseCIDR(cidr)];

/** IPv4 ranges refused by default (RFC 6890's special-purpose registry, minus the documentation nets, which stay reachable as before). */
const IPV4_REFUSED: Ranges<ipaddr.IPv4> = [
  v4('"this network"', '0.0.0.0/8'),
  v4('private', '10.0.0.0/8'),
  v4('shared address space (CGNAT)', '100.64.0.0/10'),
  v4('loopback', '127.0.0.0/8'),
  v4('link-local (cloud metadata)', '169.254.0.0/16'),
  v4('private', '172.16.0.0/12'),
  v4('IETF protocol assignments', '192.0.0.0/24'),
  v4('private', '192.168.0.0/16'),
  v4('benchmarking', '198.18.0.0/15'),
  v4('multicast', '224.0.0.0/4'),
  v4('reserved and broadcast', '240.0.0.0/4'),
];

/** IPv6 ranges refused whatever they might carry. */
const IPV6_REFUSED: Ranges<ipaddr.IPv6> = [
  v6('unspecified', '::/128'),
  v6('loopback', '::1/128'),
  v6('unique-local (cloud metadata included)', 'fc00::/7'),
  v6('link-local', 'fe80::/10'),
  v6('site-local', 'fec0::/10'),
  v6('multicast', 'ff00::/8'),
  // Local-use NAT64 (RFC 8215): the operator's own prefix length, so where the IPv4 sits is unknown.
  v6('local-use NAT64', '64:ff9b:1::/48'),
  v6('documentation', '2001:db8::/32'),
];

const group = (a: ipaddr.IPv6, i: number): number => a.parts[i] ?? 0;
const ipv4Of = (high: number, low: number): ipaddr.IPv4 => new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]);
const lastIpv4 = (a: ipaddr.IPv6): ipaddr.IPv4 => ipv4Of(group(a, 6), group(a, 7));

/** The IPv6 forms that carry IPv4 addresses, and where each carries them. */
const EMBEDDING: ReadonlyArray<readonly [name: string, range: [ipaddr.IPv6, number], carried: (a: ipaddr.IPv6) => ipaddr.IPv4[]]> = [
  ['IPv4-mapped', ipaddr.IPv6.parseCIDR('::ffff:0:0/96'), (a) => [lastIpv4(a)]],
  ['IPv4-translated', ipaddr.IPv6.parseCIDR('::ffff:0:0:0/96'), (a) => [lastIpv4(a)]],
  ['IPv4-compatible', ipaddr.IPv6.parseCIDR('::/96'), (a) => [lastIpv4(a)]],
  ['NAT64', ipaddr.IPv6.parseCIDR('64:ff9b::/96'), (a) => [lastIpv4(a)]],
  ['6to4', ipaddr.IPv6.parseCIDR('2002::/16'), (a) => [ipv4Of(group(a, 1), group(a, 2))]],
  // Teredo (RFC 4380): the server in bits 32-63, the client's address inverted in the last 32 bits.
  ['Teredo', ipaddr.IPv6.parseCIDR('2001::/32'), (a) => [ipv4Of(group(a, 2), group(a, 3)), ipv4Of(~group(a, 6) & 0xffff, ~group(a, 7) & 0xffff)]],
];

/**
 * An IP literal read as the kernel reads it, or undefined for anything that is not one (a host
 * name, to be resolved; resolved answers are checked in their turn). Only what Node itself takes
 * for a literal (net.isIP, the test net.connect and dgram apply) is a literal: ipaddr.js alone
 * would also read "127.1" or "0x7f.0.0.1", which Node hands to the resolver instead.
 */
export function parseIpLiteral(text: string): IpAddress | undefined {
  try {
    return parseLiteral(text);
  } catch {
    return undefined; // Node's reading and ipaddr.js's disagree: not a literal this module can vouch for
  }
}

function parseLiteral(text: string): IpAddress | undefined {
  const family = isIP(text);
  if (family === 4) return ipaddr.IPv4.parse(text);
  if (family !== 6) return undefined;
  // ipaddr.js reads "::a.b.c.d" as IPv4-mapped (::ffff:a.b.c.d); RFC 4291 and the kernel read it as
  // IPv4-compatible (::a.b.c.d). So a dotted tail becomes its two hex groups before ipaddr.js sees it.
  const zoneAt = text.indexOf('%');
  const address = zoneAt < 0 ? text : text.slice(0, zoneAt);
  const zone = zoneAt < 0 ? '' : text.slice(zoneAt);
  const tailAt = address.lastIndexOf(':');
  const tail = address.slice(tailAt + 1);
  if (!tail.includes('.')) return ipaddr.IPv6.parse(text);
  const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(tail).octets;
  return ipaddr.IPv6.parse(`${address.slice(0, tailAt + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}${zone}`);
}

/** The canonical text of an address (RFC 5952 for IPv6, zone kept), the one the gateway connects to. */
export const canonicalText = (address: IpAddress): string => address.toString();

const matching = <T extends IpAddress>(address: T, ranges: Ranges<T>): string | undefined => ranges.find(([, range]) => address.match(range))?.[0];

/**
 * Why the gateway refuses to reach this address by default ("loopback", "NAT64 of 10.0.0.53
 * (private)"), or undefined when it may. Pure.
 */
export function refusedRange(address: IpAddress): string | undefined {
  if (address instanceof ipaddr.IPv4) return matching(address, IPV4_REFUSED);
  const own = matching(address, IPV6_REFUSED);
  if (own !== undefined) return own;
  for (const [name, range, carried] of EMBEDDING) {
    if (!address.match(range)) continue;
    for (const inner of carried(address)) {
      const why = matching(inner, IPV4_REFUSED);
      if (why !== undefined) return `${name} of ${inner.toString()} (${why})`;
    }
  }
  return undefined;
}

/** Is this address text one the gateway must never reach by default? Anything that is not an IP literal is. Pure. */
export function isForbiddenAddress(text: string): boolean {
  const address = parseIpLiteral(text);
  return address === undefined || refusedRange(address) !== undefined;
}
