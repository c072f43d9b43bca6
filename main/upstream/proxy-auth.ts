/**
 * What a corporate proxy's `407 Proxy Authentication Required` to our CONNECT means for the user:
 * no credentials were found, the ones sent were rejected, or the proxy only offers a sign-in
 * scheme Pinhole does not speak (Pinhole sends Basic only; Negotiate/Kerberos and NTLM are not
 * implemented). Pure: the socket plumbing (tunnel/dial.ts) hands in the reply's headers.
 */
import { PinholeError } from '../../shared/errors.js';
import { formatEndpoint, type Endpoint } from '../../shared/profile.js';

const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Splits on commas outside quoted strings. */
const splitList = (header: string): string[] => {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < header.length; i += 1) {
    const c = header[i];
    if (c === '\\' && quoted) {
      current += c + (header[i + 1] ?? '');
      i += 1;
    } else if (c === '"') {
      quoted = !quoted;
      current += c;
    } else if (c === ',' && !quoted) {
      parts.push(current.trim());
      current = '';
    } else current += c;
  }
  parts.push(current.trim());
  return parts.filter((p) => p !== '');
};

/**
 * The auth schemes in a (possibly comma-joined) `Proxy-Authenticate` value, in order, as sent:
 * `Basic realm="a, b", Negotiate, NTLM` -> ['Basic', 'Negotiate', 'NTLM']. An element that starts
 * with `name=` is a parameter of the scheme before it, not a scheme.
 */
export const authSchemes = (header: string | undefined): string[] => {
  if (!header) return [];
  const schemes: string[] = [];
  for (const part of splitList(header)) {
    const first = /^([^\s=]+)(\s*=)?/.exec(part);
    if (!first?.[1] || first[2] !== undefined || !TOKEN.test(first[1])) continue;
    if (!schemes.some((s) => s.toLowerCase() === first[1]?.toLowerCase())) schemes.push(first[1]);
  }
  return schemes;
};

export const LOOKED_IN =
  'https_proxy, HTTPS_PROXY, http_proxy, HTTP_PROXY and ALL_PROXY (as http://user:password@host:port, percent-encoded) and the GNOME proxy settings (org.gnome.system.proxy.http authentication-user and authentication-password)';

export interface ProxyAuthFailure {
  proxy: Endpoint;
  /** The user name sent, when credentials were sent. */
  user: string | undefined;
  /** The reply's headers, names lower-cased. */
  headers: Record<string, string>;
}

/** The error for a 407 from the corporate proxy. Names the user, never the password. */
export const upstreamAuthError = ({ proxy, user, headers }: ProxyAuthFailure): PinholeError => {
  const where = formatEndpoint(proxy);
  const schemes = authSchemes(headers['proxy-authenticate']);
  const details = { status: 407, upstreamProxy: where, schemes, ...(user !== undefined ? { user } : {}) };
  if (schemes.length > 0 && !schemes.some((s) => s.toLowerCase() === 'basic')) {
    return new PinholeError(
      'PINHOLE_UPSTREAM_AUTH_UNSUPPORTED',
      `The corporate proxy at ${where} asks for ${schemes.join(' or ')} sign-in (HTTP 407), and Pinhole only signs in to a corporate proxy with Basic (a user name and password). Ask for a proxy account that accepts Basic authentication.`,
      { details },
    );
  }
  if (user === undefined) {
    return new PinholeError(
      'PINHOLE_UPSTREAM_AUTH_REQUIRED',
      `The corporate proxy at ${where} wants a user name and password (HTTP 407), and none was found. Pinhole looked in ${LOOKED_IN}.`,
      { details },
    );
  }
  return new PinholeError(
    'PINHOLE_UPSTREAM_AUTH_REJECTED',
    `The corporate proxy at ${where} rejected the user name "${user}" and its password (HTTP 407). Correct them where they are set (a proxy variable such as https_proxy, the GNOME proxy settings, or the profile's corporate proxy).`,
    { details },
  );
};
