/** `user add NAME`: set a user's bcrypt entry in the users file; `user disable|enable NAME`: mark it (gateway/users.ts). */
import { rename, rm, writeFile } from 'node:fs/promises';
import { formatHtpasswd, hashPassword, isValidUserName, schemeOf } from '../../node/htpasswd.js';
import { unwritableFile } from '../../node/startup-files.js';
import { DISABLED_MARK, readUsersFile } from '../users.js';
import type { HtpasswdEntry } from '../../node/htpasswd.js';
import { usage } from './common.js';

/** Set or replace one user's password (bcrypt), keeping every other line's entry. */
export async function setUserPassword(usersFile: string, name: string, password: string): Promise<void> {
  if (!isValidUserName(name)) usage(`The user name ${JSON.stringify(name)} is not valid (no colon or spaces).`);
  const users = readUsersFile(usersFile, 'empty');
  const hash = await hashPassword(password);
  // A disabled user stays disabled with a new password (`user enable` lifts it).
  const disabled = users.get(name)?.hash.startsWith(DISABLED_MARK) === true;
  users.set(name, { user: name, hash: disabled ? `${DISABLED_MARK}${hash}` : hash, scheme: schemeOf(hash) });
  await writeUsers(usersFile, users);
}

async function writeUsers(usersFile: string, users: Map<string, HtpasswdEntry>): Promise<void> {
  const tmp = `${usersFile}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, formatHtpasswd(users.values()), { mode: 0o600 });
    await rename(tmp, usersFile);
  } catch (err) {
    await rm(tmp, { force: true });
    throw unwritableFile(err, usersFile, 'the users file');
  }
}

/** `user disable` / `user enable`: put or take away the mark before the user's hash; false when there is no such user. True when something changed. */
export async function setUserDisabled(usersFile: string, name: string, disabled: boolean): Promise<'changed' | 'unchanged' | 'unknown'> {
  const users = readUsersFile(usersFile);
  const entry = users.get(name);
  if (entry === undefined) return 'unknown';
  const marked = entry.hash.startsWith(DISABLED_MARK);
  if (marked === disabled) return 'unchanged';
  const hash = disabled ? `${DISABLED_MARK}${entry.hash}` : entry.hash.slice(DISABLED_MARK.length);
  users.set(name, { ...entry, hash });
  await writeUsers(usersFile, users);
  return 'changed';
}
