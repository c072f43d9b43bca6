/**
 * The one domain rule engine: decides tunnel / direct / block for a destination host. The local
 * proxy calls `compileRules(...).decide(host)` per request, and `shared/pac.ts` compiles the same
 * rules into a PAC file that must agree with it for every host.
 *
 * Match forms (first matching rule wins, otherwise the default action):
 * - `example.com`    exactly that host;
 * - `.example.com`   the domain itself and every subdomain at any depth;
 * - `*.example.com`  every subdomain at any depth, not the domain itself;
 * - `10.0.0.0/8`, `fd00::/8`  IP literals inside the range (v4 or v6);
 * - `192.0.2.7`, `::1`        that IP literal (the same as /32 or /128);
 * - `*`              everything.
 * Host names compare case-insensitively and ignore one trailing dot; IP rules never match names.
 */
import { z } from 'zod';
import { PinholeError } from './errors.js';
import { AppActionSchema, type AppAction } from './profile.js';

export type RuleAction = AppAction;
export const RuleActionSchema = AppActionSchema;

export const RuleSchema = z.object({ match: z.string().min(1).max(300), action: RuleActionSchema });
export type Rule = z.infer<typeof RuleSchema>;

export interface RuleSet {
  rules: Rule[];
  defaultAction: RuleAction;
}

export type RuleMatch =
  | { kind: 'all' }
  | { kind: 'exact'; host: string }
  | { kind: 'domain'; domain: string }
  | { kind: 'subdomains'; domain: string }
  | { kind: 'cidr4'; base: number; bits: number }
  | { kind: 'cidr6'; base: bigint; bits: number };

const LABEL_RE = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

const isHostName = (name: string): boolean => name.length > 0 && name.length <= 253 && name.split('.').every((label) => LABEL_RE.test(label));

/** "192.0.2.1" -> 32-bit unsigned integer, or undefined. */
export const parseIPv4 = (text: string): number | undefined => {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || (part.length > 1 && part.startsWith('0'))) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
};

/** Any textual IPv6 form (with "::" and an optional dotted IPv4 tail, no zone) -> 128-bit bigint. */
export const parseIPv6 = (text: string): bigint | undefined => {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return undefined;
  let head = text;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >>> 16, v4 & 0xffff];
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const doubles = head.split('::');
  if (doubles.length > 2) return undefined;
  const toGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = toGroups(doubles[0] ?? '');
  const right = doubles.length === 2 ? toGroups(doubles[1] ?? '') : [];
  if (!left || !right) return undefined;
  const given = left.length + right.length + tail.length;
  let groups: number[];
  if (doubles.length === 2) {
    if (given > 7) return undefined;
    groups = [...left, ...new Array<number>(8 - given).fill(0), ...right, ...tail];
  } else {
    if (given !== 8) return undefined;
    groups = [...left, ...tail];
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
};

const v4Mask = (bits: number): number => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
const v6Mask = (bits: number): bigint => (bits === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n));

/** Lower-cased, without brackets or one trailing dot. */
export const normalizeHost = (host: string): string => {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
};

const invalid = (match: string, why: string): PinholeError =>
  new PinholeError('PINHOLE_CONFIG_INVALID', `The routing rule "${match}" is not valid: ${why}.`);

/** Parses one rule's match text; throws PINHOLE_CONFIG_INVALID with the reason. */
export const parseRuleMatch = (raw: string): RuleMatch => {
  const match = raw.trim().toLowerCase();
  if (match === '*') return { kind: 'all' };
  const slash = match.indexOf('/');
  if (slash >= 0) {
    const addr = match.slice(0, slash);
    const bitsText = match.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bitsText)) throw invalid(raw, 'the prefix length must be a number');
    const bits = Number(bitsText);
    const v4 = parseIPv4(addr);
    if (v4 !== undefined) {
      if (bits > 32) throw invalid(raw, 'an IPv4 prefix is at most 32 bits');
      return { kind: 'cidr4', base: (v4 & v4Mask(bits)) >>> 0, bits };
    }
    const v6 = parseIPv6(addr);
    if (v6 !== undefined) {
      if (bits > 128) throw invalid(raw, 'an IPv6 prefix is at most 128 bits');
      return { kind: 'cidr6', base: v6 & v6Mask(bits), bits };
    }
    throw invalid(raw, 'a range must be an IP address followed by /bits');
  }
  const bare = normalizeHost(match);
  const v4 = parseIPv4(bare);
  if (v4 !== undefined) return { kind: 'cidr4', base: v4, bits: 32 };
  const v6 = parseIPv6(bare);
  if (v6 !== undefined) return { kind: 'cidr6', base: v6, bits: 128 };
  if (match.startsWith('*.')) {
    const domain = normalizeHost(match.slice(2));
    if (!isHostName(domain)) throw invalid(raw, 'expected *.domain');
    return { kind: 'subdomains', domain };
  }
  if (match.startsWith('.')) {
    const domain = normalizeHost(match.slice(1));
    if (!isHostName(domain)) throw invalid(raw, 'expected .domain');
    return { kind: 'domain', domain };
  }
  if (!isHostName(bare)) throw invalid(raw, 'expected a host name, .domain, *.domain, an IP range or *');
  return { kind: 'exact', host: bare };
};

