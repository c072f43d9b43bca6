/**
 * The tunnel as the local proxy sees it: `open(target)` gives a byte stream to `target` through
 * the gateway, or rejects with a PinholeError whose code says why (the gateway's own refusal code
 * when it sent one). Implementations: h2-transport.ts (one multiplexed TLS connection) and
 * h1-transport.ts (one TLS connection per tunnel, what stunnel + Squid expect).
 */
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { NativeBytePath } from '../../node/native/byte-path.js';
import type { Logger } from '../../shared/log.js';
import type { GatewaysStatus } from '../../shared/gateway-status.js';
import type { Endpoint, Trust } from '../../shared/profile.js';
import type { DatagramChannel } from '../../shared/udp/datagram-channel.js';
import type { ChooserOptions } from '../gateways/chooser.js';
import type { ProfileFetchResult } from '../gateways/profile-fetch.js';

export interface TunnelTarget {
  host: string;
  port: number;
}

export interface UpstreamProxy {
  host: string;
  port: number;
  user?: string;
  password?: string;
}

/**
 * What tunnels present to the gateway when it is not the user's password: a signed-in user's
 * tunnel credential (issue 18), renewed while tunnels run, read afresh for each new tunnel.
 */
export interface TunnelAuthorization {
  /** The header value for a tunnel opened now; throws a PinholeError (revoked, sign-in needed) when there is none to give. */
  header(): string;
  /** A tunnel was refused with this code: a credential's refusal renews it (expired) or ends it (revoked). */
  refused?(code: string): void;
}

/** Everything needed to dial the gateway. */
export interface GatewayDialOptions {
  endpoints: Endpoint[];
  serverName: string;
  trust: Trust;
  user: string;
  password: string;
  /** Present: tunnels carry this (Bearer) instead of Basic `user:password`. */
  authorization?: TunnelAuthorization;
  upstreamProxy?: UpstreamProxy;
  logger: Logger;
  /** Connect + TLS handshake budget per endpoint. */
  connectTimeoutMs?: number;
  /** Head start of each endpoint over the next in the racing dial (default 250 ms; Infinity dials one after the other). */
  staggerMs?: number;
  /** Budget for the gateway's answer to one CONNECT. */
  replyTimeoutMs?: number;
  /** How the gateway in use is chosen and watched (main/gateways/chooser.ts, liveness.ts); defaults there. */
  choice?: GatewayChoiceOptions;
  /**
   * The native byte path, when chosen (`--byte-path`, node/native/byte-path.ts): HTTP/1.1 tunnels
   * run their TLS session on it. Absent: every tunnel's bytes move in JavaScript.
   */
  nativeBytePath?: NativeBytePath;
}

export type GatewayChoiceOptions = Partial<Pick<ChooserOptions, 'probeIntervalMs' | 'toleranceRatio' | 'toleranceMs' | 'confirmSamples' | 'retestMs'>> & {
  /** A session that does not answer a PING within this gets no new tunnels (default 1.5 s). */
  livenessTimeoutMs?: number;
  /**
   * Its open tunnels keep running until nothing (no byte, no PING answer) arrived for this long;
   * then they are reset (default 15 s; `--session-timeout`).
   */
  sessionTimeoutMs?: number;
};

export interface TransportStats {
  gatewayConnections: number;
  rttMs: number | null;
}

/**
 * A tunnel started before the gateway answered: `stream` takes the application's first bytes at
 * once (they travel right behind the CONNECT), and `answered` settles with the gateway's answer,
 * rejecting with its refusal, after which the stream is closed. Saves one round trip per tunnel.
 */
export interface EarlyTunnel {
  stream: Duplex;
  answered: Promise<void>;
}

/**
 * Events: 'lost' (PinholeError) when the warm connection to the gateway dies unexpectedly;
 * 'up' when a connection to the gateway is (re-)established; 'gateways' (GatewaysStatus) when the
 * endpoint in use or an endpoint's health changed.
 */
export interface Transport extends EventEmitter {
  readonly kind: 'h1' | 'h2' | 'wss';
  open(target: TunnelTarget): Promise<Duplex>;
  /**
   * Transports that can carry bytes before the CONNECT is answered: HTTP/2 streams can; HTTP/1.1
   * and WebSocket tunnels can on a gateway that said it reads them (shared/early-data.ts).
   */
  openEarly?(target: TunnelTarget): Promise<EarlyTunnel>;
  /** Whether openEarly may be used now (absent: whenever it exists); false until the gateway said it takes early bytes. */
  readonly startsEarly?: boolean;
  /** HTTP/1.1 only: a connection to the gateway for one absolute-URI request, and its credentials. */
  proxyConnection?(): Promise<Duplex>;
  /** HTTP/1.1 only: the Proxy-Authorization value for absolute-URI requests. */
  readonly proxyAuthorization?: string;
  /**
   * UDP through the tunnel (issue 14): h2 (CONNECT-UDP) and wss carry it; absent on h1
   * (stunnel + Squid cannot), where callers give PINHOLE_UDP_UNSUPPORTED.
   */
  openUdpFlow?(target: TunnelTarget): Promise<DatagramChannel>;
  /** Make sure a connection to the gateway is up (pre-warm, health). */
  warm(): Promise<void>;
  stats(): TransportStats;
  /** Transports that choose among the endpoints (HTTP/2): which one is in use and how the others are. */
  gateways?(): GatewaysStatus;
  /** The user's current profile from the gateway, over the verified connection (conditional on `etag`). */
  fetchProfile?(etag: string | undefined): Promise<ProfileFetchResult>;
  /** The profile's endpoints changed (a refresh): new ones are measured, a removed one in use is left. */
  setEndpoints?(endpoints: readonly Endpoint[]): void;
  /** The profile's pins changed (a certificate rotation announced): the next dials verify with these. */
  setTrust?(trust: Trust): void;
  /**
   * The network changed (roaming, main/network/): the session in use is proved at once (a PING
   * within the liveness timeout); sessions that stopped answering are ended now, their tunnels
   * reset, instead of at their deadline; resolves once a live session is there (over the new path),
   * rejects when none can be had. Transports without sessions do without (the engine warms them).
   */
  networkChanged?(): Promise<void>;
  close(): Promise<void>;
}

export const basicCredentials = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

/** `host:port`, with IPv6 literals bracketed (one spelling, in node/connect-client.ts). */
export { authorityOf } from '../../node/connect-client.js';
