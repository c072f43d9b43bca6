/**
 * What the gateway remembers about credentials it has checked, by digest only (an HMAC under a
 * key born with the process, so nothing in memory is the password or can be tried offline):
 * - verified credentials, answered without bcrypt and never penalised, so the real user behind an
 *   address that a guesser shares keeps working;
 * - recently wrong credentials (the negative cache), answered without bcrypt when repeated.
 * Each entry remembers the user's stored hash: a changed password in the users file misses.
 */
import { createHmac, randomBytes } from 'node:crypto';

const key = randomBytes(32);

/** The digest that stands for a user name + password pair. */
export const credentialDigest = (user: string, password: string): string => createHmac('sha256', key).update(user).update('\0').update(password).digest('base64url');

interface Entry {
  /** The user's stored hash when the entry was made ('' for an unknown user). */
  readonly hash: string;
  readonly expires: number;
}

/** A bounded map from digest to "seen with this stored hash until then"; the oldest entries go first. */
export class CredentialCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  has(digest: string, storedHash: string | undefined): boolean {
    const entry = this.entries.get(digest);
    if (entry === undefined) return false;
    if (entry.expires <= this.now() || entry.hash !== (storedHash ?? '')) {
      this.entries.delete(digest);
      return false;
    }
    return true;
  }

  add(digest: string, storedHash: string | undefined): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(digest);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(digest, { hash: storedHash ?? '', expires: this.now() + this.ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }
}
