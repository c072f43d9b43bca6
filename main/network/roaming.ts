/**
 * What a network change does to one connection (issue 20): a change (an address or a route from
 * network-watch.ts, a resume from suspend-watch.ts, the OS's word through the Electron shell) makes
 * the transport prove its session at once (a PING within the liveness timeout instead of the next
 * idle PING), end the tunnels of a session that no longer answers (the application sees a reset,
 * not a hang), dial over the new path and send again the CONNECTs that were waiting. The status
 * and the log say "Network changed, reconnecting" and, when a live session is there again, how
 * long it took: one sentence per event.
 */
import type { NetworkChange, NetworkChangeReason } from '../../shared/engine-api.js';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { ConnectionStatus } from '../connection-status.js';
import type { GatewayConnection } from '../tunnel/opener.js';
import type { Transport } from '../tunnel/transport.js';

const REASON_WORDS: Readonly<Record<NetworkChangeReason, string>> = {
  address: 'an address changed',
  route: 'a route changed',
  resume: 'the computer woke up',
  os: 'the system said so',
};

export interface RoamingOptions {
  transport: Transport;
  status: ConnectionStatus;
  logger: Logger;
  /** Told when the gateway is reachable again, or lost (main/reconnect.ts). */
  connection: GatewayConnection;
  now?: () => number;
}

export class Roaming {
  private inFlight = false;
  private again: NetworkChangeReason | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly onUp = (): void => this.upAgain();

  constructor(private readonly options: RoamingOptions) {
    this.now = options.now ?? Date.now;
    options.transport.on('up', this.onUp);
  }

  stop(): void {
    this.stopped = true;
    this.options.transport.off('up', this.onUp);
  }

  /** The network changed: prove the session, dial over the new path if it is dead. */
  changed(reason: NetworkChangeReason, details: Record<string, unknown> = {}): void {
    if (this.stopped) return;
    if (this.inFlight) {
      // A burst (a resume followed by the new address): one more check after this one, not one per line.
      this.again = reason;
      return;
    }
    const { status, logger, transport } = this.options;
    if (status.state === 'disconnected' || status.state === 'connecting' || status.state === 'error') return;
    const at = this.now();
    this.inFlight = true;
    logger.info({ reason, ...details }, `Network changed (${REASON_WORDS[reason]}), reconnecting.`);
    this.setNetwork({ state: 'reconnecting', reason, at });
    const check = transport.networkChanged ? transport.networkChanged() : transport.warm();
    check.then(
      () => this.reconnected(),
      (err: unknown) => this.notYet(err),
    ).finally(() => {
      this.inFlight = false;
      const next = this.again;
      this.again = undefined;
      if (next !== undefined) this.changed(next);
    });
  }

  private reconnected(): void {
    const network = this.options.status.current.network;
    if (this.stopped || network === undefined || network.state === 'reconnected') return;
    const tookMs = Math.max(0, this.now() - network.at);
    this.options.logger.info({ reason: network.reason, tookMs }, `Network changed, reconnected in ${tookMs} ms.`);
    this.setNetwork({ state: 'reconnected', reason: network.reason, at: network.at, tookMs });
    this.options.connection.recovered();
  }

  private notYet(err: unknown): void {
    const network = this.options.status.current.network;
    if (this.stopped || network === undefined) return;
    const error = err instanceof PinholeError ? err : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: err });
    this.options.logger.warn({ reason: network.reason, code: error.code }, `Network changed; the gateway cannot be reached on this network yet (${error.code}).`);
    this.setNetwork({ ...network, state: 'waiting' });
    this.options.connection.lost(error);
  }

  /** A session to the gateway came up after a change that was still waiting for one. */
  private upAgain(): void {
    if (this.options.status.current.network?.state === 'waiting') this.reconnected();
  }

  private setNetwork(network: NetworkChange): void {
    const { status } = this.options;
    if (status.state === 'disconnected') return;
    status.set({ ...status.current, network });
  }
}
