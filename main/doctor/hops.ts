/**
 * The doctor's hops, one function each, every one through the product's own code: the name as
 * the dial resolves it (getaddrinfo), TCP directly or through the corporate proxy
 * (tunnel/dial.ts `rawConnection`), TLS with the profile's options and the product's pin check
 * (tunnel/verify.ts), the credential and the destination as one CONNECT read back through the
 * product's refusal mapping (node/refusal.ts). Nothing is written to a server whose certificate
 * failed the check: the credential only ever goes inside a verified handshake.
 */
import { lookup } from 'node:dns/promises';
import { isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import type { DoctorHopInput } from '../../shared/doctor.js';
import { PinholeError } from '../../shared/errors.js';
import { formatEndpoint, type Endpoint, type GatewayTarget } from '../../shared/profile.js';
import { ConnectFailure, sendConnect } from '../../node/connect-client.js';
import { refusalError } from '../../node/refusal.js';
import { rawConnection } from '../tunnel/dial.js';
import { basicCredentials, type GatewayDialOptions } from '../tunnel/transport.js';
import { gatewayError, tlsOptionsFor, verifyPeer } from '../tunnel/verify.js';
import type { OsProxy } from '../upstream/os-proxy.js';
import { addressKind, isPublicName } from './addresses.js';

export type HopResult = DoctorHopInput;

/** Resolves a name as the dial does (getaddrinfo: /etc/hosts, then DNS). */
export type Resolver = (host: string) => Promise<string[]>;
export const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

const list = (items: readonly string[]): string => items.join(', ');

/** Hop 1: the name resolves, to something that is not a sinkhole. */
export const checkResolve = async (endpoints: readonly Endpoint[], resolve: Resolver): Promise<{ hop: HopResult; resolved: Map<string, string[]> }> => {
  const resolved = new Map<string, string[]>();
  const problems: string[] = [];
  const notes: string[] = [];
  let code: string | undefined;
  let action: string | undefined;
  for (const { host } of endpoints) {
    if (resolved.has(host)) continue;
    if (isIP(host) !== 0) {
      resolved.set(host, [host]);
      notes.push(`the endpoint ${host} is an address (nothing to resolve)`);
      continue;
    }
    let addresses: string[];
    try {
      addresses = await resolve(host);
    } catch (err) {
      const errno = (err as { code?: string }).code ?? '';
      if (errno === 'ENOTFOUND' || errno === 'ENODATA') {
        problems.push(`the name ${host} does not exist in DNS as this machine's resolver sees it (NXDOMAIN or no address)`);
        action = `Check the name in the link. If it is right, this network's DNS does not know it or filters it: ask the network admin to let ${host} resolve.`;
      } else {
        problems.push(`no DNS server answered for ${host} (${errno || (err as Error).message})`);
        action = 'Check that this machine has a working DNS server (other sites load?); if they do, ask the network admin why this name gets no answer.';
      }
      code = 'PINHOLE_DNS_FAILED';
      continue;
    }
    const kinds = addresses.map(addressKind);
    if (isPublicName(host) && addresses.length > 0 && kinds.every((k) => k === 'sinkhole')) {
      problems.push(`the name ${host} resolves to ${list(addresses)}, a sinkhole answer: a DNS filter on this network blocks the name`);
      action = `Ask the network admin to allow ${host} in the DNS filter (it is answered with ${addresses[0]} instead of the gateway's address).`;
      code = 'PINHOLE_DNS_SINKHOLE';
      continue;
    }
    resolved.set(host, addresses);
    const privateOnes = addresses.filter((_, i) => kinds[i] !== 'public');
    notes.push(
      isPublicName(host) && privateOnes.length > 0
        ? `the name ${host} resolves to ${list(addresses)}, ${privateOnes.length === addresses.length ? 'private addresses' : `including private ${list(privateOnes)}`}: right only if the gateway is inside this network (a split DNS or a redirecting firewall otherwise)`
        : `the name ${host} resolves to ${list(addresses)}`,
    );
  }
  const facts = Object.fromEntries([...resolved].map(([host, addresses]) => [host, addresses]));
  if (resolved.size === 0) return { hop: { hop: 'resolve', status: 'fail', verdict: `${capital(list(problems))}.`, ...(action ? { action } : {}), ...(code ? { code } : {}), facts }, resolved };
  const verdict = `${capital([...notes, ...problems.map((p) => `but ${p}`)].join('; '))}.`;
  return { hop: { hop: 'resolve', status: 'pass', verdict, facts }, resolved };
};

const capital = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/** Hop 2: TCP to the gateway's port, directly or through the corporate proxy (the first endpoint that opens is used onwards). */
export const checkTcp = async (endpoints: readonly Endpoint[], options: GatewayDialOptions): Promise<{ hop: HopResult; socket?: Socket; endpoint?: Endpoint }> => {
  const proxy = options.upstreamProxy ? formatEndpoint(options.upstreamProxy) : undefined;
  const via = proxy ? `through the corporate proxy ${proxy}` : 'directly';
  const failures: { endpoint: Endpoint; error: PinholeError }[] = [];
  for (const endpoint of endpoints) {
    try {
      const socket = await rawConnection(endpoint, options);
      const others = failures.map((f) => `${formatEndpoint(f.endpoint)} did not open (${f.error.code})`);
      const verdict = `TCP to ${formatEndpoint(endpoint)} opened ${via}${others.length > 0 ? `; ${others.join('; ')}` : ''}.`;
      return { hop: { hop: 'tcp', status: 'pass', verdict, facts: { endpoint: formatEndpoint(endpoint), via: proxy ?? 'direct' } }, socket, endpoint };
    } catch (err) {
      failures.push({ endpoint, error: err instanceof PinholeError ? err : gatewayError(err, 'tcp') });
    }
  }
  const last = failures[failures.length - 1];
  const error = last?.error ?? new PinholeError('PINHOLE_GATEWAY_UNREACHABLE');
  const where = list(endpoints.map(formatEndpoint));
  const port = endpoints[0]?.port ?? 443;
  const facts = { endpoint: where, via: proxy ?? 'direct' };
  if (error.code.startsWith('PINHOLE_UPSTREAM_')) {
    return {
      hop: {
        hop: 'tcp',
        status: 'fail',
        code: error.code,
        verdict: `The corporate proxy ${proxy ?? ''} (the one Pinhole uses) did not open a connection to ${where}: ${error.message}`,
        action:
          error.code === 'PINHOLE_UPSTREAM_PROXY_FAILED'
            ? `Ask the proxy admin to allow CONNECT to ${where}; or, if this machine may reach the gateway directly, remove the upstream proxy from Pinhole's settings.`
            : 'Give Pinhole the proxy sign-in it needs (https_proxy=http://user:password@host:port, or the upstream proxy in the profile).',
        facts,
      },
    };
  }
  const errno = String(error.details?.['errno'] ?? '');
  const timedOut = error.code === 'PINHOLE_GATEWAY_TIMEOUT';
  const refused = errno === 'ECONNREFUSED';
  const verdict = timedOut
    ? `Nothing answered on port ${port} at ${where} ${via} in time: a firewall is probably dropping the connection.`
    : refused
      ? `The connection to ${where} was refused: nothing accepts it on port ${port} there (the gateway is down), or a firewall rejects the port.`
      : `TCP to ${where} could not be opened ${via}: ${error.message}`;
  return {
    hop: {
      hop: 'tcp',
      status: 'fail',
      code: error.code,
      verdict,
      action: proxy
        ? `Ask the proxy admin whether ${proxy} may connect to ${where}.`
        : `If other sites load, the firewall blocks TCP to ${where}: ask the firewall admin to allow it (see the last line). If only this gateway fails everywhere, tell your Pinhole administrator it does not answer.`,
      facts: { ...facts, ...(errno ? { errno } : {}) },
    },
  };
};

/** The presented certificate in words: for what name, issued by whom. */
interface PresentedCertificate {
  subject: string;
  issuer: string;
  names: string;
  sha256: string;
  selfSigned: boolean;
  coversName: boolean;
}

const nameOf = (fields: Record<string, string | string[] | undefined> | undefined): string => {
  if (!fields) return 'unknown';
  const pick = (key: string): string | undefined => {
    const value = fields[key];
    return Array.isArray(value) ? value[0] : value;
  };
  return [pick('CN'), pick('O')].filter((v): v is string => v !== undefined && v !== '').join(', ') || 'unknown';
};

const describe = (cert: DetailedPeerCertificate, serverName: string): PresentedCertificate => ({
  subject: nameOf(cert.subject as unknown as Record<string, string>),
  issuer: nameOf(cert.issuer as unknown as Record<string, string>),
  names: cert.subjectaltname ?? '',
  sha256: (cert.fingerprint256 ?? '').replace(/:/g, ''),
  selfSigned: cert.issuerCertificate === cert || JSON.stringify(cert.issuer) === JSON.stringify(cert.subject),
  coversName: checkServerIdentity(serverName, cert) === undefined,
});

const certificateFacts = (c: PresentedCertificate): Record<string, string> => ({ subject: c.subject, issuer: c.issuer, names: c.names, sha256: c.sha256 });

/** What a certificate that is not the gateway's most likely is, and what to do. */
const mismatchVerdict = (c: PresentedCertificate, target: GatewayTarget, where: string): { verdict: string; action: string } => {
  const stopped = 'Pinhole stopped before sending any credential.';
  if (c.coversName && !c.selfSigned)
    return {
      verdict: `The certificate presented for ${target.serverName} at ${where} is not the gateway's: it was issued by "${c.issuer}". This looks like TLS inspection: a firewall on this network re-signs the connection with its own authority. ${stopped}`,
      action: `Ask the firewall admin to exempt ${target.serverName} port ${where.split(':').pop() ?? '443'} from TLS inspection (SSL decryption bypass): Pinhole's own certificate check cannot work through it.`,
    };
  if (c.coversName)
    return {
      verdict: `The certificate presented for ${target.serverName} at ${where} is a different self-signed certificate ("${c.subject}") than the one in your link. ${stopped}`,
      action: 'If the gateway\'s certificate was replaced, ask your Pinhole administrator for a new link; if it was not, something on this network impersonates the gateway: tell the firewall admin.',
    };
  return {
    verdict: `Another server answers at ${where}: its certificate is for "${c.subject}"${c.names ? ` (${c.names})` : ''}, issued by "${c.issuer}", not for ${target.serverName} (a captive portal or a firewall's block page, or the wrong address). ${stopped}`,
    action: `Sign in to the network's portal if there is one; otherwise ask the firewall admin why connections to ${target.serverName} reach another server.`,
  };
};

/** Hop 3: the TLS handshake over the open socket, with the profile's options, judged by the product's pin check. */
export const checkTls = (socket: Socket, endpoint: Endpoint, target: GatewayTarget, timeoutMs: number): Promise<{ hop: HopResult; tls?: TLSSocket }> =>
  new Promise((resolve) => {
    const where = formatEndpoint(endpoint);
    const tls = tlsConnect({ socket, host: endpoint.host, ...tlsOptionsFor(target.trust, target.serverName), ALPNProtocols: ['http/1.1'], minVersion: 'TLSv1.2' });
    const timer = setTimeout(() => finish(gatewayError(Object.assign(new Error('no handshake in time'), { code: 'ETIMEDOUT' }))), timeoutMs);
    const finish = (error: PinholeError): void => {
      clearTimeout(timer);
      tls.destroy();
      socket.destroy();
      const reset = error.details?.['errno'] === 'ECONNRESET';
      resolve({
        hop: {
          hop: 'tls',
          status: 'fail',
          code: error.code,
          verdict:
            error.code === 'PINHOLE_TLS_UNTRUSTED'
              ? `The certificate presented at ${where} is not trusted for ${target.serverName} (${String(error.details?.['errno'] ?? error.message)}). This may be TLS inspection by a firewall. Pinhole stopped before sending any credential.`
              : reset
                ? `The TLS handshake with ${where} was cut off: a firewall that filters by server name (SNI) may be blocking ${target.serverName}.`
                : `The TLS handshake with ${where} did not complete: ${String(error.details?.['reason'] ?? error.message)}.`,
          action: `Ask the firewall admin to allow TLS to ${target.serverName} without inspection.`,
          facts: {},
        },
      });
    };
    tls.once('error', (err) => finish(gatewayError(err, 'tls')));
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      const presented = describe(tls.getPeerCertificate(true), target.serverName);
      try {
        verifyPeer(tls, target.trust);
      } catch (err) {
        tls.destroy();
        const error = err as PinholeError;
        resolve({ hop: { hop: 'tls', status: 'fail', code: error.code, ...mismatchVerdict(presented, target, where), facts: certificateFacts(presented) } });
        return;
      }
      tls.removeAllListeners('error');
      tls.on('error', () => undefined);
      const trust = target.trust.kind === 'pin' ? 'matches the pin in the link' : target.trust.kind === 'insecure' ? 'was not checked (--insecure)' : `is trusted for ${target.serverName}`;
      resolve({ hop: { hop: 'tls', status: 'pass', verdict: `The TLS handshake with ${where} completed and the certificate (issued by "${presented.issuer}") ${trust}.`, facts: certificateFacts(presented) }, tls });
    });
  });

