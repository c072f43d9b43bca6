/**
 * The multiplexer's settings, declared once with zod: they serve the `run` flags (sslh-style
 * names), the config file (key `mux`) and the validation errors.
 *
 * Flags: --ssh H:P --openvpn H:P --http H:P --tls H:P --web H:P --anyprot H:P
 *        --sni NAME=H:P (repeatable, wildcards *.example.org) --on-timeout NAME
 *        --trusted-proxy CIDR (repeatable) --send-proxy v1|v2 | ROUTE=v1|v2 (repeatable)
 *        --ws-path PATH --sniff-timeout MS
 * Config file: the same keys in camelCase; a route is "H:P" or { target: "H:P", sendProxy: "v2" }.
 */
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { PinholeError } from '../../shared/errors.js';
import { parseEndpoint, type Endpoint } from '../../shared/profile.js';
import { DEFAULT_WS_PATH } from '../../shared/ws-tunnel.js';
import type { RouteTable } from '../sniff/index.js';

export const ProxyVersionSchema = z.enum(['v1', 'v2']);
export type ProxyVersion = z.infer<typeof ProxyVersionSchema>;

const EndpointText = z.string().refine((v) => parseEndpoint(v) !== undefined, { message: 'must be HOST:PORT' });

export const MuxRouteSchema = z.union([
  EndpointText.transform((target) => ({ target, sendProxy: undefined as ProxyVersion | undefined })),
  z.object({ target: EndpointText, sendProxy: ProxyVersionSchema.optional() }),
]);

const SniPattern = z
  .string()
  .min(1)
  .refine((p) => /^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(p), { message: 'must be a host name or *.domain' });

export const CidrSchema = z.string().refine((v) => parseCidr(v) !== undefined, { message: 'must be an address or ADDRESS/PREFIX' });

export const ROUTE_NAMES = ['ssh', 'openvpn', 'http', 'tls', 'web', 'anyprot'] as const;
export type RouteName = (typeof ROUTE_NAMES)[number];

export const MuxConfigSchema = z
  .object({
    ssh: MuxRouteSchema.optional(),
    openvpn: MuxRouteSchema.optional(),
    http: MuxRouteSchema.optional(),
    tls: MuxRouteSchema.optional(),
    web: MuxRouteSchema.optional(),
    anyprot: MuxRouteSchema.optional(),
    sni: z.array(z.object({ pattern: SniPattern, target: EndpointText, sendProxy: ProxyVersionSchema.optional() })).default([]),
    onTimeout: z.enum(['ssh', 'openvpn', 'http', 'tls', 'anyprot']).optional(),
    trustedProxies: z.array(CidrSchema).default([]),
    /** PROXY header sent to every pass-through backend that has no version of its own. */
    sendProxy: ProxyVersionSchema.optional(),
    wsPath: z.string().startsWith('/').default(DEFAULT_WS_PATH),
    /** How long a silent client may wait before the timeout route (sslh's -t). */
    sniffTimeoutMs: z.number().int().min(50).max(60_000).default(2_000),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.onTimeout !== undefined && c[c.onTimeout] === undefined) {
      ctx.addIssue({ code: 'custom', path: ['onTimeout'], message: `names the ${c.onTimeout} route, which is not set` });
    }
  });
export type MuxConfigInput = z.input<typeof MuxConfigSchema>;
export type MuxConfig = z.output<typeof MuxConfigSchema>;

/** A pass-through destination with the PROXY header it should get (if any). */
export interface MuxTarget extends Endpoint {
  readonly sendProxy?: ProxyVersion;
}

export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, prefixText, extra] = text.trim().split('/');
  if (address === undefined || extra !== undefined) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The trusted balancers as a BlockList (IPv4-mapped IPv6 peers are checked as IPv4 by the caller). */
