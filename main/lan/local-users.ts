/**
 * `--local-users FILE`: the LAN box asks its terminals for a user name and password, as an HTTP
 * proxy (Proxy-Authorization: Basic, 407 otherwise) and as a SOCKS5 server (RFC 1929).
 *
 * The password check is injected (PasswordCheck): the gateway already parses htpasswd and verifies
 * bcrypt/apr1/SHA in gateway/htpasswd.ts + users.ts, which main/ may not import; once that parser
 * moves to node/ (or shared/), the CLI builds a PasswordCheck from it. This module adds what the
 * box needs around the check: one answer for a missing and a wrong password (no user enumeration),
 * and a per-source penalty after repeated failures that never touches a source that succeeds.
 */
import { PinholeError } from '../../shared/errors.js';
import { parseBasicCredentials } from '../../shared/basic-auth.js';
import type { Logger } from '../../shared/log.js';

export interface PasswordCheck {
  /**
   * True only for a known user with this password. Must take the same time and give the same
   * answer for an unknown user as for a wrong password.
   */
  check(user: string, password: string): Promise<boolean>;
}

/** What a 407 from the LAN box carries. */
export const LOCAL_PROXY_AUTHENTICATE = 'Basic realm="pinhole"';

export interface LocalUsersOptions {
  readonly check: PasswordCheck;
  readonly logger?: Logger;
  /** Failures from one source before it is held off (default 5). */
  readonly maxFailures?: number;
  /** How long a held-off source is refused without a check, in ms (default 30 s, doubling per further burst, up to 10 min). */
  readonly penaltyMs?: number;
  /** Sources remembered at most (default 4096); the oldest is forgotten first. */
  readonly maxSources?: number;
  readonly now?: () => number;
}

interface Failures {
  count: number;
  bursts: number;
  until: number;
}

export class LocalUsers {
  private readonly failures = new Map<string, Failures>();
  private readonly maxFailures: number;
  private readonly penaltyMs: number;
  private readonly maxSources: number;
  private readonly now: () => number;

  constructor(private readonly options: LocalUsersOptions) {
    this.maxFailures = options.maxFailures ?? 5;
    this.penaltyMs = options.penaltyMs ?? 30_000;
    this.maxSources = options.maxSources ?? 4096;
    this.now = options.now ?? Date.now;
  }

  /** A Proxy-Authorization header value: resolves to the user, or throws PINHOLE_LOCAL_AUTH_MISSING / _REJECTED. */
  async authenticateHeader(header: string | undefined, source: string): Promise<string> {
    if (header === undefined || header.trim() === '') throw new PinholeError('PINHOLE_LOCAL_AUTH_MISSING');
    const credentials = parseBasicCredentials(header);
    if (credentials === undefined) return this.fail(source, undefined);
    return this.authenticate(credentials.user, credentials.password, source);
  }

  /** RFC 1929 credentials (or a parsed header): resolves to the user, or throws PINHOLE_LOCAL_AUTH_REJECTED. */
  async authenticate(user: string, password: string, source: string): Promise<string> {
    const record = this.failures.get(source);
    if (record !== undefined && record.until > this.now()) return this.fail(source, user, true);
    if (await this.options.check.check(user, password)) {
      this.failures.delete(source);
      return user;
    }
    return this.fail(source, user);
  }

  /** Is this source held off right now? (For tests and the status.) */
  heldOff(source: string): boolean {
    return (this.failures.get(source)?.until ?? 0) > this.now();
  }

  private fail(source: string, user: string | undefined, held = false): never {
    if (!held) {
      let record = this.failures.get(source);
      if (record === undefined) {
        if (this.failures.size >= this.maxSources) this.failures.delete(this.failures.keys().next().value as string);
        record = { count: 0, bursts: 0, until: 0 };
        this.failures.set(source, record);
      }
      record.count++;
      if (record.count >= this.maxFailures) {
        record.count = 0;
        record.until = this.now() + Math.min(this.penaltyMs * 2 ** record.bursts, 600_000);
        record.bursts++;
        this.options.logger?.warn({ source, user, heldOffMs: record.until - this.now() }, 'A terminal failed to sign in to this Pinhole proxy repeatedly and is held off.');
      }
    }
    throw new PinholeError('PINHOLE_LOCAL_AUTH_REJECTED', undefined, { details: { source, user } });
  }
}
