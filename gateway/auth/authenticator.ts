/**
 * The one door every proxy request passes (HTTP/1.1 CONNECT and absolute URIs, HTTP/2 CONNECT
 * streams, WebSocket upgrades): Basic credentials in, the user name out, or a PinholeError.
 *
 *   verified before (success cache)  -> the user, at once: never delayed, never refused
 *   the source or pair is refused    -> 429 PINHOLE_AUTH_THROTTLED + Retry-After (held first)
 *   the pair is being penalised      -> held for the penalty's delay, then checked
 *   the same wrong credential again  -> 407 from the negative cache, without bcrypt
 *   the same credential being checked -> the answer of that check (a client opening many tunnels)
 *   too many checks pending          -> 503 PINHOLE_AUTH_BUSY + Retry-After
 *   otherwise bcrypt (or apr1/SHA) in the thread pool; an unknown user against a decoy hash,
 *   so the answer, its headers, its body and its time do not say whether the user exists.
 * `Bearer CREDENTIAL` (a tunnel credential, gateway/identity/, when identity is set up) is checked
 * offline at once; a valid one is never delayed or refused, a forged one counts as a wrong password
 * and is answered with the same penalties, an expired one is refused without a penalty.
 * Either way, a user whose access was revoked (disabled in the users file, or named by a
 * revocation: gateway/control/) is refused with 403 PINHOLE_CREDENTIAL_REVOKED once the password or
 * credential proved who it is, never before (a guesser learns nothing), and without a penalty.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { parseBasicAuth, type UserStore } from '../users.js';
import { CheckQueue } from './check-queue.js';
import { CredentialCache, credentialDigest } from './credential-cache.js';
import type { AuthEvents } from './events.js';
import type { Penalties } from './penalties.js';
import { sourceOf } from './source.js';
import { bearerTokenOf } from '../identity/exchange.js';
import { credentialPrincipal, htpasswdPrincipal, type Principal } from './principal.js';

/** What checks tunnel credentials (gateway/identity/credentials.ts): who, or a PinholeError. */
export interface BearerCheck {
  verify(credential: string): Promise<{ readonly user: string; readonly subject: string; readonly issuer: string; readonly email?: string | undefined }>;
}

/** Who may no longer open tunnels (gateway/control/revocations.ts); asked in memory on every tunnel. */
export interface RevocationCheck {
  refusing(principal: Principal): { readonly kind: string } | undefined;
}

/** The name a forged credential's penalties count under (a credential names no one until verified). */
const BEARER_USER = '(credential)';

export interface AuthenticatorSettings {
  /** Password checks running at once (thread-pool threads bcrypt may take). */
  readonly concurrency: number;
  /** Password checks waiting or running before new ones get 503. */
  readonly maxPending: number;
  /** How long a wrong credential is answered from the negative cache (0: never). */
  readonly negativeCacheMs: number;
}

/** Verified credentials remembered (digests only), and for how long. */
const SUCCESS_CACHE_ENTRIES = 10_000;
const SUCCESS_CACHE_MS = 12 * 60 * 60 * 1000;
const NEGATIVE_CACHE_ENTRIES = 10_000;
/** Answers one source may have held at once; past this its attempts are refused without a hold. */
const MAX_HELD_PER_SOURCE = 64;

export class Authenticator {
  private readonly verified = new CredentialCache(SUCCESS_CACHE_ENTRIES, SUCCESS_CACHE_MS);
  private readonly wrong: CredentialCache;
  readonly queue: CheckQueue;
  private readonly held = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<boolean>>();

  constructor(
    private readonly users: UserStore,
    private readonly penalties: Penalties,
    private readonly events: AuthEvents,
    private readonly logger: Logger,
    settings: AuthenticatorSettings,
    private readonly credentials?: BearerCheck,
    private readonly revocations?: RevocationCheck,
  ) {
    this.queue = new CheckQueue(settings.concurrency, settings.maxPending);
    this.wrong = new CredentialCache(NEGATIVE_CACHE_ENTRIES, settings.negativeCacheMs);
  }

