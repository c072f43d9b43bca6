/**
 * The CONNECT-UDP target as RFC 9298 section 2 puts it in the request's :path, with the default
 * URI template `/.well-known/masque/udp/{target_host}/{target_port}/`. The host is percent-encoded
 * (an IPv6 literal's colons become %3A); a name stays a name, resolved by the gateway. Pure.
 */
import { PinholeError } from '../errors.js';

export const MASQUE_UDP_PREFIX = '/.well-known/masque/udp/';
/** The HTTP/2 extended CONNECT :protocol of CONNECT-UDP (RFC 9298 section 3). */
export const CONNECT_UDP_PROTOCOL = 'connect-udp';

export interface UdpTarget {
  readonly host: string;
  readonly port: number;
}

/** RFC 3986 unreserved characters stay; everything else is percent-encoded (":" included). */
const encodeHost = (host: string): string =>
  Array.from(new TextEncoder().encode(host), (b) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');

export const formatConnectUdpPath = (target: UdpTarget): string => {
  const host = target.host.replace(/^\[(.*)\]$/, '$1');
  return `${MASQUE_UDP_PREFIX}${encodeHost(host)}/${target.port}/`;
};

const bad = (path: string, why: string): PinholeError =>
  new PinholeError('PINHOLE_BAD_REQUEST', `The CONNECT-UDP path ${JSON.stringify(path.slice(0, 200))} ${why}; expected ${MASQUE_UDP_PREFIX}HOST/PORT/.`);

/** The target named by a CONNECT-UDP :path; throws PINHOLE_BAD_REQUEST. A query string is ignored. */
export const parseConnectUdpPath = (path: string): UdpTarget => {
  const bare = path.split('?')[0]!;
  if (!bare.startsWith(MASQUE_UDP_PREFIX)) throw bad(path, 'is not under the MASQUE UDP prefix');
  const parts = bare.slice(MASQUE_UDP_PREFIX.length).split('/');
  if (parts.length !== 3 || parts[2] !== '') throw bad(path, 'does not have exactly a host and a port');
  const [hostText, portText] = parts as [string, string];
  let host: string;
  try {
    host = decodeURIComponent(hostText);
  } catch {
    throw bad(path, 'has a broken percent-encoding');
  }
  host = host.replace(/^\[(.*)\]$/, '$1');
  if (host === '' || /[\s/\p{Cc}[\]]/u.test(host) || host.length > 253) throw bad(path, 'has no valid host');
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw bad(path, 'has no valid port (1-65535)');
  return { host, port: Number(portText) };
};
