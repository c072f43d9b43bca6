/** `user add NAME --dir DIR [--password-stdin]`: set a user's bcrypt entry in the users file. */
import { hashPassword, isValidUserName } from '../../node/htpasswd.js';
import { changeUsers, edits } from '../users-file.js';
import { usage } from './common.js';

/**
 * Set or replace one user's password (bcrypt), keeping every other entry, under the users file's
 * lock (a console writing at the same moment is not lost); a disabled user stays disabled.
 */
export async function setUserPassword(usersFile: string, name: string, password: string): Promise<void> {
  if (!isValidUserName(name)) usage(`The user name ${JSON.stringify(name)} is not valid (no colon or spaces).`);
  const hash = await hashPassword(password);
  await changeUsers(usersFile, edits.setHash(name, hash, true));
}
