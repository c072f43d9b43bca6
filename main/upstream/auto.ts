/**
 * `--upstream-proxy auto`: the corporate proxy in front of the gateway, taken from the OS settings
 * as they were before Pinhole applied its own (the system-proxy state file's snapshot while a
 * Pinhole session holds the settings, the live settings otherwise). A corporate PAC is fetched
 * (plain http, as corporate PAC servers serve it) and evaluated for the gateway's URL.
 */
import { lookup } from 'node:dns/promises';
import { get as httpGet } from 'node:http';
import { isIP } from 'node:net';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { formatEndpoint, type Endpoint } from '../../shared/profile.js';
import { execFileRunner } from '../sysproxy/command-runner.js';
import { detectAdapter } from '../sysproxy/detect.js';
import { readState, stateFilePath } from '../sysproxy/state.js';
import type { SystemProxyAdapter } from '../sysproxy/types.js';
import type { UpstreamProxy } from '../tunnel/transport.js';
import { envCredentialsFor, type CredentialsReader, type ProxyCredentials } from './credentials.js';
import { readGnomeCredentials } from './gnome-credentials.js';
import { osProxyFrom, osProxyFromEnv, type OsProxy } from './os-proxy.js';
import { evaluatePac } from './pac-eval.js';
import { DIAL_SOCKET_OPTIONS } from '../../node/socket-options.js';

const PAC_MAX_BYTES = 1024 * 1024;

/** GETs a PAC file over http (size and time limited). */
export const fetchPac = (url: string, timeoutMs = 5_000): Promise<string> =>
  new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new PinholeError('PINHOLE_UPSTREAM_PROXY_FAILED', `The system's proxy auto-configuration URL "${url}" is not a URL.`));
      return;
    }
    if (parsed.protocol !== 'http:') {
      reject(new PinholeError('PINHOLE_UPSTREAM_PROXY_FAILED', `Only http:// proxy auto-configuration URLs can be read (got ${parsed.protocol}).`));
      return;
    }
    const fail = (why: string, cause?: unknown): void =>
      reject(new PinholeError('PINHOLE_UPSTREAM_PROXY_FAILED', `The proxy auto-configuration file at ${url} could not be read: ${why}.`, { cause }));
    const req = httpGet(parsed, { ...DIAL_SOCKET_OPTIONS, timeout: timeoutMs, headers: { accept: 'application/x-ns-proxy-autoconfig, */*' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail(`HTTP ${res.statusCode}`);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > PAC_MAX_BYTES) {
          req.destroy();
          fail('it is larger than 1 MiB');
          return;
        }
        chunks.push(chunk);
      });
      res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.once('error', (error) => fail(error.message, error));
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', (error) => fail(error.message, error));
  });

export interface OsUpstreamOptions {
  /** The gateway the proxy is wanted for. */
  gateway: Endpoint;
  logger: Logger;
  stateDir?: string;
  /** Default: the adapter detectAdapter() picks; none recognised falls back to https_proxy. */
  adapter?: SystemProxyAdapter;
  /**
   * The OS's own proxy credentials. Default: GNOME's (org.gnome.system.proxy.http) when the
   * settings are GNOME's and no `adapter` was passed in; none otherwise. macOS (Keychain) and
   * Windows (Credential Manager) readers would plug in here.
   */
  credentials?: CredentialsReader;
  env?: Record<string, string | undefined>;
}

/** The OS proxy settings as they were before Pinhole, where they were read, and which adapter's they are. */
export const readOsProxy = async ({ stateDir, adapter, env = process.env, logger }: Omit<OsUpstreamOptions, 'gateway' | 'credentials'>): Promise<{ proxy: OsProxy; source: string; adapter?: string }> => {
  const state = await readState(stateFilePath(stateDir, env), logger);
  if (state) return { proxy: osProxyFrom(state.adapter, state.snapshot), source: `saved ${state.adapter} settings`, adapter: state.adapter };
  let chosen = adapter;
  if (!chosen) {
    try {
      chosen = detectAdapter(env);
    } catch {
      return { proxy: osProxyFromEnv(env), source: 'environment' };
    }
  }
  return { proxy: osProxyFrom(chosen.name, (await chosen.read()).fields), source: `${chosen.name} settings`, adapter: chosen.name };
};

