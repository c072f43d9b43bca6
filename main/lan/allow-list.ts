/**
 * LAN box mode's first line of defence: `--listen ADDR:PORT` on anything but loopback needs
 * `--allow-from CIDR...`, and a connection from outside the list is closed before a byte of it is
 * read. Addresses are compared as IPv4 when they are IPv4-mapped IPv6 (a dual-stack listener sees
 * 192.168.1.5 as ::ffff:192.168.1.5), so one list serves both kinds of socket.
 */
import { BlockList, isIP, type Socket } from 'node:net';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { parseIPv6 } from '../../shared/rules.js';

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d in any spelling) as plain IPv4; anything else lower case, without brackets. */
export function normaliseAddress(address: string): string {
  const text = address.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (isIP(text) !== 6) return text;
  const value = parseIPv6(text);
  if (value === undefined || value >> 32n !== 0xffffn) return text;
  const v4 = Number(value & 0xffffffffn);
  return `${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
}

export interface AllowList {
  /** The entries as given, for logs and the status. */
  readonly entries: readonly string[];
  allows(address: string): boolean;
}

const usage = (entry: string, why: string): PinholeError =>
  new PinholeError('PINHOLE_USAGE', `--allow-from ${entry}: ${why}; expected an address or CIDR such as 192.168.52.0/24 or fd00::/8.`);

/** `--allow-from` values (CIDR or a single address) as an allow-list. Throws PINHOLE_USAGE naming the bad entry. */
export function parseAllowFrom(entries: readonly string[]): AllowList {
  const list = new BlockList();
  for (const entry of entries) {
    const [rawAddress, rawPrefix, ...extra] = entry.trim().split('/');
    if (rawAddress === undefined || rawAddress === '' || extra.length > 0) throw usage(entry, 'it is not ADDRESS[/PREFIX]');
    const written = rawAddress.replace(/^\[(.*)\]$/, '$1');
    const writtenFamily = isIP(written);
    if (writtenFamily === 0) throw usage(entry, `${rawAddress} is not an IP address`);
    const address = normaliseAddress(written);
    const family = isIP(address);
    let prefix = writtenFamily === 4 ? 32 : 128;
    if (rawPrefix !== undefined) {
      if (!/^\d{1,3}$/.test(rawPrefix) || Number(rawPrefix) > prefix) throw usage(entry, `/${rawPrefix} is not a prefix length (0-${prefix})`);
      prefix = Number(rawPrefix);
    }
    // ::ffff:a.b.c.d/(96+n) is a.b.c.d/n once normalised.
    if (family === 4 && writtenFamily === 6) {
      if (prefix < 96) throw usage(entry, 'an IPv4-mapped range needs a prefix of 96 or more');
      prefix -= 96;
    }
    if (family === 4) list.addSubnet(address, prefix, 'ipv4');
    else list.addSubnet(address, prefix, 'ipv6');
  }
  return {
    entries: [...entries],
    allows(input: string): boolean {
      const address = normaliseAddress(input);
      const family = isIP(address);
      if (family === 0) return false;
      return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/** Is this bind host loopback only? (127.0.0.0/8, ::1, localhost, and their mapped forms.) */
export function isLoopbackHost(host: string): boolean {
  const address = normaliseAddress(host);
  if (address === 'localhost') return true;
  if (isIP(address) === 4) return address.startsWith('127.');
  return isIP(address) === 6 && parseIPv6(address) === 1n;
}

/**
 * Refuses a non-loopback `--listen` without `--allow-from` (PINHOLE_LAN_ALLOW_LIST_REQUIRED),
 * and returns the allow-list to gate connections with (undefined for loopback without one).
 */
export function checkListen(listen: { readonly host: string; readonly port: number }, allowFrom: readonly string[]): AllowList | undefined {
  if (allowFrom.length === 0) {
    if (isLoopbackHost(listen.host)) return undefined;
    throw new PinholeError(
      'PINHOLE_LAN_ALLOW_LIST_REQUIRED',
      `--listen ${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port} is reachable from the network, so it needs --allow-from CIDR... naming the terminals that may use it (for example --allow-from 192.168.52.0/24); without one anyone who can reach this machine could use your tunnel and your account.`,
    );
  }
  return parseAllowFrom(allowFrom);
}

export interface ConnectionGateOptions {
  readonly logger?: Logger;
  /** Sources remembered for "log once per source" (default 1024); the oldest is forgotten first, so it may be logged again. */
  readonly maxRemembered?: number;
}

/**
 * Admits or closes accepted sockets by source address. Use it first thing in the listener's
 * 'connection' handler, on a server created with `pauseOnConnect: true`, so a refused
 * terminal's bytes are never read.
 */
export class ConnectionGate {
  /** Connections closed so far. */
  refused = 0;
  private readonly logged = new Set<string>();
  private readonly maxRemembered: number;

  constructor(
    private readonly allowList: AllowList,
    private readonly options: ConnectionGateOptions = {},
  ) {
    this.maxRemembered = options.maxRemembered ?? 1024;
  }

  /** True when the socket may go on; otherwise it has been destroyed (nothing read, nothing written). */
  admit(socket: Socket): boolean {
    const source = normaliseAddress(socket.remoteAddress ?? '');
    if (this.allowList.allows(source)) return true;
    this.refused++;
    socket.destroy();
    if (!this.logged.has(source)) {
      if (this.logged.size >= this.maxRemembered) this.logged.delete(this.logged.values().next().value as string);
      this.logged.add(source);
      this.options.logger?.warn(
        { source, allowFrom: this.allowList.entries, code: 'PINHOLE_LAN_SOURCE_REFUSED' },
        'A connection from outside --allow-from was closed before anything was read (logged once per source).',
      );
    }
    return false;
  }
}
