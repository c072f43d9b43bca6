/**
 * `--local-users FILE`: the PasswordCheck for the LAN box, from the same htpasswd parser and
 * verifier as the gateway (node/htpasswd.ts): bcrypt, apr1 and SHA1 lines, an unknown user costs
 * the same bcrypt work as a wrong password (a decoy hash), so answers do not reveal who exists.
 */
import { readFile } from 'node:fs/promises';
import { PinholeError } from '../../shared/errors.js';
import { decoyHash, parseHtpasswd, verifyPassword, type HtpasswdEntry } from '../../node/htpasswd.js';
import type { PasswordCheck } from './local-users.js';

export class HtpasswdCheck implements PasswordCheck {
  private constructor(
    private readonly users: ReadonlyMap<string, HtpasswdEntry>,
    private readonly decoy: string,
  ) {}

  /** Reads FILE once; throws PINHOLE_CONFIG_INVALID when it cannot be read or names no user. */
  static async load(file: string): Promise<HtpasswdCheck> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new PinholeError('PINHOLE_CONFIG_INVALID', `--local-users ${file} could not be read.`, { cause });
    }
    const users = parseHtpasswd(text);
    if (users.size === 0) throw new PinholeError('PINHOLE_CONFIG_INVALID', `--local-users ${file} names no user (expected htpasswd lines user:hash).`);
    return new HtpasswdCheck(users, await decoyHash('bcrypt'));
  }

  async check(user: string, password: string): Promise<boolean> {
    const entry = this.users.get(user);
    if (entry === undefined) {
      await verifyPassword(this.decoy, password);
      return false;
    }
    return verifyPassword(entry.hash, password);
  }
}
