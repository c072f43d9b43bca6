/** `user add NAME`: set a user's bcrypt entry in the users file; `user disable|enable NAME`: mark it (users-file.ts). */
import { PinholeError } from '../../shared/errors.js';
import { hashPassword, isValidUserName } from '../../node/htpasswd.js';
import { changeUsers, edits, isDisabled } from '../users-file.js';
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

/** `user disable` / `user enable`: put or take away the mark before the user's hash, under the lock. */
export async function setUserDisabled(usersFile: string, name: string, disabled: boolean): Promise<'changed' | 'unchanged' | 'unknown'> {
  try {
    return await changeUsers(usersFile, (users) => {
      const entry = users.get(name);
      const before = entry !== undefined && isDisabled(entry);
      edits.setDisabled(name, disabled)(users);
      return before === disabled ? 'unchanged' : 'changed';
    });
  } catch (err) {
    if (err instanceof PinholeError && err.code === 'PINHOLE_USER_UNKNOWN') return 'unknown';
    throw err;
  }
}