  /** Resolves to the user name, or throws PINHOLE_AUTH_MISSING / _REJECTED / _THROTTLED / _BUSY, PINHOLE_CREDENTIAL_*. */
  async authenticate(header: string | undefined, client: string | undefined): Promise<string> {
    return (await this.identify(header, client)).name;
  }

  /** Who the header proves, with the kind of user; throws as `authenticate` does. */
  async identify(header: string | undefined, client: string | undefined): Promise<Principal> {
    const principal = await this.check(header, client);
    this.refuseRevoked(principal, client);
    return principal;
  }

  private refuseRevoked(principal: Principal, client: string | undefined): void {
    const disabled = principal.kind === 'htpasswd' && this.users.isDisabled(principal.name);
    const revocation = disabled ? undefined : this.revocations?.refusing(principal);
    if (!disabled && revocation === undefined) return;
    const by = disabled ? 'disabled in the users file' : `revoked by ${revocation?.kind ?? ''}`;
    this.logger.info({ client, source: sourceOf(client), user: principal.name, kind: principal.kind, by, code: 'PINHOLE_CREDENTIAL_REVOKED' }, "A tunnel was refused: this user's access was revoked.");
    throw new PinholeError('PINHOLE_CREDENTIAL_REVOKED', undefined, { details: { user: principal.name } });
  }

  private async check(header: string | undefined, client: string | undefined): Promise<Principal> {
    if (header === undefined || header.trim() === '') throw new PinholeError('PINHOLE_AUTH_MISSING');
    const source = sourceOf(client);
    const bearer = this.credentials === undefined ? undefined : bearerTokenOf(header);
    if (bearer !== undefined && this.credentials !== undefined) return this.bearer(this.credentials, bearer, client, source);
    const creds = parseBasicAuth(header);
    if (creds === undefined) {
      this.failure(client, source, undefined, 0, 0);
      throw new PinholeError('PINHOLE_AUTH_REJECTED');
    }
    const { user, password } = creds;
    const digest = credentialDigest(user, password);
    const storedHash = this.users.hashOf(user);
    if (this.verified.has(digest, storedHash)) return htpasswdPrincipal(user);

    const verdict = await this.penalties.verdict(source, user);
    if (verdict.refused) {
      const held = this.settingsDelayMax();
      this.events.penalty({ client, source, user, code: 'PINHOLE_AUTH_THROTTLED', kind: 'refused', retryAfterSeconds: verdict.retryAfterSeconds });
      this.logger.info({ client, source, user, scope: verdict.scope, retryAfter: verdict.retryAfterSeconds }, 'A sign-in was refused: too many wrong passwords from this source.');
      await this.hold(source, held);
      throw throttled(verdict.retryAfterSeconds);
    }
    if (verdict.delayMs > 0) {
      if (!(await this.hold(source, verdict.delayMs))) {
        this.events.penalty({ client, source, user, code: 'PINHOLE_AUTH_THROTTLED', kind: 'refused', retryAfterSeconds: Math.ceil(verdict.delayMs / 1000) });
        throw throttled(Math.max(1, Math.ceil(verdict.delayMs / 1000)));
      }
      this.events.penalty({ client, source, user, code: 'PINHOLE_AUTH_THROTTLED', kind: 'delayed', delayMs: verdict.delayMs });
    }
    // A repeat tells a guesser nothing new, so it is neither checked nor counted again.
    if (this.wrong.has(digest, storedHash)) {
      this.events.failure({ client, source, user, code: 'PINHOLE_AUTH_REJECTED' });
      throw new PinholeError('PINHOLE_AUTH_REJECTED');
    }
    // A client opening many tunnels at once sends the same credential many times: one check answers all.
    const inflight = this.inflight.get(digest);
    if (inflight !== undefined) {
      if (await inflight) return htpasswdPrincipal(user);
      throw new PinholeError('PINHOLE_AUTH_REJECTED');
    }
    let ok: boolean;
    try {
      const check = this.queue.run(() => this.users.check(user, password));
      this.inflight.set(digest, check);
      ok = await check;
    } catch (err) {
      if (err instanceof PinholeError && err.code === 'PINHOLE_AUTH_BUSY') {
        this.events.refusal({ client, source, user, code: err.code, retryAfterSeconds: Number(err.details?.['retryAfterSeconds']) });
        this.logger.warn({ client, source, user, pending: this.queue.pending }, 'A sign-in was refused: too many password checks are pending.');
      }
      throw err;
    } finally {
      this.inflight.delete(digest);
    }
    if (ok) {
      this.verified.add(digest, storedHash);
      await this.penalties.succeeded(source, user);
      return htpasswdPrincipal(user);
    }
    this.wrong.add(digest, storedHash);
    const count = await this.penalties.failed(source, user);
    this.failure(client, source, user, count.failures, count.sourceFailures);
    if (count.blocked !== undefined) {
      this.logger.warn({ client, source, user, scope: count.blocked.scope, seconds: count.blocked.seconds }, 'Too many wrong passwords: sign-ins from this source are refused for a while.');
    }
    throw new PinholeError('PINHOLE_AUTH_REJECTED');
  }

