/**
 * A signed-in user's tunnel credential for one connection (issue 18): what tunnels present as
 * `Bearer`, renewed at three quarters of its life (refresh token at the identity provider, then
 * the gateway's exchange) without touching open tunnels: the next tunnel reads the new one. When
 * the provider cannot be reached the current credential keeps serving and the renewal is tried
 * again until it expires. A revoked credential (the gateway's PINHOLE_CREDENTIAL_REVOKED) or a
 * refresh token the provider no longer takes ends it: no more renewals, no more tunnels, and
 * `header()` says why, so nothing retries against the gateway until the user signs in again.
 */
import { EventEmitter } from 'node:events';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { TunnelAuthorization } from '../tunnel/transport.js';
import type { ExchangedCredential } from './credential-exchange.js';
import type { IssuerTokens } from './issuer-client.js';

export interface SignedInCredentialOptions {
  /** A fresh provider token from the refresh token (IssuerClient.refresh). */
  readonly refresh: (refreshToken: string) => Promise<IssuerTokens>;
  /** The gateway's exchange (credential-exchange.ts). */
  readonly exchange: (token: string) => Promise<ExchangedCredential>;
  /** Keeps a rotated refresh token (the keychain or the secrets file). */
  readonly saveRefreshToken: (refreshToken: string) => Promise<void>;
  /**
   * Reads the stored refresh token before each renewal: another Pinhole of the same profile (the
   * app beside the command line) may have rotated it, and the provider refuses a rotated-out one.
   */
  readonly loadRefreshToken?: () => Promise<string | undefined>;
  readonly logger: Logger;
  /** Renew when this fraction of the lifetime has passed (default 0.75). */
  readonly renewAt?: number;
  /** Wait between failed renewals (default 30 s, at most a quarter of what is left). */
  readonly retryMs?: number;
}

/** Why there is no credential to give. */
export type CredentialEnd = 'revoked' | 'sign-in-required';

/** Events: 'renewed' (ExchangedCredential), 'ended' (PinholeError: revoked or sign-in required). */
export class SignedInCredential extends EventEmitter implements TunnelAuthorization {
  private current: ExchangedCredential;
  private expiresAt: number;
  private refreshToken: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended: PinholeError | undefined;
  private stopped = false;
  private renewing: Promise<void> | undefined;

  constructor(
    first: ExchangedCredential,
    refreshToken: string | undefined,
    private readonly options: SignedInCredentialOptions,
  ) {
    super();
    this.current = first;
    this.expiresAt = Date.now() + first.lifetimeMs;
    this.refreshToken = refreshToken;
    this.schedule(first.lifetimeMs * (options.renewAt ?? 0.75));
  }

  get user(): string {
    return this.current.user;
  }

  /** Milliseconds since the epoch (by this computer's clock, measured from the gateway's). */
  get validUntil(): number {
    return this.expiresAt;
  }

  header(): string {
    if (this.ended) throw this.ended;
    return `Bearer ${this.current.credential}`;
  }

  /** A tunnel was refused with this code: revoked ends the credential; expired or invalid renews it now. */
  refused(code: string): void {
    if (code === 'PINHOLE_CREDENTIAL_REVOKED') this.end(new PinholeError('PINHOLE_CREDENTIAL_REVOKED'));
    else if (code === 'PINHOLE_CREDENTIAL_EXPIRED' || code === 'PINHOLE_CREDENTIAL_INVALID') void this.renewNow().catch(() => undefined);
  }

  /** Renews at once (also what the timer does); concurrent calls share one renewal. */
  renewNow(): Promise<void> {
    this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped || this.ended) return;
    this.timer = setTimeout(() => void this.renewNow().catch(() => undefined), Math.max(0, ms));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const { logger } = this.options;
    if (this.stopped || this.ended) return;
    this.refreshToken = (await this.options.loadRefreshToken?.().catch(() => undefined)) ?? this.refreshToken;
    if (this.refreshToken === undefined) {
      this.end(new PinholeError('PINHOLE_SIGNIN_REQUIRED', 'The tunnel credential is about to expire and the identity provider gave no refresh token; sign in again.'));
      return;
    }
    try {
      const tokens = await this.options.refresh(this.refreshToken);
      if (tokens.refreshToken !== undefined && tokens.refreshToken !== this.refreshToken) {
        this.refreshToken = tokens.refreshToken;
        await this.options.saveRefreshToken(tokens.refreshToken);
      }
      const next = await this.options.exchange(tokens.token);
      if (this.stopped || this.ended) return;
      this.current = next;
      this.expiresAt = Date.now() + next.lifetimeMs;
      logger.info({ user: next.user, validForS: Math.round(next.lifetimeMs / 1000) }, 'The tunnel credential was renewed; open tunnels carry on and new ones use the new credential.');
      this.emit('renewed', next);
      this.schedule(next.lifetimeMs * (this.options.renewAt ?? 0.75));
    } catch (err) {
      const error = err instanceof PinholeError ? err : new PinholeError('PINHOLE_SIGNIN_FAILED', undefined, { cause: err });
      if (error.code === 'PINHOLE_SIGNIN_REQUIRED' || error.code === 'PINHOLE_CREDENTIAL_REVOKED' || error.code === 'PINHOLE_IDENTITY_NOT_ALLOWED') {
        this.end(error.code === 'PINHOLE_IDENTITY_NOT_ALLOWED' ? new PinholeError('PINHOLE_CREDENTIAL_REVOKED', undefined, { cause: error }) : error);
        return;
      }
      const left = this.expiresAt - Date.now();
      const retry = Math.max(1_000, Math.min(this.options.retryMs ?? 30_000, left > 0 ? left / 4 : Infinity));
      logger.warn({ code: error.code, validForS: Math.max(0, Math.round(left / 1000)), retryInS: Math.round(retry / 1000) }, `The tunnel credential could not be renewed (${error.message}); the current one keeps working until it expires, and Pinhole tries again.`);
      this.schedule(retry);
      throw error;
    }
  }

  private end(error: PinholeError): void {
    if (this.ended) return;
    this.ended = error;
    clearTimeout(this.timer);
    this.options.logger.error({ code: error.code }, error.message);
    this.emit('ended', error);
  }
}