/** The action for a host and the rule that gave it (`undefined`: no rule matched, the default action applies). */
export interface RuleVerdict {
  action: RuleAction;
  rule: Rule | undefined;
}

export interface CompiledRules {
  /** The action for a destination host (name or IP literal, brackets allowed). */
  decide(host: string): RuleAction;
  /** The same decision, with the rule that matched. */
  match(host: string): RuleVerdict;
  readonly rules: readonly Rule[];
  readonly defaultAction: RuleAction;
}

/**
 * Compiles rules for the hot path: one map lookup for exact hosts, one per label for suffixes,
 * a short list scan for IP literals. Every entry remembers its rule's position so the earliest
 * matching rule wins, exactly as a top-to-bottom scan would.
 */
export const compileRules = (rules: readonly Rule[], defaultAction: RuleAction): CompiledRules => {
  const exact = new Map<string, number>();
  const domain = new Map<string, number>();
  const subdomains = new Map<string, number>();
  const cidr4: { base: number; mask: number; index: number }[] = [];
  const cidr6: { base: bigint; mask: bigint; index: number }[] = [];
  let all = Infinity;
  const firstWins = (map: Map<string, number>, key: string, index: number): void => {
    if (!map.has(key)) map.set(key, index);
  };
  rules.forEach((rule, index) => {
    const m = parseRuleMatch(rule.match);
    switch (m.kind) {
      case 'all':
        all = Math.min(all, index);
        break;
      case 'exact':
        firstWins(exact, m.host, index);
        break;
      case 'domain':
        firstWins(domain, m.domain, index);
        break;
      case 'subdomains':
        firstWins(subdomains, m.domain, index);
        break;
      case 'cidr4':
        cidr4.push({ base: m.base, mask: v4Mask(m.bits), index });
        break;
      case 'cidr6':
        cidr6.push({ base: m.base, mask: v6Mask(m.bits), index });
        break;
    }
  });
  const verdictAt = (index: number): RuleVerdict => {
    const rule = index === Infinity ? undefined : rules[index];
    return { action: rule?.action ?? defaultAction, rule };
  };

  const match = (rawHost: string): RuleVerdict => {
    const host = normalizeHost(rawHost);
    let best = all;
    const v4 = parseIPv4(host);
    if (v4 !== undefined) {
      for (const c of cidr4) if (c.index < best && ((v4 & c.mask) >>> 0) === c.base) best = c.index;
      return verdictAt(best);
    }
    if (host.includes(':')) {
      const v6 = parseIPv6(host);
      if (v6 !== undefined) {
        for (const c of cidr6) if (c.index < best && (v6 & c.mask) === c.base) best = c.index;
        return verdictAt(best);
      }
    }
    const e = exact.get(host);
    if (e !== undefined && e < best) best = e;
    const d = domain.get(host);
    if (d !== undefined && d < best) best = d;
    for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) {
      const suffix = host.slice(dot + 1);
      const ds = domain.get(suffix);
      if (ds !== undefined && ds < best) best = ds;
      const ss = subdomains.get(suffix);
      if (ss !== undefined && ss < best) best = ss;
    }
    return verdictAt(best);
  };
  return { decide: (host) => match(host).action, match, rules: [...rules], defaultAction };
};

/**
 * A provisioning link's domain list: exactly those hosts (or `.domain` / `*.domain` forms) go
 * through the tunnel, everything else goes direct. No list means everything goes through the tunnel.
 */
export const rulesFromLinkDomains = (domains: readonly string[] | undefined): RuleSet => {
  if (!domains || domains.length === 0) return { rules: [], defaultAction: 'tunnel' };
  return { rules: domains.map((match) => ({ match, action: 'tunnel' as const })), defaultAction: 'direct' };
};
