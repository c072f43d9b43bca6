/**
 * One tunnel request, whichever door it came through (HTTP/1.1 CONNECT or absolute URI, HTTP/2
 * CONNECT, WebSocket, and for UDP CONNECT-UDP and the UDP WebSocket): authenticate -> parse ->
 * admit -> open upstream -> answer -> relay -> track -> access log, written once, in
 * `runTunnelRequest`. A door (h1-proxy.ts, h2-proxy.ts, ws-tunnel.ts, udp/connect-udp.ts) only
 * translates its framing into a `TunnelDoor` (a `UdpTunnelDoor` for a UDP flow): where the target
 * and the credentials are, how a yes and a refusal look on its wire, and which Duplex carries the
 * bytes (for a UDP flow, the door carries the datagrams in its framing until the flow closes).
 * Here too, once for every door: the connection cap's check (503 PINHOLE_GATEWAY_FULL), the relay's
 * half-close and idle timeouts with the access log's `end` reason, and who is refused plainly: a
 * door's `refuse` gets the user only once authenticated (a stranger's answer names nothing).
 * This is where a byte path other than `relay` takes over an answered tunnel.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { destinationError } from '../node/dial.js';
import { relay, type Relay, type RelayResult, type RelayTimeouts } from '../node/relay.js';
import { asPinholeError } from '../node/refusal.js';
import { PinholeError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { formatEndpoint, type Endpoint } from '../shared/profile.js';
import { relayEnd, type AccessLog, type AccessRecord } from './access-log.js';
import type { AuthEvents } from './auth/events.js';
import type { Authenticator } from './auth/authenticator.js';
import type { TunnelLimits } from './auth/tunnel-limits.js';
import type { ConnectionCap } from './connection-cap.js';
import type { GatewayMetrics } from './metrics.js';
import type { Connection } from './mux/connection.js';
import type { DestinationPolicy, TargetKind } from './policy.js';
import type { EndReason, TunnelMeter, TunnelOwner, TunnelRegistry } from './tunnel-registry.js';
import { principalOf, type Principal } from './auth/principal.js';
import { UdpFlow, type UdpDestinationCheck, type UdpTarget } from './udp/flows.js';
import { openUpstream } from './upstream.js';
import type { HandedTunnel, HandOverOptions } from './native-tls.js';

export type { Connection } from './mux/connection.js';
export type { TunnelOwner } from './tunnel-registry.js';

/** What a tunnel request needs from the gateway; `TunnelRequest` is the gateway's, tests pass their own. */
export interface TunnelServices {
  readonly logger: Logger;
  /** Who (a bare name is a users-file user), or throws PINHOLE_AUTH_MISSING / _REJECTED / _THROTTLED (429) / _BUSY (503) / PINHOLE_CREDENTIAL_*; `client` is what penalties count against. */
  authenticate(credentials: string | undefined, client: string | undefined): Promise<string | Principal>;
  /** Admission (the owner's tunnel limits), the destination policy and the dial. Throws PinholeError (or a dial's error). */
  openUpstream(target: Endpoint, kind: TargetKind, owner: TunnelOwner): Promise<Socket>;
  /** Count the open tunnel until the returned function is called (with its final bytes when no `meter`); `abort` ends it (a drain run out, a revocation). */
  hold?(abort: (reason?: EndReason) => void, owner: TunnelOwner, meter?: TunnelMeter): (final?: TunnelMeter) => void;
  /** Run a request counted as pending until it settles (a drain waits for it). */
  whilePending?(request: () => Promise<void>): Promise<void>;
  /** Admission, the UDP policy and the flow (absent: this gateway carries no UDP). Throws PinholeError. */
  openUdpFlow?(target: UdpTarget, owner: TunnelOwner): Promise<UdpFlow>;
  accessLog(record: AccessRecord): void;
  /** --half-close-timeout and --idle-timeout, for every relay a request starts. */
  readonly relayTimeouts?: RelayTimeouts | undefined;
  /**
   * A byte path other than `relay` taking over an answered tunnel (the gateway's native TLS
   * sessions, native-tls.ts): undefined when it does not carry `client`, and `relay` runs.
   */
  handOver?(client: Duplex, upstream: Socket, options: HandOverOptions): HandedTunnel | undefined;
}

