/**
 * The "source" a penalty or a limit is counted against: the client's IPv4 address, or its IPv6
 * /64 (one subscriber usually holds a whole /64, so counting single IPv6 addresses counts nothing).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Strip the port from "a.b.c.d:port" / "[v6]:port" (as connInfo prints it). Pure. */
export const addressOfClient = (client: string | undefined): string | undefined => {
  if (client === undefined) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(client);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  if (isIPv6(client) || isIPv4(client)) return client;
  const v4 = /^([\d.]+):\d+$/.exec(client);
  return v4?.[1] ?? client;
};

/** The penalty/limit key of a client address. Pure. */
export function sourceOf(client: string | undefined): string {
  const address = addressOfClient(client);
  if (address === undefined) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(address)) return address;
  // Expand to eight groups (a trailing dotted IPv4 is two) and keep the first four.
  const text = address.toLowerCase().replace(/%.*$/, '');
  const [head = '', tail = ''] = text.split('::');
  const split = (part: string): string[] => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const left = split(head);
  const right = split(tail);
  const groups = text.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
}