  /** A tunnel credential: verified offline; a forged one counts as a failure for the source, under the same penalties. */
  private async bearer(credentials: BearerCheck, credential: string, client: string | undefined, source: string): Promise<Principal> {
    let error: PinholeError;
    try {
      return credentialPrincipal(await credentials.verify(credential));
    } catch (err) {
      error = err instanceof PinholeError ? err : new PinholeError('PINHOLE_CREDENTIAL_INVALID', undefined, { cause: err });
    }
    const user = typeof error.details?.['user'] === 'string' ? error.details['user'] : undefined;
    if (error.code === 'PINHOLE_CREDENTIAL_EXPIRED') {
      this.events.failure({ client, source, user, code: error.code });
      this.logger.info({ client, source, user, code: error.code }, 'A tunnel credential was refused: it has expired.');
      throw error;
    }
    const verdict = await this.penalties.verdict(source, BEARER_USER);
    if (verdict.refused) {
      this.events.penalty({ client, source, user: BEARER_USER, code: 'PINHOLE_AUTH_THROTTLED', kind: 'refused', retryAfterSeconds: verdict.retryAfterSeconds });
      await this.hold(source, this.settingsDelayMax());
      throw throttled(verdict.retryAfterSeconds);
    }
    if (verdict.delayMs > 0 && !(await this.hold(source, verdict.delayMs))) throw throttled(Math.max(1, Math.ceil(verdict.delayMs / 1000)));
    const count = await this.penalties.failed(source, BEARER_USER);
    this.events.failure({ client, source, user: undefined, code: error.code });
    this.logger.info({ client, source, code: error.code, failures: count.failures, sourceFailures: count.sourceFailures }, 'A tunnel credential was refused: it is not one this fleet signed.');
    throw error;
  }

  private settingsDelayMax(): number {
    return this.penalties.settings.delayMaxMs;
  }

  private failure(client: string | undefined, source: string, user: string | undefined, failures: number, sourceFailures: number): void {
    this.events.failure({ client, source, user, code: 'PINHOLE_AUTH_REJECTED' });
    this.logger.info({ client, source, user, failures, sourceFailures }, 'A sign-in failed: wrong user name or password.');
  }

  /** Hold an answer for `ms`; false (no hold) when the source already has too many held. */
  private async hold(source: string, ms: number): Promise<boolean> {
    if (ms <= 0) return true;
    const now = this.held.get(source) ?? 0;
    if (now >= MAX_HELD_PER_SOURCE) return false;
    this.held.set(source, now + 1);
    try {
      await sleep(ms);
    } finally {
      const left = (this.held.get(source) ?? 1) - 1;
      if (left <= 0) this.held.delete(source);
      else this.held.set(source, left);
    }
    return true;
  }
}

const throttled = (retryAfterSeconds: number): PinholeError => new PinholeError('PINHOLE_AUTH_THROTTLED', undefined, { details: { retryAfterSeconds } });