/** What a door that carries a request itself says of it in the access log: status and bytes, for a UDP flow its datagrams and end too. */
export type ExchangeRecord = Pick<AccessRecord, 'status' | 'bytesUp' | 'bytesDown'> & Partial<Pick<AccessRecord, 'datagramsUp' | 'datagramsDown' | 'end'>>;

/** What ended a request a door carries itself: its record, a refusal, or nothing worth a line. */
export type ExchangeOutcome = ExchangeRecord | PinholeError | undefined;

/** A request the door carries itself (HTTP/1.1 absolute URI: a request and its answer; a UDP flow's datagrams), not a byte stream. */
export interface Exchange {
  readonly ended: Promise<ExchangeOutcome>;
  abort(): void;
}

/** One door's framing of a tunnel request. */
export interface TunnelDoor {
  readonly proto: AccessRecord['proto'];
  /** The access log's method: CONNECT, or the forwarded request's. */
  readonly method: string;
  readonly kind: TargetKind;
  readonly connection: Connection;
  readonly credentials: string | undefined;
  /** The target as the request named it (for a refusal's log line). */
  readonly targetText: string;
  /** Read the target before the credentials (a malformed WebSocket upgrade is refused before any password check). */
  readonly targetFirst?: boolean;
  /** Bytes that came with the request head (HTTP/1.1 CONNECT): the destination gets them first, counted up. */
  readonly early?: Buffer;
  /** The destination, or throws PINHOLE_BAD_REQUEST. */
  target(): Endpoint;
  /** The client left while the request was checked or dialled. */
  gone(): boolean;
  /** Say yes (200, 101) and give what carries the client's side: a Duplex to relay, an Exchange, or undefined when the client left meanwhile. */
  answer(upstream: Socket): Duplex | Exchange | undefined | Promise<Duplex | undefined>;
  /** Say no on the wire (the request is already logged): with the code for an authenticated `user`, plain when it is undefined (`refusalFor`). */
  refuse(error: PinholeError, user: string | undefined): void;
  /** Extra teardown when a drain ends the tunnel (the relay ends both sides in any case). */
  abort?(): void;
}

/**
 * A UDP flow's door (CONNECT-UDP on HTTP/2, the UDP WebSocket): the same sequence, the upstream a
 * UDP flow (`TunnelServices.openUdpFlow`), and the yes carries the flow's datagrams in the door's
 * framing until the flow closes: an `Exchange` whose outcome is the flow's record.
 */
export interface UdpTunnelDoor extends Omit<TunnelDoor, 'kind' | 'method' | 'early' | 'answer'> {
  readonly kind: 'udp';
  readonly method: 'CONNECT-UDP';
  answer(flow: UdpFlow, owner: TunnelOwner): Exchange | Promise<Exchange>;
}

const isExchange = (carrier: Duplex | Exchange): carrier is Exchange => 'ended' in carrier && !('pipe' in carrier);

/** What a refusal's access line counts: nothing carried (for a UDP flow, no datagrams either). */
const NOTHING_CARRIED = { bytesUp: 0, bytesDown: 0 };
const NO_DATAGRAMS = { datagramsUp: 0, datagramsDown: 0, ...NOTHING_CARRIED };

