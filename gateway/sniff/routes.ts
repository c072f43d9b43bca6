/**
 * Where a sniffed connection goes: the sslh/haproxy routing rules as one pure function, so the
 * gateway's accept loop is "sniff, chooseRoute, act".
 *
 * - TLS with no SNI, or SNI naming the gateway itself: terminate (the gateway's own TLS service).
 * - TLS whose SNI matches an `--sni NAME=H:P` pattern (first match in order): forward untouched.
 *   Patterns are exact names or `*.example.org`, which matches exactly one label, as a
 *   certificate wildcard does (`a.example.org`, not `example.org` nor `a.b.example.org`).
 *   Matching ignores case and a trailing dot.
 * - Other TLS: `--tls` if set, otherwise terminate, so a prober with a random name sees the
 *   gateway's ordinary web face rather than a closed port.
 * - ssh, openvpn, http (also HTTP/2 prior knowledge, h2c), and custom probe names go to their
 *   route; a recognised protocol without a route falls back to anyprot, as in sslh where an
 *   unconfigured protocol is simply not probed.
 * - Timeout: the `onTimeout` route; unset, to ssh when ssh is set (sslh's default, for
 *   ssh-keyscan and other clients that wait for the banner); otherwise close.
 * - Nothing recognised: anyprot, or close. Peer closed early: close.
 */
import type { ClientHello } from './client-hello.js';

export interface SniRoute<T> {
  readonly pattern: string;
  readonly target: T;
}

export interface RouteTable<T = string> {
  readonly ssh?: T;
  readonly openvpn?: T;
  readonly http?: T;
  readonly tls?: T;
  readonly anyprot?: T;
  readonly sni: readonly SniRoute<T>[];
  /** Routes for custom probes, by probe name. */
  readonly custom?: Readonly<Record<string, T>>;
  /** Route name for silent clients: 'ssh', 'openvpn', 'http', 'tls', 'anyprot' or a custom name. */
  readonly onTimeout?: string;
}

export type RouteDecision<T = string> =
  | { readonly kind: 'terminate'; readonly serverName?: string }
  | { readonly kind: 'forward'; readonly target: T; readonly name: string; readonly serverName?: string }
  | { readonly kind: 'close'; readonly reason: string };

/** The part of a sniff result routing needs (a SniffResult fits). */
export type SniffVerdict =
  | { readonly result: 'match'; readonly name: string; readonly hello?: ClientHello }
  | { readonly result: 'timeout' }
  | { readonly result: 'none' }
  | { readonly result: 'closed' };

/** Lower case, no trailing dot. */
export const normaliseHostname = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** Does `name` match `pattern` (exact, or `*.rest` for exactly one extra label)? */
export function hostnameMatches(pattern: string, name: string): boolean {
  const p = normaliseHostname(pattern);
  const n = normaliseHostname(name);
  if (!p.startsWith('*.')) return p === n;
  const suffix = p.slice(1); // ".example.org"
  if (!n.endsWith(suffix)) return false;
  const label = n.slice(0, n.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

export function chooseRoute<T>(verdict: SniffVerdict, table: RouteTable<T>, ownNames: readonly string[]): RouteDecision<T> {
  switch (verdict.result) {
    case 'closed':
      return { kind: 'close', reason: 'the client closed the connection before sending a recognisable protocol' };
    case 'none':
      return fallback(table, 'anyprot', 'no protocol was recognised and no anyprot route is set');
    case 'timeout': {
      const name = table.onTimeout ?? (table.ssh !== undefined ? 'ssh' : undefined);
      if (name === undefined) return { kind: 'close', reason: 'the client sent nothing recognisable in time and no timeout route is set' };
      const target = routeFor(table, name);
      return target === undefined
        ? { kind: 'close', reason: `the timeout route ${name} is not configured` }
        : { kind: 'forward', target, name };
    }
    case 'match':
      if (verdict.name === 'tls') return tlsRoute(verdict.hello, table, ownNames);
      return forwardOrAnyprot(table, verdict.name === 'http2' ? 'http' : verdict.name);
  }
}

function tlsRoute<T>(hello: ClientHello | undefined, table: RouteTable<T>, ownNames: readonly string[]): RouteDecision<T> {
  const sni = hello?.serverName;
  if (sni === undefined) return { kind: 'terminate' };
  const serverName = normaliseHostname(sni);
  if (ownNames.some((own) => hostnameMatches(own, serverName))) return { kind: 'terminate', serverName };
  const route = table.sni.find((r) => hostnameMatches(r.pattern, serverName));
  if (route !== undefined) return { kind: 'forward', target: route.target, name: 'sni', serverName };
  if (table.tls !== undefined) return { kind: 'forward', target: table.tls, name: 'tls', serverName };
  return { kind: 'terminate', serverName };
}

function routeFor<T>(table: RouteTable<T>, name: string): T | undefined {
  switch (name) {
    case 'ssh':
    case 'openvpn':
    case 'http':
    case 'tls':
    case 'anyprot':
      return table[name];
    default:
      return table.custom !== undefined && Object.prototype.hasOwnProperty.call(table.custom, name) ? table.custom[name] : undefined;
  }
}

function forwardOrAnyprot<T>(table: RouteTable<T>, name: string): RouteDecision<T> {
  const target = routeFor(table, name);
  if (target !== undefined) return { kind: 'forward', target, name };
  return fallback(table, 'anyprot', `${name} was recognised but neither a ${name} nor an anyprot route is set`);
}

function fallback<T>(table: RouteTable<T>, name: 'anyprot', reason: string): RouteDecision<T> {
  return table.anyprot !== undefined ? { kind: 'forward', target: table.anyprot, name } : { kind: 'close', reason };
}
