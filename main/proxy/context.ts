/**
 * What the local proxy's jobs (CONNECT, absolute-URI forwarding, SOCKS5) share: where a request
 * goes (the router), the named tunnel opener (main/tunnel/opener.ts: the tunnel, an early tunnel),
 * a direct dial, the tunnel counters and the refusal log. The listener (local-proxy.ts) builds one
 * per proxy from its own parts; nothing in it calls back into the engine.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RelayTimeouts } from '../../node/relay.js';
import type { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { RouteDecision } from '../routing.js';
import type { TunnelOpening } from '../tunnel/opener.js';
import type { TunnelTarget } from '../tunnel/transport.js';

/** What the local proxy knows when it asks where a request goes. */
export interface RouteRequest {
  host: string;
  port: number;
  /** The application's connection to the local proxy (per-app lookup uses its port). */
  socket: Socket;
}

/**
 * Decides each request's route once (main/app-router.ts composes app lookup and main/routing.ts).
 * No decision (undefined) means the one default, the tunnel (`LocalProxy.route`).
 */
export interface Router {
  route(request: RouteRequest): Promise<RouteDecision | undefined> | RouteDecision | undefined;
}

/**
 * For HTTP/1.1 gateways (Squid refuses CONNECT to non-TLS ports): a connection to the gateway that
 * takes absolute-URI requests with this Proxy-Authorization. Plain HTTP then travels as a proxy
 * request instead of a CONNECT tunnel.
 */
export interface ForwardHttp {
  /** The Proxy-Authorization value now (a signed-in user's credential is renewed while tunnels run). */
  authorization(): string;
  user: string;
  /** Where those connections come from (the tunnel opener). */
  connections: { proxyConnection(): Promise<Duplex> };
}

/** Open and total tunnels, counted where a tunnel opens and where it closes: nothing per chunk. */
export class TunnelCount {
  open = 0;
  total = 0;

  /** Counts one more tunnel; the returned function counts it closed (once, however often it is called). */
  opened(): () => void {
    this.open += 1;
    this.total += 1;
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      this.open -= 1;
    };
  }
}

export interface ProxyContext {
  readonly logger: Logger;
  readonly tunnels: TunnelCount;
  /** Where a request goes, asked once per request; a failing router sends it through the tunnel. */
  route(request: RouteRequest): Promise<RouteDecision>;
  /** Tunnels through the gateway: waiting for its answer, or started early (CONNECT only). */
  readonly opener: TunnelOpening;
  /** A direct connection to the destination (a route that bypasses the tunnel). */
  dialDirect(target: TunnelTarget): Promise<Duplex>;
  readonly forwardHttp: ForwardHttp | undefined;
  /** How long an origin may take to start answering a forwarded request. */
  readonly responseTimeoutMs: number;
  /** --half-close-timeout and --idle-timeout for every CONNECT and SOCKS5 tunnel. */
  readonly relayTimeouts: RelayTimeouts;
  /** Logs a request that could not be carried and tells the proxy's listeners ('refused'). */
  refused(err: PinholeError, target: string, route: string): void;
}

/** A byte stream to the destination by a decided route: the tunnel (waiting for the gateway's answer) or a direct dial. */
export const reach = (context: ProxyContext, target: TunnelTarget, route: 'tunnel' | 'direct'): Promise<Duplex> =>
  route === 'direct' ? context.dialDirect(target) : context.opener.open(target);