/** What to do about a refused credential, by the gateway's code. */
const CREDENTIAL_ACTIONS: Partial<Record<string, string>> = {
  PINHOLE_AUTH_REJECTED: 'The password in this profile is wrong, or it was changed or revoked on the gateway: ask your administrator for a new link.',
  PINHOLE_CREDENTIAL_EXPIRED: 'Sign in again (the tunnel credential expired).',
  PINHOLE_CREDENTIAL_INVALID: 'Sign in again; if it keeps failing, ask your administrator for a new link.',
  PINHOLE_AUTH_THROTTLED: 'Too many wrong passwords came from this address: wait a few minutes, then check the password.',
};

/** Hops 4 and 5: one CONNECT with the credential, inside the verified TLS connection; its answer judges both. */
export const checkCredentialAndDestination = async (
  tls: TLSSocket,
  target: GatewayTarget,
  password: string,
  destination: Endpoint | undefined,
  timeoutMs: number,
): Promise<HopResult[]> => {
  const asked = destination ?? { host: target.serverName, port: 443 };
  const authority = formatEndpoint(asked);
  let answer;
  try {
    answer = await sendConnect(tls, { target: asked, headers: { 'Proxy-Authorization': basicCredentials(target.user, password) }, timeoutMs });
  } catch (err) {
    const why = err instanceof ConnectFailure && err.code === 'CONNECT_TIMEOUT' ? 'did not answer in time' : err instanceof ConnectFailure && err.code === 'CONNECT_REPLY_INVALID' ? 'answered something that is not HTTP' : 'closed the connection';
    return [{ hop: 'credential', status: 'fail', code: 'PINHOLE_GATEWAY_CLOSED', verdict: `The gateway ${why} when asked to open a tunnel with the credential.`, action: 'Try again; if it persists, send the diagnostics bundle to your Pinhole administrator.', facts: {} }];
  } finally {
    tls.destroy();
  }
  const ok = answer.status >= 200 && answer.status <= 299;
  const refusal = ok ? undefined : refusalError(answer.status, answer.headers['pinhole-error'], target.user, authority);
  const status = String(answer.status);
  if (refusal && (answer.status === 401 || answer.status === 407 || refusal.code === 'PINHOLE_AUTH_THROTTLED' || refusal.code.startsWith('PINHOLE_CREDENTIAL_') || refusal.code.startsWith('PINHOLE_IDENTITY_'))) {
    return [
      {
        hop: 'credential',
        status: 'fail',
        code: refusal.code,
        verdict: `The gateway refused the credential of ${target.user} (HTTP ${status}, ${refusal.code}): ${refusal.message}`,
        action: CREDENTIAL_ACTIONS[refusal.code] ?? 'Ask your administrator for a new link.',
        facts: { status },
      },
    ];
  }
  const credential: HopResult = { hop: 'credential', status: 'pass', verdict: `The gateway accepted the credential of ${target.user}.`, facts: {} };
  if (!destination)
    return [credential, { hop: 'destination', status: 'skip', verdict: 'No destination to try: give one the gateway allows (--destination HOST:PORT) to test a request through the tunnel.', facts: {} }];
  if (ok) return [credential, { hop: 'destination', status: 'pass', verdict: `The gateway opened a tunnel to ${authority}.`, facts: { destination: authority, status } }];
  const forbidden = answer.status === 403;
  return [
    credential,
    {
      hop: 'destination',
      status: 'fail',
      code: refusal?.code ?? 'PINHOLE_CONNECT_FAILED',
      verdict: `The gateway did not open a tunnel to ${authority} (HTTP ${status}, ${refusal?.code ?? ''}): ${refusal?.message ?? ''}`,
      action: forbidden
        ? `The gateway's policy does not allow ${authority}: try a destination it serves, or ask the gateway's operator to allow it.`
        : `The gateway could not reach ${authority}: check the destination, or ask the gateway's operator.`,
      facts: { destination: authority, status },
    },
  ];
};

