/**
 * Opening a tunnel for a target, in one place (issue 26): the proxy's CONNECT, its absolute-URI
 * forwarding, the SOCKS5 job and `pinhole forward` call this named object, never a closure back
 * into the engine. It owns, once each:
 * - the generation check: an opener belongs to one connection; once `retire()`d (a disconnect or
 *   a new connect), every call fails with PINHOLE_NOT_CONNECTED;
 * - early start: whether this tunnel may take the application's bytes before the gateway answers
 *   (the transport can, and on HTTP/1.1 and WebSocket the gateway said it takes them; early start
 *   is on, the engine is connected, and the gateway accepted this destination recently:
 *   RecentDestinations);
 * - recent destinations: remembered on an answer, forgotten on a refusal;
 * - what a failure means: a connection failure is reported once (`GatewayConnection.lost`: the
 *   engine's reconnect, main/reconnect.ts); a tunnel that opened reports the gateway there
 *   (`GatewayConnection.recovered`).
 * The retry of a CONNECT that never reached a gateway (refused unprocessed, or left waiting on a
 * session that stopped answering) is the transport's, which alone knows whether it was processed.
 */
import type { Duplex } from 'node:stream';
import { PinholeError } from '../../shared/errors.js';
import { isConnectionFailure } from '../error-meaning.js';
import { RecentDestinations } from './recent-destinations.js';
import type { EarlyTunnel, Transport, TunnelAuthorization, TunnelTarget } from './transport.js';

/** What the proxy jobs need: a tunnel that waits for the gateway's answer, or one started early. */
export interface TunnelOpening {
  open(target: TunnelTarget): Promise<Duplex>;
  /** A tunnel that takes the application's bytes at once, or undefined: this one must wait for the answer (open()). */
  openEarly(target: TunnelTarget): Promise<EarlyTunnel> | undefined;
}

/** The connection the opener's tunnels belong to, as the engine's reconnect (main/reconnect.ts) keeps it. */
export interface GatewayConnection {
  /** Connected, not reconnecting: tunnels may start early. */
  readonly up: boolean;
  /** The gateway went away (a connection failure while opening). */
  lost(err: PinholeError): void;
  /** A tunnel opened (the gateway is there). */
  recovered(): void;
}

export interface TunnelOpenerOptions {
  transport: Transport;
  /** Early start on (default true). */
  earlyStart?: boolean;
  connection?: GatewayConnection;
  /** A signed-in user's credential, told about refusals (expired: renew; revoked: stop). */
  authorization?: TunnelAuthorization;
}

export class TunnelOpener implements TunnelOpening {
  /** Destinations the gateway accepted recently (per connection: another gateway may have another policy). */
  private readonly accepted = new RecentDestinations();
  private retired = false;

  constructor(private readonly options: TunnelOpenerOptions) {}

  get transport(): Transport {
    return this.options.transport;
  }

  /** The connection this opener belongs to ended: nothing opens through it any more. */
  retire(): void {
    this.retired = true;
    this.accepted.clear();
  }

  async open(target: TunnelTarget): Promise<Duplex> {
    const transport = this.live();
    try {
      const stream = await transport.open(target);
      this.accepted.remember(target);
      this.options.connection?.recovered();
      return stream;
    } catch (err) {
      this.failed(target, err);
      throw err;
    }
  }

  openEarly(target: TunnelTarget): Promise<EarlyTunnel> | undefined {
    const transport = this.options.transport;
    if (!transport.openEarly || transport.startsEarly === false || this.retired || this.options.earlyStart === false || this.options.connection?.up === false || !this.accepted.has(target)) return undefined;
    return transport.openEarly(target).then(
      ({ stream, answered }) => {
        // The one chain the gateway's answer travels: recorded here, then the proxy job's to act on.
        const recorded = answered.then(
          () => this.accepted.remember(target),
          (err: unknown) => {
            this.failed(target, err);
            throw err;
          },
        );
        recorded.catch(() => undefined);
        return { stream, answered: recorded };
      },
      (err: unknown) => {
        this.failed(target, err);
        throw err;
      },
    );
  }

  /** HTTP/1.1 gateways: a connection for one absolute-URI request (undefined when the transport has none). */
  async proxyConnection(): Promise<Duplex> {
    const transport = this.live();
    if (!transport.proxyConnection) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    try {
      return await transport.proxyConnection();
    } catch (err) {
      if (!this.retired && isConnectionFailure(err)) this.options.connection?.lost(err);
      throw err;
    }
  }

  private live(): Transport {
    if (this.retired) throw new PinholeError('PINHOLE_NOT_CONNECTED');
    // A credential that ended (revoked, sign-in needed) refuses here, before anything reaches the gateway.
    this.options.authorization?.header();
    return this.options.transport;
  }

  private failed(target: TunnelTarget, err: unknown): void {
    this.accepted.forget(target);
    if (err instanceof PinholeError) this.options.authorization?.refused?.(err.code);
    if (!this.retired && isConnectionFailure(err)) this.options.connection?.lost(err);
  }
}
