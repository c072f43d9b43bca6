/**
 * Runs a corporate PAC file's FindProxyForURL for one URL, in a node:vm context with the standard
 * PAC helper functions (after Mozilla's pac_utils.js), a time limit and no Node globals. The only
 * name it can resolve is the one the caller resolved beforehand (the gateway's), so evaluating a
 * PAC never sends DNS queries or any other traffic.
 */
import vm from 'node:vm';
import { PinholeError } from '../../shared/errors.js';
import { parseEndpoint, type Endpoint } from '../../shared/profile.js';

const PAC_HELPERS = String.raw`
function dnsDomainIs(host, domain) {
  return host.length >= domain.length && host.substring(host.length - domain.length) == domain;
}
function dnsDomainLevels(host) { return host.split('.').length - 1; }
function shExpMatch(str, pattern) {
  pattern = pattern.replace(/[.+^$()|{}\[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp('^' + pattern + '$').test(str);
}
function isPlainHostName(host) { return host.search('\\.') == -1; }
function localHostOrDomainIs(host, hostdom) {
  return host == hostdom || hostdom.lastIndexOf(host + '.', 0) == 0;
}
function dnsResolve(host) { return __pinholeResolve(String(host)); }
function isResolvable(host) { return dnsResolve(host) != null; }
function myIpAddress() { return '127.0.0.1'; }
function convert_addr(ipchars) {
  var bytes = ipchars.split('.');
  return ((bytes[0] & 0xff) << 24) | ((bytes[1] & 0xff) << 16) | ((bytes[2] & 0xff) << 8) | (bytes[3] & 0xff);
}
function isInNet(ipaddr, pattern, maskstr) {
  var test = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ipaddr);
  if (test == null) { ipaddr = dnsResolve(ipaddr); if (ipaddr == null) return false; }
  else if (test[1] > 255 || test[2] > 255 || test[3] > 255 || test[4] > 255) return false;
  var host = convert_addr(ipaddr), pat = convert_addr(pattern), mask = convert_addr(maskstr);
  return (host & mask) == (pat & mask);
}
function weekdayRange() { return true; }
function dateRange() { return true; }
function timeRange() { return true; }
function alert() {}
`;

export interface PacEvaluation {
  /** The raw answer, e.g. "PROXY proxy.corp:3128; DIRECT". */
  answer: string;
  /** The first usable HTTP proxy in it, or undefined when the first usable entry is DIRECT. */
  proxy: Endpoint | undefined;
}

/** "PROXY a:1; SOCKS b:2; DIRECT" -> the first PROXY/HTTP/HTTPS entry before any DIRECT. */
export const firstHttpProxy = (answer: string): Endpoint | undefined => {
  for (const entry of answer.split(';')) {
    const [kind = '', where = ''] = entry.trim().split(/\s+/);
    const upper = kind.toUpperCase();
    if (upper === 'DIRECT') return undefined;
    if (upper === 'PROXY' || upper === 'HTTP' || upper === 'HTTPS') {
      const endpoint = parseEndpoint(where);
      if (endpoint) return endpoint;
    }
  }
  return undefined;
};

/**
 * Evaluates `FindProxyForURL(url, host)`. `resolved` maps the names dnsResolve may answer (the
 * caller looks them up first); IP literals resolve to themselves.
 */
export const evaluatePac = (pac: string, url: string, host: string, resolved: Record<string, string> = {}, timeoutMs = 1_000): PacEvaluation => {
  const resolve = (name: string): string | null => (/^\d{1,3}(\.\d{1,3}){3}$/.test(name) ? name : (resolved[name.toLowerCase()] ?? null));
  const context = vm.createContext({ __pinholeResolve: resolve }, { codeGeneration: { strings: false, wasm: false } });
  let answer: unknown;
  try {
    vm.runInContext(PAC_HELPERS, context, { timeout: timeoutMs });
    vm.runInContext(pac, context, { timeout: timeoutMs, filename: 'proxy.pac' });
    context.__url = url;
    context.__host = host;
    answer = vm.runInContext('FindProxyForURL(__url, __host)', context, { timeout: timeoutMs });
  } catch (error) {
    throw new PinholeError('PINHOLE_UPSTREAM_PROXY_FAILED', `The proxy auto-configuration (PAC) file could not be evaluated: ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
  }
  const text = typeof answer === 'string' ? answer : '';
  return { answer: text, proxy: firstHttpProxy(text) };
};
