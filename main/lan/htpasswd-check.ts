/**
 * `--local-users FILE`: the PasswordCheck for the LAN box, from the same htpasswd parser and
 * verifier as the gateway (node/htpasswd.ts): bcrypt, apr1 and SHA1 lines, an unknown user costs
 * the same bcrypt work as a wrong password (a decoy hash), so answers do not reveal who exists.
 */
import { decoyHash, malformedHtpasswdLine, parseHtpasswd, verifyPassword, type HtpasswdEntry } from '../../node/htpasswd.js';
import { invalidFile, readStartupFileAsync } from '../../node/startup-files.js';
import type { PasswordCheck } from './local-users.js';

const WHAT = 'the --local-users file';

export class HtpasswdCheck implements PasswordCheck {
  private constructor(
    private readonly users: ReadonlyMap<string, HtpasswdEntry>,
    private readonly decoy: string,
  ) {}

  /** Reads FILE once; throws PINHOLE_FILE_UNREADABLE or PINHOLE_FILE_INVALID (naming the line) when it cannot be used. */
  static async load(file: string): Promise<HtpasswdCheck> {
    const text = (await readStartupFileAsync(file, WHAT)).toString('utf8');
    const line = malformedHtpasswdLine(text);
    if (line !== undefined) throw invalidFile(file, WHAT, 'this line is not NAME:HASH (htpasswd: bcrypt, apr1 or SHA1 hashes); fix or remove it.', { line });
    const users = parseHtpasswd(text);
    if (users.size === 0) throw invalidFile(file, WHAT, 'it names no user (expected htpasswd lines NAME:HASH).');
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
