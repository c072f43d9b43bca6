/**
 * Apache htpasswd files: one `user:hash` per line. Writes bcrypt ($2y$); reads bcrypt
 * ($2y$/$2a$/$2b$), apr1-MD5 ($apr1$) and SHA1 ({SHA}), so a file made by `htpasswd -c` just works.
 * bcrypt runs natively in libuv's thread pool (@node-rs/bcrypt), never on the event loop.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import apacheMd5 from 'apache-md5';
import { hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';

// The package is CommonJS (`module.exports = fn`) but its typings say `export default`; under
// NodeNext the default import is the function at run time, so cast to what it really is.
const md5 = apacheMd5 as unknown as (password: string, salt?: string) => string;

export type HashScheme = 'bcrypt' | 'apr1' | 'sha1' | 'unsupported';

export interface HtpasswdEntry {
  readonly user: string;
  readonly hash: string;
  readonly scheme: HashScheme;
}

export function schemeOf(hash: string): HashScheme {
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) return 'bcrypt';
  if (/^\$apr1\$[^$]{1,8}\$[./A-Za-z0-9]{22}$/.test(hash)) return 'apr1';
  if (/^\{SHA\}[A-Za-z0-9+/]{27}=$/.test(hash)) return 'sha1';
  return 'unsupported';
}

/** Parse one line; comments and blank lines give undefined. Pure. */
export function parseHtpasswdLine(line: string): HtpasswdEntry | undefined {
  const text = line.replace(/\r$/, '');
  if (text.trim() === '' || text.trimStart().startsWith('#')) return undefined;
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  const user = text.slice(0, colon);
  const hash = text.slice(colon + 1).trim();
  if (hash === '') return undefined;
  return { user, hash, scheme: schemeOf(hash) };
}

/** The first line (1-based) that is neither blank, a comment nor NAME:HASH; undefined when every line is. */
export function malformedHtpasswdLine(text: string): number | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((line) => line.trim() !== '' && !line.trimStart().startsWith('#') && parseHtpasswdLine(line) === undefined);
  return at === -1 ? undefined : at + 1;
}

export function parseHtpasswd(text: string): Map<string, HtpasswdEntry> {
  const users = new Map<string, HtpasswdEntry>();
  for (const line of text.split('\n')) {
    const entry = parseHtpasswdLine(line);
    if (entry !== undefined && !users.has(entry.user)) users.set(entry.user, entry);
  }
  return users;
}

export function formatHtpasswd(entries: Iterable<HtpasswdEntry>): string {
  let out = '';
  for (const e of entries) out += `${e.user}:${e.hash}\n`;
  return out;
}

const equalStrings = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  switch (schemeOf(hash)) {
    case 'bcrypt':
      // $2y$ is $2b$ under PHP's/Apache's name; the native verifier reads all three spellings.
      return bcryptVerify(password, hash);
    case 'apr1':
      return equalStrings(md5(password, hash), hash);
    case 'sha1':
      return equalStrings(`{SHA}${createHash('sha1').update(password).digest('base64')}`, hash);
    default:
      return false;
  }
}

export const BCRYPT_COST = 10;

/** A bcrypt hash in Apache's `$2y$` spelling (cost 10, like `htpasswd -B`). */
export async function hashPassword(password: string, cost = BCRYPT_COST): Promise<string> {
  const hash = await bcryptHash(password, cost);
  return hash.replace(/^\$2[ab]\$/, '$2y$');
}

/** The cost of a bcrypt hash (`$2y$10$...` -> 10); undefined for other schemes. Pure. */
export const bcryptCostOf = (hash: string): number | undefined => {
  const match = /^\$2[aby]\$(\d\d)\$/.exec(hash);
  return match?.[1] === undefined ? undefined : Number(match[1]);
};

/**
 * A hash of a random password in `scheme` (and bcrypt `cost`): what an unknown user's password is
 * checked against, so that a wrong name costs exactly what a wrong password does.
 */
export async function decoyHash(scheme: HashScheme, cost = BCRYPT_COST): Promise<string> {
  const secret = randomBytes(18).toString('base64url');
  switch (scheme) {
    case 'apr1':
      return md5(secret);
    case 'sha1':
      return `{SHA}${createHash('sha1').update(secret).digest('base64')}`;
    default:
      return hashPassword(secret, cost);
  }
}

/** A strong random password: 24 URL-safe characters (144 bits). */
export const generatePassword = (): string => randomBytes(18).toString('base64url');

/** Valid user names: no colon, no whitespace or control characters. */
export const isValidUserName = (name: string): boolean => /^[^:\s\p{Cc}]{1,128}$/u.test(name);
