/**
 * What proxy the operating system was told to use, read back from a system-proxy snapshot
 * (main/sysproxy: the fields each adapter manages, as the platform prints them). Pure: the
 * adapters own reading and writing; this only interprets their field values, so a corporate PAC
 * URL or a corporate proxy can be found in the settings saved before Pinhole applied its own.
 */
import { parseEndpoint, type Endpoint } from '../../shared/profile.js';
import type { ProxyFields } from '../sysproxy/types.js';
import { proxyFromEnv } from './credentials.js';

export type OsProxy = { kind: 'none' } | { kind: 'pac'; url: string } | { kind: 'manual'; proxy: Endpoint };

const NONE: OsProxy = { kind: 'none' };

/** A GVariant string as gsettings prints it ('text' or "text", with backslash escapes). */
export const parseGvString = (text: string | null | undefined): string => {
  if (!text) return '';
  const quote = text[0];
  if ((quote !== "'" && quote !== '"') || text[text.length - 1] !== quote) return text;
  const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', a: '\u0007' };
  return text.slice(1, -1).replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c: string) => (c.length === 5 ? String.fromCharCode(parseInt(c.slice(1), 16)) : (escapes[c] ?? c)));
};

const endpoint = (host: string, port: number | string): Endpoint | undefined => {
  const h = host.trim();
  const p = Number(port);
  if (h === '' || !Number.isInteger(p) || p < 1 || p > 65535) return undefined;
  return { host: h.replace(/^\[|\]$/g, ''), port: p };
};

const manual = (proxy: Endpoint | undefined): OsProxy => (proxy ? { kind: 'manual', proxy } : NONE);

const gnome = (f: ProxyFields): OsProxy => {
  const mode = parseGvString(f['org.gnome.system.proxy mode']);
  if (mode === 'auto') {
    const url = parseGvString(f['org.gnome.system.proxy autoconfig-url']);
    return url ? { kind: 'pac', url } : NONE;
  }
  if (mode !== 'manual') return NONE;
  const https = endpoint(parseGvString(f['org.gnome.system.proxy.https host']), f['org.gnome.system.proxy.https port'] ?? '');
  return manual(https ?? endpoint(parseGvString(f['org.gnome.system.proxy.http host']), f['org.gnome.system.proxy.http port'] ?? ''));
};

/** kioslaverc writes `http://host port` (or `host:port`). */
const kdeProxy = (value: string | null | undefined): Endpoint | undefined => {
  if (!value) return undefined;
  const bare = value.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/$/, '');
  const spaced = /^(.+) (\d+)$/.exec(bare);
  return spaced ? endpoint(spaced[1] ?? '', spaced[2] ?? '') : parseEndpoint(bare);
};

const kde = (f: ProxyFields): OsProxy => {
  if (f.ProxyType === '2') return f['Proxy Config Script'] ? { kind: 'pac', url: f['Proxy Config Script'] } : NONE;
  if (f.ProxyType !== '1') return NONE;
  return manual(kdeProxy(f.httpsProxy) ?? kdeProxy(f.httpProxy));
};

/** `REG_SZ data` -> data. */
const regData = (value: string | null | undefined): string => (value ? value.replace(/^REG_[A-Z_]+ ?/, '') : '');

/** ProxyServer is `host:port` or `http=h:p;https=h:p;...`. */
export const windowsProxyServer = (server: string): Endpoint | undefined => {
  if (!server.includes('=')) return parseEndpoint(server.trim().replace(/^[a-z]+:\/\//i, ''));
  const parts = new Map(server.split(';').map((p) => p.split('=').map((s) => s.trim()) as [string, string]));
  const chosen = parts.get('https') ?? parts.get('http');
  return chosen ? parseEndpoint(chosen.replace(/^[a-z]+:\/\//i, '')) : undefined;
};

const windows = (f: ProxyFields): OsProxy => {
  const pac = regData(f.AutoConfigURL).trim();
  if (pac) return { kind: 'pac', url: pac };
  if (Number(regData(f.ProxyEnable)) !== 1) return NONE;
  return manual(windowsProxyServer(regData(f.ProxyServer)));
};

/** macOS: fields per network service; the first service with an enabled auto-proxy or secure web proxy wins. */
const macos = (f: ProxyFields): OsProxy => {
  const services = new Map<string, Record<string, unknown>>();
  for (const [name, value] of Object.entries(f)) {
    if (value === null) continue;
    try {
      const [service, setting] = JSON.parse(name) as [string, string];
      const entry = services.get(service) ?? {};
      entry[setting] = JSON.parse(value);
      services.set(service, entry);
    } catch {
      // not a macOS field
    }
  }
  for (const settings of services.values()) {
    const auto = settings.autoproxy as { enabled?: boolean; url?: string } | undefined;
    if (auto?.enabled && auto.url) return { kind: 'pac', url: auto.url };
    for (const key of ['secureweb', 'web']) {
      const web = settings[key] as { enabled?: boolean; server?: string; port?: number } | undefined;
      const proxy = web?.enabled ? endpoint(web.server ?? '', web.port ?? 0) : undefined;
      if (proxy) return manual(proxy);
    }
  }
  return NONE;
};

/** The proxy a snapshot from adapter `adapter` describes. */
export const osProxyFrom = (adapter: string, fields: ProxyFields): OsProxy => {
  if (adapter === 'gnome') return gnome(fields);
  if (adapter.startsWith('kde')) return kde(fields);
  if (adapter === 'windows') return windows(fields);
  if (adapter === 'macos') return macos(fields);
  return NONE;
};

/** Headless machines: https_proxy, HTTPS_PROXY, http_proxy, HTTP_PROXY, then ALL_PROXY (http:// only), as curl reads them. */
export const osProxyFromEnv = (env: Record<string, string | undefined>): OsProxy => manual(proxyFromEnv(env)?.proxy);
