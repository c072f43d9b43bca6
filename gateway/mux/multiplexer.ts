/**
 * Port 443 shared: the accept pipeline in front of the gateway's own TLS service (sslh + haproxy
 * in one). For each accepted connection:
 *
 *   PROXY header (only from --trusted-proxy addresses; from anyone else it is refused)
 *   -> sniff the first bytes (TLS ClientHello / SSH / HTTP / OpenVPN / custom, with a timeout)
 *   -> chooseRoute
 *   -> pass through untouched to a backend (optionally after a PROXY v1/v2 header of our own)
 *      or terminate: hand the socket, its bytes put back, to the gateway's TLS server.
 *
 * Bytes between sockets are a plain pipe; nothing here looks at them after the first read.
 */
import { isIPv4, type BlockList, type Socket } from 'node:net';
import type { NativeBytePath, NativeRelay } from '../../node/native/byte-path.js';
import type { RelayTimeouts } from '../../node/relay.js';
import type { Logger } from '../../shared/log.js';
import {
  PROBES,
  chooseRoute,
  parseProxyHeader,
  readProxyHeader,
  sniff,
  type ClientHello,
  type Probe,
  type RouteTable,
  type SniffResult,
} from '../sniff/index.js';
import { formatClient, setClientAddress, type ClientAddress } from './client-address.js';
import { numberConnection } from './connection.js';
import type { MuxTarget } from './config.js';
import { passThrough, type PassThroughCap } from './pass-through.js';

export interface MultiplexerOptions {
  readonly table: RouteTable<MuxTarget>;
  /** Names whose TLS the gateway terminates (its own hostname). */
  readonly ownNames: readonly string[];
  /** Balancers allowed to send PROXY headers; unset means nobody is. */
  readonly trustedProxies?: BlockList;
  readonly sniffTimeoutMs?: number;
  readonly proxyHeaderTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** --half-close-timeout and --idle-timeout for pass-through routes. */
  readonly relayTimeouts?: RelayTimeouts;
  /** --max-connections, for the backends pass-through routes dial. */
  readonly cap?: PassThroughCap;
  /** The native byte path (--byte-path): pass-through routes splice there; absent, they relay in JavaScript. */
  readonly native?: NativeBytePath | undefined;
  readonly probes?: readonly Probe[];
  readonly logger: Logger;
  /** The gateway's own TLS service: receives the socket paused, with the sniffed bytes put back, and the ClientHello already parsed. */
  readonly tls: TlsTerminator;
  /** Observer of each route decision ('gateway' when terminated here, 'closed', or the route's name) and what was sniffed, for metrics. */
  readonly onRoute?: (route: string, sniffed: SniffResult) => void;
}

export interface TlsTerminator {
  terminate(socket: Socket, hello: ClientHello | undefined): void;
}

export interface MultiplexerStats {
  accepted: number;
  terminated: number;
  passedThrough: number;
  closed: number;
  refusedProxyHeaders: number;
}

const peerAddress = (socket: Socket): string => {
  const address = socket.remoteAddress ?? '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
};

const looksLikeProxyHeader = (head: Buffer): boolean => head.length >= 6 && parseProxyHeader(head).kind !== 'invalid';

export class Multiplexer {
  readonly stats: MultiplexerStats = { accepted: 0, terminated: 0, passedThrough: 0, closed: 0, refusedProxyHeaders: 0 };
  private readonly passThrough = new Set<Socket>();
  /** Pass-through connections handed to the native byte path (their sockets closed at the handover). */
  private readonly nativeRelays = new Set<NativeRelay>();
  /** Every pass-through until its end is logged, on either byte path. */
  private readonly live = new Set<Promise<void>>();

  constructor(private readonly options: MultiplexerOptions) {}

  /**
   * The gateway's front door: every accepted connection comes here and gets its one connection id.
   * Never throws; every path ends the socket or hands it on.
   */
  accept(socket: Socket): void {
    this.stats.accepted++;
    const connId = numberConnection(socket);
    socket.on('error', () => socket.destroy());
    this.route(socket, connId).catch((err: unknown) => {
      this.options.logger.warn({ err }, 'A connection could not be routed.');
      socket.destroy();
    });
  }

  /** Pass-through connections open now, on either byte path (a drain waits for them). */
  get openPassThroughs(): number {
    return this.live.size;
  }

  /** Stop pass-through connections (the end of a drain), the native relays with them; resolves when each has logged its end. */
  async closeAll(): Promise<void> {
    for (const s of this.passThrough) s.destroy();
    for (const relay of this.nativeRelays) relay.destroy();
    await Promise.all(this.live);
  }

  private track(ended: Promise<void>): void {
    this.live.add(ended);
    void ended.then(() => this.live.delete(ended));
  }

  private trackNative(relay: NativeRelay): void {
    if (relay.closed) return;
    this.nativeRelays.add(relay);
    void relay.done.then(() => this.nativeRelays.delete(relay));
  }

  private async route(socket: Socket, connId: number): Promise<void> {
    const { logger } = this.options;
    const peer = peerAddress(socket);
    let client: ClientAddress = { address: peer, port: socket.remotePort ?? 0, viaProxyHeader: false };
    const trusted = this.options.trustedProxies?.check(peer, isIPv4(peer) ? 'ipv4' : 'ipv6') === true;
    if (trusted) {
      const read = await readProxyHeader(socket, { timeoutMs: this.options.proxyHeaderTimeoutMs ?? 5_000 });
      if (read.result !== 'header') {
        this.stats.closed++;
        logger.warn(
          { connId, peer, reason: read.result === 'invalid' ? read.reason : read.result },
          'A connection from a trusted proxy did not start with a valid PROXY header; it was closed.',
        );
        socket.destroy();
        return;
      }
      const source = read.header.command === 'proxy' ? read.header.source : undefined;
      if (source !== undefined) client = { address: source.address, port: source.port, viaProxyHeader: true };
    }
    setClientAddress(socket, client);

    const verdict = await sniff(socket, { probes: this.options.probes ?? PROBES, timeoutMs: this.options.sniffTimeoutMs ?? 2_000 });
    if (!trusted && looksLikeProxyHeader(verdict.head)) {
      this.stats.refusedProxyHeaders++;
      logger.warn({ connId, peer }, 'A PROXY protocol header came from an address that is not a trusted proxy; the connection was refused.');
      socket.destroy();
      return;
    }
    const decision = chooseRoute(verdict, this.options.table, this.options.ownNames);
    this.options.onRoute?.(decision.kind === 'terminate' ? 'gateway' : decision.kind === 'close' ? 'closed' : decision.name, verdict);
    switch (decision.kind) {
      case 'terminate':
        this.stats.terminated++;
        this.options.tls.terminate(socket, verdict.result === 'match' ? verdict.hello : undefined);
        return;
      case 'close':
        this.stats.closed++;
        logger.info({ connId, client: formatClient(client), reason: decision.reason, firstByte: verdict.head[0] }, 'A connection was closed without a route.');
        socket.destroy();
        return;
      case 'forward':
        this.stats.passedThrough++;
        this.passThrough.add(socket);
        socket.once('close', () => this.passThrough.delete(socket));
        this.track(passThrough(socket, decision.target, { route: decision.name, connId, client, serverName: decision.serverName, logger, connectTimeoutMs: this.options.connectTimeoutMs, relayTimeouts: this.options.relayTimeouts, cap: this.options.cap, native: this.options.native, onNativeRelay: (relay) => this.trackNative(relay) }));
    }
  }
}
