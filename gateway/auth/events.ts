/**
 * What the gateway tells observers about hostile or unlucky clients (the fleet's /metrics counts
 * `pinhole_auth_failures_total` and `pinhole_auth_penalties_total` from these). Never a password.
 *
 *   failure  one wrong (or malformed) credential, answered 407
 *   penalty  one answer that was held (kind 'delayed') or refused with 429 (kind 'refused')
 *   refusal  one request refused by a limit: PINHOLE_AUTH_BUSY (503) or PINHOLE_LIMIT_REACHED (429)
 */
import { EventEmitter } from 'node:events';
import type { ErrorCode } from '../../shared/errors.js';

export interface AuthEvent {
  /** The client as the access log names it ("address:port", from a trusted PROXY header when there is one). */
  readonly client: string | undefined;
  /** What penalties are counted against: the IPv4 address or the IPv6 /64. */
  readonly source: string;
  /** The user name the client claimed (it may not exist). */
  readonly user: string | undefined;
  readonly code: ErrorCode;
  readonly kind?: 'delayed' | 'refused';
  readonly delayMs?: number;
  readonly retryAfterSeconds?: number;
}

export interface AuthObserver {
  failure(info: AuthEvent): void;
  penalty(info: AuthEvent): void;
  refusal?(info: AuthEvent): void;
}

export type AuthEventMap = { failure: [AuthEvent]; penalty: [AuthEvent]; refusal: [AuthEvent] };

/** Gateway.authEvents: an EventEmitter of 'failure' | 'penalty' | 'refusal', each with one AuthEvent. */
export class AuthEvents extends EventEmitter<AuthEventMap> {
  constructor(private readonly observer?: AuthObserver) {
    super();
  }

  failure(info: AuthEvent): void {
    this.observer?.failure(info);
    this.emit('failure', info);
  }

  penalty(info: AuthEvent): void {
    this.observer?.penalty(info);
    this.emit('penalty', info);
  }

  refusal(info: AuthEvent): void {
    this.observer?.refusal?.(info);
    this.emit('refusal', info);
  }
}