export function trustedProxyList(cidrs: readonly string[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (cidr === undefined) throw new PinholeError('PINHOLE_CONFIG_INVALID', `--trusted-proxy ${text} is not an address or ADDRESS/PREFIX.`);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return list;
}

const toTarget = (text: string, sendProxy: ProxyVersion | undefined): MuxTarget => {
  const endpoint = parseEndpoint(text)!;
  return sendProxy === undefined ? endpoint : { ...endpoint, sendProxy };
};

/** The sniffer's route table from the validated config (`web` is not a pass-through route). */
export function routeTableOf(config: MuxConfig): RouteTable<MuxTarget> {
  const route = (name: Exclude<RouteName, 'web'>): MuxTarget | undefined => {
    const r = config[name];
    return r === undefined ? undefined : toTarget(r.target, r.sendProxy ?? config.sendProxy);
  };
  const table: { -readonly [K in keyof RouteTable<MuxTarget>]: RouteTable<MuxTarget>[K] } = {
    sni: config.sni.map((s) => ({ pattern: s.pattern, target: toTarget(s.target, s.sendProxy ?? config.sendProxy) })),
  };
  for (const name of ['ssh', 'openvpn', 'http', 'tls', 'anyprot'] as const) {
    const target = route(name);
    if (target !== undefined) table[name] = target;
  }
  if (config.onTimeout !== undefined) table.onTimeout = config.onTimeout;
  return table;
}

/** The web site behind the gateway (after TLS termination), if any. */
export const webTargetOf = (config: MuxConfig): MuxTarget | undefined =>
  config.web === undefined ? undefined : toTarget(config.web.target, config.web.sendProxy);

/** Is any multiplexing configured (routes or trusted proxies)? Without it the gateway is TLS-only, as before. */
export const multiplexes = (config: MuxConfig): boolean =>
  ROUTE_NAMES.some((n) => n !== 'web' && config[n] !== undefined) || config.sni.length > 0 || config.trustedProxies.length > 0;

/** Option definitions for node:util parseArgs, to merge into `run`'s own. */
export const MUX_FLAG_OPTIONS = {
  ssh: { type: 'string' },
  openvpn: { type: 'string' },
  http: { type: 'string' },
  tls: { type: 'string' },
  web: { type: 'string' },
  anyprot: { type: 'string' },
  sni: { type: 'string', multiple: true },
  'on-timeout': { type: 'string' },
  'trusted-proxy': { type: 'string', multiple: true },
  'send-proxy': { type: 'string', multiple: true },
  'ws-path': { type: 'string' },
  'sniff-timeout': { type: 'string' },
} as const;

export interface MuxFlagValues {
  ssh?: string;
  openvpn?: string;
  http?: string;
  tls?: string;
  web?: string;
  anyprot?: string;
  sni?: string[];
  'on-timeout'?: string;
  'trusted-proxy'?: string[];
  'send-proxy'?: string[];
  'ws-path'?: string;
  'sniff-timeout'?: string;
}

const usage = (message: string): PinholeError => new PinholeError('PINHOLE_USAGE', message);

/**
 * Flags over the config file's `mux` section (flags win, `--sni` and `--trusted-proxy` add),
 * validated by the one schema. Throws PINHOLE_USAGE / PINHOLE_CONFIG_INVALID with the field.
 */
export function muxConfigFrom(flags: MuxFlagValues, file: MuxConfigInput = {}): MuxConfig {
  const merged: Record<string, unknown> = { ...file };
  const perRoute = new Map<string, ProxyVersion>();
  for (const value of flags['send-proxy'] ?? []) {
    const eq = value.indexOf('=');
    const version = eq === -1 ? value : value.slice(eq + 1);
    if (version !== 'v1' && version !== 'v2') throw usage(`--send-proxy ${value}: the version must be v1 or v2.`);
    if (eq === -1) merged['sendProxy'] = version;
    else perRoute.set(value.slice(0, eq), version);
  }
  for (const name of ROUTE_NAMES) {
    const text = flags[name];
    if (text === undefined) continue;
    if (parseEndpoint(text) === undefined) throw usage(`--${name} ${text} is not HOST:PORT.`);
    merged[name] = { target: text, sendProxy: perRoute.get(name) };
  }
  const sni = [...((file.sni as unknown[] | undefined) ?? [])];
  for (const value of flags.sni ?? []) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw usage(`--sni ${value} should be NAME=HOST:PORT.`);
    const pattern = value.slice(0, eq);
    const target = value.slice(eq + 1);
    if (parseEndpoint(target) === undefined) throw usage(`--sni ${value}: ${target} is not HOST:PORT.`);
    sni.push({ pattern, target, sendProxy: perRoute.get(pattern) ?? perRoute.get('sni') });
  }
  merged['sni'] = sni;
  merged['trustedProxies'] = [...((file.trustedProxies as string[] | undefined) ?? []), ...(flags['trusted-proxy'] ?? [])];
  if (flags['on-timeout'] !== undefined) merged['onTimeout'] = flags['on-timeout'];
  if (flags['ws-path'] !== undefined) merged['wsPath'] = flags['ws-path'];
  if (flags['sniff-timeout'] !== undefined) {
    if (!/^\d+$/.test(flags['sniff-timeout'])) throw usage(`--sniff-timeout ${flags['sniff-timeout']} is not a number of milliseconds.`);
    merged['sniffTimeoutMs'] = Number(flags['sniff-timeout']);
  }
  for (const [route] of perRoute) {
    const known = (ROUTE_NAMES as readonly string[]).includes(route) || route === 'sni' || sni.some((s) => (s as { pattern?: string }).pattern === route);
    if (!known) throw usage(`--send-proxy ${route}=...: there is no route called ${route}.`);
  }
  const parsed = MuxConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? 'mux' : ['mux', ...issue.path.map(String)].join('.');
    throw new PinholeError('PINHOLE_CONFIG_INVALID', `The multiplexer setting ${where} ${issue?.message ?? 'is not valid'}.`);
  }
  return parsed.data;
}
