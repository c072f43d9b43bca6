/**
 * The path check: the hops (hops.ts) in the order a connection takes them, stopping at the first
 * that fails (the rest are reported as not checked), and the firewall rule for the gateway.
 * The CLI (`pinhole doctor`) and the UI ("Check my connection") both call `runDoctor`.
 */
import { isIP } from 'node:net';
import { DOCTOR_HOPS, DoctorReportSchema, firewallSentence, type DoctorReport } from '../../shared/doctor.js';
import type { Logger } from '../../shared/log.js';
import { formatEndpoint, parseEndpoint, type Endpoint, type GatewayTarget } from '../../shared/profile.js';
import type { UpstreamProxy } from '../tunnel/transport.js';
import type { OsProxy } from '../upstream/os-proxy.js';
import { checkCredentialAndDestination, checkResolve, checkSystemProxy, checkTcp, checkTls, systemResolver, type HopResult, type Resolver } from './hops.js';

export interface DoctorInput {
  target: GatewayTarget;
  password: string;
  profileName: string;
  /** The corporate proxy Pinhole would use to reach the gateway. */
  upstreamProxy?: UpstreamProxy;
  /** A destination the gateway allows, to try a request through the tunnel. */
  destination?: Endpoint;
  /** The local proxy, when one runs (its system-proxy hop is checked then). */
  localProxy?: Endpoint;
  /** The OS proxy as set now, and where it was read ("GNOME", "https_proxy"). */
  readSystemProxy?: () => Promise<{ proxy: OsProxy; source: string }>;
  logger: Logger;
  /** Budget for each hop (default 10 s). */
  timeoutMs?: number;
  resolve?: Resolver;
  now?: () => number;
}

const notChecked = (hop: (typeof DOCTOR_HOPS)[number]): HopResult => ({ hop, status: 'skip', verdict: 'Not checked: an earlier hop failed.', facts: {} });

/** A destination from the profile when none was given: its first domain that is a plain name. */
export const destinationFor = (target: GatewayTarget): Endpoint | undefined => {
  const name = target.domains.find((d) => !d.includes('*') && !d.startsWith('.') && d.includes('.'));
  return name ? parseEndpoint(`${name}:443`) : undefined;
};

export const runDoctor = async (input: DoctorInput): Promise<DoctorReport> => {
  const { target } = input;
  const timeoutMs = input.timeoutMs ?? 10_000;
  const endpoints = target.endpoints.map((e) => parseEndpoint(e)).filter((e): e is Endpoint => e !== undefined);
  const hops: HopResult[] = [];
  const { hop: resolveHop, resolved } = await checkResolve(endpoints, input.resolve ?? systemResolver);
  hops.push(resolveHop);
  if (resolveHop.status === 'pass') await pastResolve(input, endpoints.filter((e) => resolved.has(e.host)), timeoutMs, hops);
  for (const hop of DOCTOR_HOPS) if (!hops.some((h) => h.hop === hop)) hops.push(notChecked(hop));
  for (const hop of hops) if (hop.status !== 'skip') input.logger[hop.status === 'fail' ? 'warn' : 'info']({ hop: hop.hop, ...(hop.code ? { code: hop.code } : {}) }, hop.verdict);
  const firewall = firewallRules(target, endpoints, resolved);
  return DoctorReportSchema.parse({
    ok: hops.every((h) => h.status !== 'fail'),
    profile: input.profileName,
    gateway: target.endpoints.join(', '),
    checkedAt: new Date(input.now?.() ?? Date.now()).toISOString(),
    hops,
    firewall,
    firewallSentence: firewallSentence(firewall),
  });
};

const pastResolve = async (input: DoctorInput, endpoints: Endpoint[], timeoutMs: number, hops: HopResult[]): Promise<void> => {
  const { target } = input;
  const dialOptions = {
    endpoints: target.endpoints.map((e) => parseEndpoint(e)).filter((e): e is Endpoint => e !== undefined),
    serverName: target.serverName,
    trust: target.trust,
    user: target.user,
    password: input.password,
    logger: input.logger,
    connectTimeoutMs: timeoutMs,
    ...(input.upstreamProxy ? { upstreamProxy: input.upstreamProxy } : {}),
  };
  const tcp = await checkTcp(endpoints, dialOptions);
  hops.push(tcp.hop);
  if (!tcp.socket || !tcp.endpoint) return;
  const tls = await checkTls(tcp.socket, tcp.endpoint, target, timeoutMs);
  hops.push(tls.hop);
  if (!tls.tls) return;
  const destination = input.destination ?? destinationFor(target);
  const onwards = await checkCredentialAndDestination(tls.tls, target, input.password, destination, timeoutMs);
  hops.push(...onwards);
  if (onwards.some((h) => h.status === 'fail')) return;
  let current: { proxy: OsProxy; source: string } | undefined;
  if (input.localProxy && input.readSystemProxy) {
    try {
      current = await input.readSystemProxy();
    } catch (err) {
      input.logger.debug({ err }, 'The system proxy settings could not be read.');
    }
  }
  hops.push(checkSystemProxy(input.localProxy, current?.proxy, current?.source ?? 'unknown'));
};

/** The gateway's name(s) and port(s) as the firewall sees them, with the addresses they resolve to now. */
const firewallRules = (target: GatewayTarget, endpoints: readonly Endpoint[], resolved: ReadonlyMap<string, string[]>): DoctorReport['firewall'] => {
  const rules = new Map<string, DoctorReport['firewall'][number]>();
  for (const endpoint of endpoints) {
    // An endpoint given as an address is reached by the gateway's name as the firewall filters it (SNI).
    const host = isIP(endpoint.host) !== 0 ? target.serverName : endpoint.host;
    const key = formatEndpoint({ host, port: endpoint.port });
    const rule = rules.get(key) ?? { host, port: endpoint.port, addresses: [] };
    for (const address of resolved.get(endpoint.host) ?? []) if (!rule.addresses.includes(address)) rule.addresses.push(address);
    rules.set(key, rule);
  }
  return [...rules.values()];
};