/** authenticate -> parse -> admit -> open upstream -> answer -> relay -> track -> access log. Never throws. */
export async function runTunnelRequest(services: TunnelServices, door: TunnelDoor | UdpTunnelDoor): Promise<void> {
  const started = Date.now();
  let user: string | undefined;
  let target: Endpoint | undefined;
  const log = (record: Pick<AccessRecord, 'target' | 'status' | 'bytesUp' | 'bytesDown' | 'end' | 'datagramsUp' | 'datagramsDown' | 'rule' | 'reason'> & { code?: string }): void =>
    services.accessLog({ user, method: door.method, durationMs: Date.now() - started, proto: door.proto, ...door.connection, ...record });
  const refuse = (error: PinholeError): void => {
    const rule = error.details?.['rule'];
    log({ target: door.targetText, status: error.status, code: error.code, ...(typeof rule === 'string' ? { rule, reason: error.message } : {}), ...(door.kind === 'udp' ? NO_DATAGRAMS : NOTHING_CARRIED) });
    door.refuse(error, user);
  };
  // A request the door carries itself: tracked until it ends, then its line (or its refusal).
  const carried = async (carrier: Exchange, name: string, owner: TunnelOwner): Promise<void> => {
    const release = services.hold?.(() => carrier.abort(), owner);
    const outcome = await carrier.ended;
    release?.(outcome !== undefined && !(outcome instanceof Error) ? outcome : undefined);
    if (outcome instanceof Error) refuse(outcome);
    else if (outcome !== undefined) log({ target: name, ...outcome });
  };
  try {
    if (door.targetFirst === true) target = door.target();
    const principal = principalOf(await services.authenticate(door.credentials, door.connection.client));
    user = principal.name;
    target ??= door.target();
    const owner: TunnelOwner = { user, client: door.connection.client, principal, transport: door.proto };
    if (door.kind === 'udp') {
      const flow = await openUdpFlow(services, target, owner);
      if (door.gone()) {
        flow.close();
        return;
      }
      const answered = door.answer(flow, owner);
      await carried(answered instanceof Promise ? await answered : answered, formatEndpoint(target), owner);
      return;
    }
    const upstream = await services.openUpstream(target, door.kind, owner).catch((err: unknown) => {
      throw destinationError(err, door.targetText);
    });
    if (door.gone()) {
      upstream.destroy();
      return;
    }
    const answered = door.answer(upstream);
    const carrier = answered instanceof Promise ? await answered : answered;
    if (carrier === undefined) {
      upstream.destroy();
      return;
    }
    const name = formatEndpoint(target);
    if (isExchange(carrier)) {
      await carried(carrier, name, owner);
      return;
    }
    const early = door.early ?? EMPTY;
    // Tracked from the answer until the relay is done; the relay ends on a later close, never before the hold below.
    const tracked: { release: (final?: TunnelMeter) => void; endedBy?: EndReason } = { release: (): void => undefined };
    const done = ({ bytesUp, bytesDown, timedOut }: RelayResult): void => {
      tracked.release({ bytesUp: bytesUp + early.length, bytesDown });
      log({ target: name, status: 200, bytesUp: bytesUp + early.length, bytesDown, ...relayEnd(timedOut), ...(tracked.endedBy === undefined ? {} : { end: tracked.endedBy }) });
    };
    // Each direction ends on its own: a client may send its request and a FIN and still read the answer.
    // Both byte paths count live: the sessions view reads the tunnel as its meter.
    const tunnel = services.handOver?.(carrier, upstream, { ...services.relayTimeouts, early, done }) ?? relayInJs(carrier, upstream, early, services.relayTimeouts, done);
    const release = services.hold?.(
      (reason) => {
        tracked.endedBy = reason;
        door.abort?.();
        tunnel.destroy();
      },
      owner,
      tunnel,
    );
    if (release !== undefined) tracked.release = release;
  } catch (err) {
    const error = asPinholeError(err);
    // An expired or revoked user's credential (or password) was good: its owner is told why, with the code.
    if ((error.code === 'PINHOLE_CREDENTIAL_EXPIRED' || error.code === 'PINHOLE_CREDENTIAL_REVOKED') && typeof error.details?.['user'] === 'string') user = error.details['user'];
    refuse(error);
  }
}

const EMPTY = Buffer.alloc(0);

/** node/relay.ts between the door's carrier and the destination, the early bytes first. */
const relayInJs = (carrier: Duplex, upstream: Socket, early: Buffer, timeouts: RelayTimeouts | undefined, done: (result: RelayResult) => void): Relay => {
  if (early.length > 0) upstream.write(early);
  return relay(carrier, upstream, { ...timeouts, done });
};

/** The UDP flow to the target, or the refusal: no UDP on this gateway (400), the policy's, or 502 when it cannot be opened. */
const openUdpFlow = async (services: TunnelServices, target: UdpTarget, owner: TunnelOwner): Promise<UdpFlow> => {
  if (services.openUdpFlow === undefined) throw new PinholeError('PINHOLE_BAD_REQUEST', 'This gateway does not carry UDP.');
  return services.openUdpFlow(target, owner).catch((err: unknown) => {
    throw asPinholeError(err, 'PINHOLE_CONNECT_FAILED');
  });
};

