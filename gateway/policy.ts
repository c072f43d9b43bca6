/**
 * DestinationPolicy: which destinations the gateway may connect to. Pure; the resolver is injected.
 * Private, loopback, link-local, CGNAT, multicast, metadata and other special addresses
 * (special-addresses.ts) are refused on the RESOLVED address, parsed into its canonical form (the
 * caller connects to exactly that address, so neither DNS rebinding nor another spelling of a
 * refused address can slip past). `restrictTo` allows exactly its destinations and overrides the
 * address check.
 */
import { isIP } from 'node:net';
import { PinholeError } from '../shared/errors.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../shared/profile.js';
import { canonicalText, parseIpLiteral, refusedRange, type IpAddress } from './special-addresses.js';

export { isForbiddenAddress } from './special-addresses.js';

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

/** A host as the policy compares it: lower case, no brackets, no root dot; an IP literal in its canonical form. */
const normaliseHost = (host: string): string => {
  const bare = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  const literal = parseIpLiteral(bare);
  return literal === undefined ? bare : canonicalText(literal);
};

/**
 * A refusal names the rule that refused and the flag that changes it (issue 25): the sentence is
 * the 403's body and the access log's message; `rule` is a field for scripts.
 */
export type PolicyRule = 'restrict-to' | 'allow-port' | 'special-addresses';
const refused = (code: 'PINHOLE_DEST_FORBIDDEN' | 'PINHOLE_PORT_FORBIDDEN', target: Endpoint, rule: PolicyRule, sentence: string): PinholeError =>
  new PinholeError(code, sentence, { details: { rule, target: formatEndpoint(target) } });

const familyOf = (address: IpAddress): 4 | 6 => (address.kind() === 'ipv6' ? 6 : 4);

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
      if (!this.restricted(target)) throw refused('PINHOLE_DEST_FORBIDDEN', target, 'restrict-to', `${formatEndpoint(target)} is refused by the rule restrict-to (only the --restrict-to destinations are allowed); the operator adds --restrict-to ${formatEndpoint(target)} (gateway.yaml restrictTo) to allow it.`);
      return { explicit: true };
    }
    const ports = kind === 'connect' ? this.allowPorts : this.httpPorts;
    if (!ports.has(target.port))
      throw refused(
        'PINHOLE_PORT_FORBIDDEN',
        target,
        'allow-port',
        `${formatEndpoint(target)} is refused by the rule allow-port (${kind === 'connect' ? 'CONNECT' : 'HTTP'} may reach ports ${[...ports].join(', ')}); the operator adds --allow-port ${target.port} (gateway.yaml allowPorts) to allow the port, or --restrict-to ${formatEndpoint(target)} for exactly this destination.`,
      );
    return { explicit: false };
  }

  /** Check and resolve once: the returned address is the one to connect to. Throws PinholeError. */
  async decide(target: Endpoint, kind: TargetKind): Promise<PolicyDecision> {
    const { explicit } = this.checkName(target, kind);
    const host = normaliseHost(target.host);
    let texts: string[];
    if (isIP(host) !== 0) texts = [host];
    else {
      try {
        texts = (await this.resolve(host)).map((answer) => answer.address);
      } catch (cause) {
        throw new PinholeError('PINHOLE_DNS_FAILED', `${host} could not be resolved.`, { cause });
      }
      if (texts.length === 0) throw new PinholeError('PINHOLE_DNS_FAILED', `${host} has no address.`);
    }
    // Each answer in its canonical form, with the family of the address itself (never a label beside it).
    const addresses = texts.map(parseIpLiteral);
    const allowed = addresses.filter((a): a is IpAddress => a !== undefined && (explicit || refusedRange(a) === undefined));
    if (allowed.length === 0) {
      const first = addresses[0];
      const why = first === undefined ? 'not an IP address' : (refusedRange(first) ?? 'none');
      const address = first === undefined ? texts[0] : canonicalText(first);
      throw refused(
        'PINHOLE_DEST_FORBIDDEN',
        target,
        'special-addresses',
        `${formatEndpoint(target)} resolves to ${address} (${why}), refused by the rule special-addresses (--allow-port does not lift it); the operator adds --restrict-to ${formatEndpoint(target)} (gateway.yaml restrictTo) to allow exactly this destination.`,
      );
    }
    const all = allowed.map((a) => ({ address: canonicalText(a), family: familyOf(a) }));
    return { ...all[0]!, all };
  }
}