/** The reader for the credentials the OS keeps beside its proxy settings, if Pinhole can read them there. */
const osCredentialsReader = (options: OsUpstreamOptions, adapter: string | undefined): CredentialsReader | undefined => {
  if (options.credentials) return options.credentials;
  if (options.adapter) return undefined;
  return adapter === 'gnome' ? readGnomeCredentials(execFileRunner) : undefined;
};

/**
 * The corporate proxy's user name and password: the OS settings' own (GNOME's, for a manual
 * proxy), else a proxy variable in the environment naming the same host and port.
 */
const credentialsFor = async (proxy: Endpoint, kind: OsProxy['kind'], adapter: string | undefined, options: OsUpstreamOptions): Promise<ProxyCredentials | undefined> => {
  const reader = kind === 'manual' ? osCredentialsReader(options, adapter) : undefined;
  if (reader) {
    try {
      const found = await reader();
      if (found) return found;
    } catch (error) {
      options.logger.warn({ adapter, code: error instanceof PinholeError ? error.code : undefined }, "The system proxy's saved user name and password could not be read.");
    }
  }
  return envCredentialsFor(proxy, options.env ?? process.env);
};

const withCredentials = async (proxy: Endpoint, kind: OsProxy['kind'], adapter: string | undefined, options: OsUpstreamOptions): Promise<UpstreamProxy> => {
  const credentials = await credentialsFor(proxy, kind, adapter, options);
  const where = formatEndpoint(proxy);
  if (!credentials) {
    options.logger.info({ upstreamProxy: where }, 'No user name for the corporate proxy was found; it is asked without credentials.');
    return { host: proxy.host, port: proxy.port };
  }
  options.logger.info({ upstreamProxy: where, proxyUser: credentials.user, credentialsFrom: credentials.source }, `The corporate proxy's user name and password were read from ${credentials.source}.`);
  return { host: proxy.host, port: proxy.port, user: credentials.user, password: credentials.password };
};

/**
 * The corporate proxy to reach `gateway` through, with the user name and password found for it,
 * or undefined when the OS says to go direct.
 */
export const resolveOsUpstream = async (options: OsUpstreamOptions): Promise<UpstreamProxy | undefined> => {
  const { gateway, logger } = options;
  const { proxy, source, adapter } = await readOsProxy(options);
  if (proxy.kind === 'none') {
    logger.info({ source }, 'The system has no proxy set; the gateway is reached directly.');
    return undefined;
  }
  if (proxy.kind === 'manual') {
    logger.info({ source, upstreamProxy: formatEndpoint(proxy.proxy) }, 'The gateway is reached through the system proxy.');
    return withCredentials(proxy.proxy, 'manual', adapter, options);
  }
  const pac = await fetchPac(proxy.url);
  const resolved: Record<string, string> = {};
  if (!isIP(gateway.host)) {
    const address = await lookup(gateway.host, { family: 4 }).catch(() => undefined);
    if (address) resolved[gateway.host.toLowerCase()] = address.address;
  }
  const host = gateway.host.includes(':') ? `[${gateway.host}]` : gateway.host;
  const url = `https://${host}${gateway.port === 443 ? '' : `:${gateway.port}`}/`;
  const result = evaluatePac(pac, url, gateway.host, resolved);
  logger.info({ source, pacUrl: proxy.url, answer: result.answer, upstreamProxy: result.proxy ? formatEndpoint(result.proxy) : 'DIRECT' }, 'The system proxy auto-configuration was evaluated for the gateway.');
  return result.proxy ? withCredentials(result.proxy, 'pac', adapter, options) : undefined;
};
