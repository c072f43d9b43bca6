/**
 * Is the address a connection was made from still this computer's? After a network change (Wi-Fi
 * to Ethernet, a new DHCP lease) it often is not: that connection is dead without waiting for a
 * PING to go unanswered, since nothing can come back to an address that left.
 */
import { networkInterfaces } from 'node:os';

type Interfaces = ReturnType<typeof networkInterfaces>;

const canonical = (address: string): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').replace(/%.*$/, '').toLowerCase();

/** True when `address` (a socket's localAddress) is no longer on any interface; false when it is, or unknown. */
export const localAddressGone = (address: string | undefined, interfaces: () => Interfaces = networkInterfaces): boolean => {
  if (address === undefined || address === '') return false;
  const wanted = canonical(address);
  for (const list of Object.values(interfaces())) {
    for (const entry of list ?? []) if (canonical(entry.address) === wanted) return false;
  }
  return true;
};
