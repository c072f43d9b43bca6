/** `user add NAME --dir DIR [--password-stdin]`: set a user's bcrypt entry in the users file. */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { formatHtpasswd, hashPassword, isValidUserName, parseHtpasswd, schemeOf } from '../../node/htpasswd.js';
import { usage } from './common.js';

/** Set or replace one user's password (bcrypt), keeping every other line's entry. */
export async function setUserPassword(usersFile: string, name: string, password: string): Promise<void> {
  if (!isValidUserName(name)) usage(`The user name ${JSON.stringify(name)} is not valid (no colon or spaces).`);
  const text = await readFile(usersFile, 'utf8').catch(() => '');
  const users = parseHtpasswd(text);
  const hash = await hashPassword(password);
  users.set(name, { user: name, hash, scheme: schemeOf(hash) });
  const tmp = `${usersFile}.${process.pid}.tmp`;
  await writeFile(tmp, formatHtpasswd(users.values()), { mode: 0o600 });
  await rename(tmp, usersFile);
}
