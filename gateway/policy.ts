/**
 * DestinationPolicy: which destinations the gateway may connect to. Pure; the resolver is injected.
 * Private, loopback, link-local, CGNAT, multicast, metadata and other special addresses are refused
 * on the RESOLVED address (the caller connects to exactly that address, so DNS rebinding cannot
 * slip past). `restrictTo` allows exactly its destinations and overrides the address check.
 */
import { BlockList, isIP } from 'node:net';
import { PinholeError } from '../shared/errors.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../shared/profile.js';

export type TargetKind = 'connect' | 'http';

export interface PolicyOptions {
  /** Ports CONNECT may reach (default [443]). */
  readonly allowPorts?: readonly number[];
  /** Ports absolute-URI HTTP may reach (default [80, 443]). */
  readonly httpPorts?: readonly number[];
  /** HOST:PORT strings; when non-empty, exactly these destinations are allowed and nothing else. */
  readonly restrictTo?: readonly string[];
}

export type Resolver = (host: string) => Promise<{ address: string; family: 4 | 6 }[]>;

export interface PolicyDecision {
  /** The exact address to connect to. */
  readonly address: string;
  readonly family: 4 | 6;
  /** Every allowed address, in the resolver's order (for Happy Eyeballs). */
  readonly all: readonly { address: string; family: 4 | 6 }[];
}

const forbidden = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  forbidden.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b:1::', 48],
  ['2001:db8::', 32],
] as const)
  forbidden.addSubnet(net, prefix, 'ipv6');

/** An IPv4 address hidden in an IPv6 form (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96). */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:(?:0:)?|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted?.[1] !== undefined) return dotted[1];
  const hex = /^(?:::ffff:(?:0:)?|::|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex?.[1] !== undefined && hex[2] !== undefined) {
    const hi = parseInt(hex[1], 16);
    const lo = parseInt(hex[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  // Fully expanded forms: 0:0:0:0:0:ffff:xxxx:xxxx
  const full = /^0{1,4}:0{1,4}:0{1,4}:0{1,4}:0{1,4}:ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (full?.[1] !== undefined && full[2] !== undefined) {
    const hi = parseInt(full[1], 16);
    const lo = parseInt(full[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return undefined;
}

/** Is this IP address one the gateway must never reach by default? Pure. */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return address === '255.255.255.255' || forbidden.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return isForbiddenAddress(v4);
    if (address.toLowerCase() === 'fd00:ec2::254') return true;
    return forbidden.check(address, 'ipv6');
  }
  return true;
}

const normaliseHost = (host: string): string => host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');

export class DestinationPolicy {
  private readonly allowPorts: ReadonlySet<number>;
  private readonly httpPorts: ReadonlySet<number>;
  private readonly restrict: readonly Endpoint[];

  constructor(
    options: PolicyOptions,
    private readonly resolve: Resolver,
  ) {
    this.allowPorts = new Set(options.allowPorts ?? [443]);
    this.httpPorts = new Set([...(options.httpPorts ?? [80, 443]), ...(options.allowPorts ?? [])]);
    this.restrict = (options.restrictTo ?? []).map((text) => {
      const ep = parseEndpoint(text);
      if (ep === undefined) throw new PinholeError('PINHOLE_USAGE', `--restrict-to ${text} is not HOST:PORT.`);
      return { host: normaliseHost(ep.host), port: ep.port };
    });
  }

  /** Is the destination explicitly allowed by --restrict-to? */
  private restricted(target: Endpoint): boolean {
    const host = normaliseHost(target.host);
    return this.restrict.some((r) => r.port === target.port && r.host === host);
  }

  /** The checks that need no DNS: port and --restrict-to. Throws PinholeError. Pure. */
  checkName(target: Endpoint, kind: TargetKind): { explicit: boolean } {
    if (this.restrict.length > 0) {
      if (!this.restricted(target)) throw new PinholeError('PINHOLE_DEST_FORBIDDEN', `${formatEndpoint(target)} is not in the allowed destinations.`);
      return { explicit: true };
    }
    const ports = kind === 'connect' ? this.allowPorts : this.httpPorts;
    if (!ports.has(target.port)) throw new PinholeError('PINHOLE_PORT_FORBIDDEN', `Port ${target.port} is not allowed.`);
    return { explicit: false };
  }

  /** Check and resolve once: the returned address is the one to connect to. Throws PinholeError. */
  async decide(target: Endpoint, kind: TargetKind): Promise<PolicyDecision> {
    const { explicit } = this.checkName(target, kind);
    const host = normaliseHost(target.host);
    const literal = isIP(host);
    let candidates: { address: string; family: 4 | 6 }[];
    if (literal !== 0) candidates = [{ address: host, family: literal as 4 | 6 }];
    else {
      try {
        candidates = await this.resolve(host);
      } catch (cause) {
        throw new PinholeError('PINHOLE_DNS_FAILED', `${host} could not be resolved.`, { cause });
      }
      if (candidates.length === 0) throw new PinholeError('PINHOLE_DNS_FAILED', `${host} has no address.`);
    }
    if (explicit) return { ...candidates[0]!, all: candidates };
    const allowed = candidates.filter((c) => !isForbiddenAddress(c.address));
    if (allowed.length === 0) throw new PinholeError('PINHOLE_DEST_FORBIDDEN', `${formatEndpoint(target)} resolves to a forbidden address.`);
    return { ...allowed[0]!, all: allowed };
  }
}
