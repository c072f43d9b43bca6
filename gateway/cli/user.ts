/** `user add NAME --dir DIR [--password-stdin]`: set a user's bcrypt entry in the users file. */
import { rename, rm, writeFile } from 'node:fs/promises';
import { formatHtpasswd, hashPassword, isValidUserName, schemeOf } from '../../node/htpasswd.js';
import { unwritableFile } from '../../node/startup-files.js';
import { readUsersFile } from '../users.js';
import { usage } from './common.js';

/** Is `name` in the users file (a missing file holds nobody)? */
export const userExists = (usersFile: string, name: string): boolean => readUsersFile(usersFile, 'empty').has(name);

/** Set or replace one user's password (bcrypt), keeping every other line's entry. */
export async function setUserPassword(usersFile: string, name: string, password: string): Promise<void> {
  if (!isValidUserName(name)) usage(`The user name ${JSON.stringify(name)} is not valid (no colon or spaces).`);
  const users = readUsersFile(usersFile, 'empty');
  const hash = await hashPassword(password);
  users.set(name, { user: name, hash, scheme: schemeOf(hash) });
  const tmp = `${usersFile}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, formatHtpasswd(users.values()), { mode: 0o600 });
    await rename(tmp, usersFile);
  } catch (err) {
    await rm(tmp, { force: true });
    throw unwritableFile(err, usersFile, 'the users file');
  }
}
