/**
 * What kind of answer a name got: a public address, a private one (right only for a gateway
 * inside the network), or a sinkhole (0.0.0.0, loopback: what DNS filters answer for a blocked
 * name). And whether a name is public at all (special-use and internal suffixes are not).
 */
import { BlockList, isIP } from 'node:net';

export type AddressKind = 'public' | 'private' | 'sinkhole';

const sinkholes = new BlockList();
sinkholes.addSubnet('0.0.0.0', 8, 'ipv4');
sinkholes.addSubnet('127.0.0.0', 8, 'ipv4');
sinkholes.addAddress('::', 'ipv6');
sinkholes.addAddress('::1', 'ipv6');

const privates = new BlockList();
for (const [net, bits] of [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
] as const)
  privates.addSubnet(net, bits, 'ipv4');
privates.addSubnet('fc00::', 7, 'ipv6');
privates.addSubnet('fe80::', 10, 'ipv6');

export const addressKind = (address: string): AddressKind => {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  const plain = family === 'ipv6' && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
  const type = isIP(plain) === 6 ? 'ipv6' : 'ipv4';
  if (sinkholes.check(plain, type)) return 'sinkhole';
  if (privates.check(plain, type)) return 'private';
  return 'public';
};

/** Suffixes that never name a host on the Internet (RFC 6761, RFC 8375 and common internal ones). */
const NOT_PUBLIC = ['localhost', 'local', 'test', 'invalid', 'example', 'internal', 'lan', 'home', 'corp', 'intranet', 'home.arpa'];

export const isPublicName = (host: string): boolean => {
  if (isIP(host) !== 0 || !host.includes('.')) return false;
  const name = host.toLowerCase().replace(/\.$/, '');
  return !NOT_PUBLIC.some((suffix) => name === suffix || name.endsWith(`.${suffix}`));
};
