/**
 * Reconnecting to the gateway, for one connection: a lost gateway (the transport's 'lost', or a
 * tunnel that failed to reach it) puts the connection in 'reconnecting' and warms the transport
 * again with exponential backoff and jitter; a fatal failure (a rejected password, a wrong pin) is
 * an 'error' that waits for the user; a connection to the gateway that is there again (the
 * transport's 'up', a tunnel that opened) puts it back in 'connected'. Stopped with its connection.
 * A certificate that fails the pin while the network redirects plain HTTP is a captive portal
 * (network/captive-portal.ts), not a fatal error: the status names the portal's page and the
 * gateway is tried again every few seconds until the portal lets traffic through.
 */
import { PinholeError, toWire, type ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { ConnectionStatus } from './connection-status.js';
import { isFatal } from './error-meaning.js';
import type { GatewayConnection } from './tunnel/opener.js';
import type { Transport } from './tunnel/transport.js';

export interface ReconnectOptions {
  transport: Transport;
  status: ConnectionStatus;
  logger: Logger;
  /** First reconnect delay (`backoffMs`); doubles up to `maxBackoffMs`, with jitter. */
  backoff?: { backoffMs?: number; maxBackoffMs?: number };
  /** Asked when the gateway's certificate fails its check: the portal's page, or undefined when this is no portal. */
  findPortal?: () => Promise<string | undefined>;
  /** How often the gateway is tried again behind a captive portal (default 3 s). */
  portalRetryMs?: number;
}

/** A certificate that fails its check may be a captive portal answering port 443 itself. */
export const isCertificateFailure = (code: ErrorCode): boolean => code === 'PINHOLE_TLS_PIN_MISMATCH' || code === 'PINHOLE_TLS_UNTRUSTED';

export class Reconnect implements GatewayConnection {
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = false;
  /** The portal last announced (its sentence is logged once per portal page). */
  private portal: string | undefined;
  private checkingPortal = false;

  constructor(private readonly options: ReconnectOptions) {
    options.transport.on('lost', (err: PinholeError) => this.lost(err));
    options.transport.on('up', () => this.recovered());
  }

  /** Connected and not reconnecting: tunnels may start early. */
  get up(): boolean {
    return this.options.status.state === 'connected';
  }

  /** The connection ended (a disconnect, or a new connect): nothing more is retried. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** The gateway went away: say so, and try again with exponential backoff and jitter. */
  lost(err: PinholeError): void {
    if (this.stopped || this.options.status.state === 'disconnected') return;
    if (isCertificateFailure(err.code) && this.options.findPortal) {
      this.checkPortal(err);
      return;
    }
    this.fatalOrRetry(err);
  }

  private fatalOrRetry(err: PinholeError): void {
    const { status, logger } = this.options;
    if (isFatal(err.code)) {
      clearTimeout(this.timer);
      logger.error({ code: err.code, ...(err.details ?? {}) }, err.message);
      status.set({ ...status.current, state: 'error', error: toWire(err), retryAt: undefined });
      return;
    }
    if (status.state === 'reconnecting') return;
    logger.warn({ code: err.code }, 'The connection to the gateway was lost; reconnecting.');
    this.attempt = 0;
    this.schedule(err);
  }

  /** A connection to the gateway is there again. */
  recovered(): void {
    const { status, logger } = this.options;
    if (this.stopped || status.state !== 'reconnecting') return;
    clearTimeout(this.timer);
    this.attempt = 0;
    const { error: _error, retryAt: _retryAt, portal, ...rest } = status.current;
    status.set({ ...rest, state: 'connected' });
    this.portal = undefined;
    logger.info(portal === undefined ? 'The connection to the gateway is back.' : 'The network let Pinhole through: the connection to the gateway is back.');
  }

  /**
   * The gateway's certificate failed its check: a captive portal (the plain HTTP probe is
   * redirected) is waited out, retried every few seconds; anything else is the fatal error it was.
   * Nothing is sent over the failed connection: the check happens before a byte of ours is written.
   */
  private checkPortal(err: PinholeError): void {
    if (this.checkingPortal) return;
    this.checkingPortal = true;
    const find = this.options.findPortal as () => Promise<string | undefined>;
    find()
      .catch(() => undefined)
      .then((portal) => {
        this.checkingPortal = false;
        if (this.stopped || this.options.status.state === 'disconnected') return;
        if (portal === undefined) return this.fatalOrRetry(err);
        this.behindPortal(portal, err);
      });
  }

  private behindPortal(portal: string, err: PinholeError): void {
    const { status, logger } = this.options;
    const error = new PinholeError('PINHOLE_CAPTIVE_PORTAL');
    if (portal !== this.portal) {
      logger.warn({ code: error.code, portal, certificate: err.code }, `This network wants you to sign in first: ${portal}`);
      this.portal = portal;
    }
    const delay = this.options.portalRetryMs ?? 3_000;
    status.set({ ...status.current, state: 'reconnecting', error: toWire(error), portal, retryAt: Date.now() + delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.attemptWarm(), delay);
    this.timer.unref();
  }

  private schedule(err: PinholeError): void {
    const { status } = this.options;
    const base = this.options.backoff?.backoffMs ?? 1_000;
    const delay = Math.min(this.options.backoff?.maxBackoffMs ?? 30_000, base * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    status.set({ ...status.current, state: 'reconnecting', error: toWire(err), retryAt: Date.now() + Math.round(delay) });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.attemptWarm(), delay);
    this.timer.unref();
  }

  private attemptWarm(): void {
    const { logger, transport } = this.options;
    if (this.stopped) return;
    transport.warm().then(
      () => this.recovered(),
      (next: unknown) => {
        if (this.stopped) return;
        const error = next instanceof PinholeError ? next : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: next });
        if (isFatal(error.code)) return this.lost(error);
        logger.info({ code: error.code, attempt: this.attempt }, 'The gateway is still unreachable; trying again later.');
        this.schedule(error);
      },
    );
  }
}