export interface TunnelRequestParts {
  readonly auth: Authenticator;
  readonly authEvents: AuthEvents;
  readonly limits: TunnelLimits;
  readonly policy: DestinationPolicy;
  readonly registry: TunnelRegistry;
  /** --max-connections: checked before each dial, and each dialled socket counted. */
  readonly cap: ConnectionCap;
  readonly relayTimeouts: RelayTimeouts;
  readonly metrics: GatewayMetrics;
  readonly accessLog: AccessLog;
  readonly logger: Logger;
  readonly connectTimeoutMs: number;
  /** UDP flows (CONNECT-UDP, the UDP WebSocket); absent, the gateway carries no UDP. */
  readonly udp?: { readonly decide: UdpDestinationCheck; readonly idleTimeoutMs: number };
  /** The native byte path taking over answered tunnels of native TLS sessions (native-tls.ts). */
  readonly handOver?: TunnelServices['handOver'];
}

/** The gateway's tunnel services, each a named part; every door runs its requests through `run`. */
export class TunnelRequest implements TunnelServices {
  readonly logger: Logger;
  readonly relayTimeouts: RelayTimeouts;

  constructor(private readonly parts: TunnelRequestParts) {
    this.logger = parts.logger;
    this.relayTimeouts = parts.relayTimeouts;
  }

  run(door: TunnelDoor | UdpTunnelDoor): Promise<void> {
    return this.whilePending(() => runTunnelRequest(this, door));
  }

  authenticate(credentials: string | undefined, client: string | undefined): Promise<Principal> {
    return this.parts.auth.identify(credentials, client);
  }

  /**
   * Throws PINHOLE_GATEWAY_FULL (503) at the connection cap, PINHOLE_LIMIT_REACHED when the owner or
   * its source holds as many tunnels as allowed (and says so once, in the log and the events).
   */
  admit(owner: TunnelOwner): void {
    this.parts.cap.admit();
    try {
      const principal = owner.principal ?? principalOf(owner.user);
      this.parts.limits.admit(principal.key, owner.client, principal.name);
    } catch (err) {
      const details = (err as { details?: Record<string, unknown> }).details ?? {};
      const source = String(details['source'] ?? '');
      const { user, client } = owner;
      this.parts.authEvents.refusal({ client, source, user, code: 'PINHOLE_LIMIT_REACHED' });
      this.logger.warn({ client, source, user, scope: details['scope'] }, 'A tunnel was refused: the user or address holds as many tunnels as allowed.');
      throw err;
    }
  }

  async openUpstream(target: Endpoint, kind: TargetKind, owner: TunnelOwner): Promise<Socket> {
    this.admit(owner);
    const upstream = await this.parts.metrics.timeOpen(() => openUpstream(target, kind, { policy: this.parts.policy, connectTimeoutMs: this.parts.connectTimeoutMs }));
    return this.parts.cap.track(upstream);
  }

  /** Whether this gateway carries UDP (CONNECT-UDP, the UDP WebSocket). */
  get carriesUdp(): boolean {
    return this.parts.udp !== undefined;
  }

  /** Admission, the UDP policy and the flow (held by `runTunnelRequest` once answered, like every tunnel). Throws PinholeError. */
  async openUdpFlow(target: UdpTarget, owner: TunnelOwner): Promise<UdpFlow> {
    const udp = this.parts.udp;
    if (udp === undefined) throw new PinholeError('PINHOLE_BAD_REQUEST', 'This gateway does not carry UDP.');
    this.admit(owner);
    return UdpFlow.open(target, udp);
  }

  hold(abort: (reason?: EndReason) => void, owner: TunnelOwner, meter?: TunnelMeter): (final?: TunnelMeter) => void {
    return this.parts.registry.hold(abort, owner, meter);
  }

  whilePending(request: () => Promise<void>): Promise<void> {
    return this.parts.registry.whilePending(request);
  }

  handOver(client: Duplex, upstream: Socket, options: HandOverOptions): HandedTunnel | undefined {
    return this.parts.handOver?.(client, upstream, options);
  }

  accessLog(record: AccessRecord): void {
    this.parts.metrics.tunnelEnded(record);
    this.parts.accessLog(record);
  }
}
