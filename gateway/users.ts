/** The gateway's users: an htpasswd file, reloaded when it changes, and Basic auth checks. */
import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import { PinholeError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { parseHtpasswd, verifyPassword, type HtpasswdEntry } from './htpasswd.js';

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

export class UserStore {
  private users = new Map<string, HtpasswdEntry>();
  /** Successful checks, cached by user+password digest so bcrypt runs once per credential. */
  private readonly verified = new Map<string, string>();

  constructor(
    private readonly file: string,
    private readonly logger?: Logger,
  ) {
    this.load();
  }

  load(): void {
    this.users = parseHtpasswd(readFileSync(this.file, 'utf8'));
    this.verified.clear();
  }

  get size(): number {
    return this.users.size;
  }

  watch(): void {
    watchFile(this.file, { interval: 1000 }, () => {
      try {
        this.load();
        this.logger?.info({ file: this.file, users: this.users.size }, 'The users file was reloaded.');
      } catch (err) {
        this.logger?.warn({ file: this.file, err }, 'The users file could not be reloaded; the previous users stay.');
      }
    });
  }

  unwatch(): void {
    unwatchFile(this.file);
  }

  async check(user: string, password: string): Promise<boolean> {
    const entry = this.users.get(user);
    if (entry === undefined) return false;
    const key = `${user}\0${password}`;
    if (this.verified.get(key) === entry.hash) return true;
    const ok = await verifyPassword(entry.hash, password);
    if (ok) {
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(key, entry.hash);
    }
    return ok;
  }

  /** Resolves to the user name, or throws PINHOLE_AUTH_MISSING / PINHOLE_AUTH_REJECTED. */
  async authenticate(header: string | undefined): Promise<string> {
    if (header === undefined || header.trim() === '') throw new PinholeError('PINHOLE_AUTH_MISSING');
    const creds = parseBasicAuth(header);
    if (creds === undefined || !(await this.check(creds.user, creds.password))) throw new PinholeError('PINHOLE_AUTH_REJECTED');
    return creds.user;
  }
}
