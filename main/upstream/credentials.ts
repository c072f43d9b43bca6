/**
 * The corporate proxy's user name and password, read where users already keep them: in a proxy
 * URL (`https_proxy=http://user:pass@host:port`, percent-encoded as curl reads it) and in GNOME's
 * proxy settings (`org.gnome.system.proxy.http` use-authentication, authentication-user,
 * authentication-password; GNOME applies the http credentials to https too, see
 * gnome-credentials.ts). Pure parsers.
 *
 * macOS keeps proxy passwords in the Keychain (internet password for the proxy host) and Windows
 * in the Credential Manager; neither is read yet: `CredentialsReader` is the seam where they plug
 * in beside `readGnomeCredentials` (gnome-credentials.ts).
 */
import type { Endpoint } from '../../shared/profile.js';

export interface ProxyCredentials {
  user: string;
  password: string;
  /** Where they were read, as words for a log line ("the environment (https_proxy)"). Never the secret. */
  source: string;
}

/** Reads the credentials one OS keeps for its proxy; undefined when it keeps none. */
export type CredentialsReader = () => Promise<ProxyCredentials | undefined>;

/** The proxy variables, in the order curl prefers them for an https:// URL. */
export const PROXY_ENV_NAMES = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'] as const;

export interface ProxyUrl {
  proxy: Endpoint;
  credentials?: { user: string; password: string };
}

const decode = (text: string): string => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

/**
 * `http://user:pass@host:port`, `user:pass@host:port` or `host:port` (default port 80). Only
 * plain-http proxies: another scheme (socks5://, https://) gives undefined. The user and password
 * are percent-decoded; as in curl, a URL with a user name or a password carries credentials (an
 * empty user name with a password is sent as such), one with neither carries none.
 */
export const parseProxyUrl = (value: string): ProxyUrl | undefined => {
  const text = value.trim();
  if (text === '') return undefined;
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `http://${text}`);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:') return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || '80');
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const proxy = { host, port };
  if (url.username === '' && url.password === '') return { proxy };
  return { proxy, credentials: { user: decode(url.username), password: decode(url.password) } };
};

/** The first proxy variable that is set and usable, with its name. */
export const proxyFromEnv = (env: Record<string, string | undefined>): (ProxyUrl & { name: string }) | undefined => {
  for (const name of PROXY_ENV_NAMES) {
    const value = env[name];
    if (!value) continue;
    const parsed = parseProxyUrl(value);
    if (parsed) return { ...parsed, name };
  }
  return undefined;
};

const sameEndpoint = (a: Endpoint, b: Endpoint): boolean => a.port === b.port && a.host.toLowerCase() === b.host.toLowerCase();

/** Credentials the environment gives for exactly this proxy (a variable naming the same host and port). */
export const envCredentialsFor = (proxy: Endpoint, env: Record<string, string | undefined>): ProxyCredentials | undefined => {
  for (const name of PROXY_ENV_NAMES) {
    const value = env[name];
    const parsed = value ? parseProxyUrl(value) : undefined;
    if (parsed?.credentials && sameEndpoint(parsed.proxy, proxy)) return { ...parsed.credentials, source: `the environment (${name})` };
  }
  return undefined;
};
