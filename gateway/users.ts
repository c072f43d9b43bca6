/**
 * The gateway's users: an htpasswd file, reloaded when it changes, and password checks that cost
 * the same whether or not the user exists (an unknown name is checked against a decoy hash of the
 * file's usual scheme and cost). Caching, penalties and the queue are gateway/auth's job.
 */
import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import type { Logger } from '../shared/log.js';
import { invalidFile, unreadableFile } from '../node/startup-files.js';
import { BCRYPT_COST, bcryptCostOf, decoyHash, malformedHtpasswdLine, parseHtpasswd, verifyPassword, type HashScheme, type HtpasswdEntry } from '../node/htpasswd.js';

/** Parse `Basic base64(user:password)`; undefined when it is not one. Pure. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The scheme (and bcrypt cost) most entries use: what a decoy must look like. Pure. */
export function usualSchemeOf(entries: Iterable<HtpasswdEntry>): { scheme: HashScheme; cost: number } {
  const counts = new Map<string, number>();
  for (const e of entries) {
    if (e.scheme === 'unsupported') continue;
    const key = e.scheme === 'bcrypt' ? `bcrypt:${bcryptCostOf(e.hash) ?? BCRYPT_COST}` : e.scheme;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let best = `bcrypt:${BCRYPT_COST}`;
  let most = 0;
  for (const [key, n] of counts) if (n > most) [best, most] = [key, n];
  const [scheme, cost] = best.split(':');
  return { scheme: scheme as HashScheme, cost: cost === undefined ? BCRYPT_COST : Number(cost) };
}

const WHAT = 'the users file';

/** The mark `user disable` and the console put before a user's hash (as `passwd -l` does in /etc/shadow; users-file.ts writes it). */
export const DISABLED_MARK = '!';

/**
 * The users file's entries. A file that cannot be read, or a line that is not NAME:HASH, stops
 * with the file's name (and the line): a line dropped quietly would lock a user out unexplained.
 * `missing: 'empty'` reads a file that does not exist yet as no users (`user add`).
 */
export function readUsersFile(file: string, missing: 'empty' | 'error' = 'error'): Map<string, HtpasswdEntry> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (missing === 'empty' && (err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw unreadableFile(err, file, WHAT, 'Add a user with `pinhole-gateway user add NAME --dir DIR`.');
  }
  const line = malformedHtpasswdLine(text);
  if (line !== undefined) throw invalidFile(file, WHAT, 'this line is not NAME:HASH (htpasswd: bcrypt, apr1 or SHA1 hashes); fix or remove it.', { line });
  return parseHtpasswd(text);
}

export class UserStore {
  private users = new Map<string, HtpasswdEntry>();
  private decoy: Promise<string> | undefined;
  private decoyKind = '';

  constructor(
    private readonly file: string,
    private readonly logger?: Logger,
  ) {
    this.load();
  }

  load(): void {
    this.users = readUsersFile(this.file);
    const { scheme, cost } = usualSchemeOf(this.users.values());
    const kind = `${scheme}:${cost}`;
    if (kind !== this.decoyKind || this.decoy === undefined) {
      this.decoyKind = kind;
      this.decoy = decoyHash(scheme, cost);
    }
  }

  get size(): number {
    return this.users.size;
  }

  /** True when `pinhole-gateway user disable` marked the user (its hash starts with `!`, as in /etc/shadow; Squid refuses it too). */
  isDisabled(user: string): boolean {
    return this.users.get(user)?.hash.startsWith(DISABLED_MARK) === true;
  }

  /** Users marked disabled now. */
  disabledUsers(): string[] {
    return [...this.users.values()].filter((e) => e.hash.startsWith(DISABLED_MARK)).map((e) => e.user);
  }

  /** The stored hash of `user` (undefined for an unknown user): caches compare it to notice a changed password. */
  hashOf(user: string): string | undefined {
    return this.users.get(user)?.hash;
  }

  /** Re-read the file when it changes; `reloaded` runs after each good reload (disabled users' tunnels end there). */
  watch(reloaded: () => void = () => undefined): void {
    watchFile(this.file, { interval: 1000 }, () => {
      try {
        this.load();
        this.logger?.info({ file: this.file, users: this.users.size }, 'The users file was reloaded.');
        reloaded();
      } catch (err) {
        this.logger?.warn({ file: this.file, err }, 'The users file could not be reloaded; the previous users stay.');
      }
    });
  }

  unwatch(): void {
    unwatchFile(this.file);
  }

  /** One full password check (bcrypt in the thread pool); an unknown user costs the same as a known one. */
  async check(user: string, password: string): Promise<boolean> {
    const entry = this.users.get(user);
    // A disabled user's password is still checked (it decides between 407 and 403 REVOKED): the hash is behind the mark.
    if (entry !== undefined) return verifyPassword(entry.hash.startsWith(DISABLED_MARK) ? entry.hash.slice(DISABLED_MARK.length) : entry.hash, password);
    await verifyPassword(await (this.decoy ?? decoyHash('bcrypt')), password);
    return false;
  }
}
