/**
 * Reconnecting to the gateway, for one connection: a lost gateway (the transport's 'lost', or a
 * tunnel that failed to reach it) puts the connection in 'reconnecting' and warms the transport
 * again with exponential backoff and jitter; a fatal failure (a rejected password, a wrong pin) is
 * an 'error' that waits for the user; a connection to the gateway that is there again (the
 * transport's 'up', a tunnel that opened) puts it back in 'connected'. Stopped with its connection.
 */
import { PinholeError, toWire } from '../shared/errors.js';
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
}

export class Reconnect implements GatewayConnection {
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = false;

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
    const { status, logger } = this.options;
    if (this.stopped || status.state === 'disconnected') return;
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
    const { error: _error, retryAt: _retryAt, ...rest } = status.current;
    status.set({ ...rest, state: 'connected' });
    logger.info('The connection to the gateway is back.');
  }

  private schedule(err: PinholeError): void {
    const { status, logger, transport } = this.options;
    const base = this.options.backoff?.backoffMs ?? 1_000;
    const delay = Math.min(this.options.backoff?.maxBackoffMs ?? 30_000, base * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    status.set({ ...status.current, state: 'reconnecting', error: toWire(err), retryAt: Date.now() + Math.round(delay) });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
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
    }, delay);
    this.timer.unref();
  }
}