const sameHost = (a: string, b: string): boolean => {
  const local = (h: string): string => (h === 'localhost' || h === '::1' || h === '[::1]' ? '127.0.0.1' : h.replace(/^\[|\]$/g, ''));
  return local(a) === local(b);
};

/** Hop 6: the OS proxy (or its PAC) points at the local proxy, when one runs. */
export const checkSystemProxy = (local: Endpoint | undefined, current: OsProxy | undefined, source: string): HopResult => {
  if (!local) return { hop: 'system-proxy', status: 'skip', verdict: 'No local Pinhole proxy is running here, so the system proxy was not checked.', facts: {} };
  const where = formatEndpoint(local);
  const how = 'Turn on "Set the system proxy" in Pinhole (or run `pinhole connect --system-proxy`), or point the application at ' + where + '.';
  if (!current || current.kind === 'none')
    return { hop: 'system-proxy', status: 'fail', code: 'PINHOLE_SYSTEM_PROXY_OFF', verdict: `The system proxy (${source}) is off: applications go directly, not through Pinhole at ${where}.`, action: how, facts: { source } };
  if (current.kind === 'manual') {
    if (sameHost(current.proxy.host, local.host) && current.proxy.port === local.port)
      return { hop: 'system-proxy', status: 'pass', verdict: `The system proxy (${source}) points at Pinhole's local proxy ${where}.`, facts: { source, proxy: formatEndpoint(current.proxy) } };
    return { hop: 'system-proxy', status: 'fail', code: 'PINHOLE_SYSTEM_PROXY_ELSEWHERE', verdict: `The system proxy (${source}) points at ${formatEndpoint(current.proxy)}, not at Pinhole's local proxy ${where}.`, action: how, facts: { source, proxy: formatEndpoint(current.proxy) } };
  }
  let url: URL | undefined;
  try {
    url = new URL(current.url);
  } catch {
    url = undefined;
  }
  const pacPort = url ? Number(url.port || (url.protocol === 'https:' ? 443 : 80)) : 0;
  if (url && sameHost(url.hostname, local.host) && pacPort === local.port)
    return { hop: 'system-proxy', status: 'pass', verdict: `The system proxy (${source}) uses Pinhole's PAC at ${current.url}.`, facts: { source, pac: current.url } };
  return { hop: 'system-proxy', status: 'fail', code: 'PINHOLE_SYSTEM_PROXY_ELSEWHERE', verdict: `The system proxy (${source}) uses the PAC ${current.url}, not Pinhole's at http://${where}/proxy.pac.`, action: how, facts: { source, pac: current.url } };
};
