/**
 * Changes to the users file that never lose one another: the console and `pinhole-gateway user add`
 * may write at the same moment. Each change takes the file's lock (`FILE.lock`, created with O_EXCL;
 * one left by a crashed writer is taken over after STALE_MS), reads the file afresh, applies its one
 * edit, writes a temporary file beside it, fsyncs it, renames it over the file and fsyncs the folder.
 * A full disk or any write error leaves the file as it was and says so (PINHOLE_DISK_FULL,
 * PINHOLE_WRITE_FAILED). Gateways pick the new file up through their watch (users.ts).
 *
 * A disabled user keeps its entry with the hash behind a `!` (as a locked password in /etc/shadow):
 * no password matches it, and enabling removes the `!`.
 */
import { constants } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PinholeError } from '../shared/errors.js';
import { formatHtpasswd, schemeOf, type HtpasswdEntry } from '../node/htpasswd.js';
import { unwritableFile } from '../node/startup-files.js';
import { DISABLED_MARK, readUsersFile } from './users.js';

const STALE_MS = 30_000;
const LOCK_WAIT_MS = 10_000;
const LOCK_RETRY_MS = 15;

export { DISABLED_MARK };

export const isDisabled = (entry: HtpasswdEntry): boolean => entry.hash.startsWith(DISABLED_MARK);

export const entryOf = (user: string, hash: string): HtpasswdEntry => ({ user, hash, scheme: schemeOf(hash) });

/** The file system calls a write makes: tests replace `write` to play a full disk. */
export interface UsersFileIo {
  write(handle: import('node:fs/promises').FileHandle, text: string): Promise<void>;
}

const realIo: UsersFileIo = { write: async (handle, text) => void (await handle.writeFile(text)) };

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Hold `FILE.lock` while `work` runs. */
async function withLock<T>(file: string, work: () => Promise<T>): Promise<T> {
  const lockFile = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      // Empty: taking the lock needs no free block, so a full disk still gets its clear error from the write.
      await (await open(lockFile, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritableFile(err, lockFile, 'the users file\'s lock');
      const held = await stat(lockFile).catch(() => undefined);
      if (held !== undefined && Date.now() - held.mtimeMs > STALE_MS) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new PinholeError('PINHOLE_WRITE_FAILED', `The users file ${file} is locked by another writer (${lockFile}) for more than ${LOCK_WAIT_MS / 1000} s; nothing was changed. If no pinhole-gateway command is running, remove ${lockFile}.`);
      }
      await wait(LOCK_RETRY_MS);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockFile, { force: true });
  }
}

const writeFailure = (err: unknown, file: string): PinholeError => {
  const errno = (err as NodeJS.ErrnoException).code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new PinholeError('PINHOLE_DISK_FULL', `The disk holding the users file ${file} is full; the change was not saved and the file is as it was. Free some space and try again.`, {
      cause: err,
      details: { file, errno },
    });
  }
  return unwritableFile(err, file, 'the users file');
};

/** Write `text` as `file` atomically: a temporary file, fsync, rename, fsync of the folder. */
async function replaceFile(file: string, text: string, io: UsersFileIo): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    const handle = await open(tmp, 'w', 0o600);
    try {
      await io.write(handle, text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw writeFailure(err, file);
  }
  const folder = await open(dirname(file), 'r').catch(() => undefined);
  await folder?.sync().catch(() => undefined);
  await folder?.close();
}

/**
 * Apply `edit` to the users as they are on disk now, under the lock, and save the result.
 * `edit` may throw (an unknown user): nothing is written then.
 */
export async function changeUsers<T>(file: string, edit: (users: Map<string, HtpasswdEntry>) => T, io: UsersFileIo = realIo): Promise<T> {
  return withLock(file, async () => {
    const users = readUsersFile(file, 'empty');
    const result = edit(users);
    await replaceFile(file, formatHtpasswd(users.values()), io);
    return result;
  });
}

const unknownUser = (name: string): PinholeError => new PinholeError('PINHOLE_USER_UNKNOWN', `There is no user ${JSON.stringify(name)} in the users file (it may have been removed by hand).`);

/** The edits the console and the CLI make. Each is a function over the users as read under the lock. */
export const edits = {
  setHash: (name: string, hash: string, keepDisabled = false) => (users: Map<string, HtpasswdEntry>) => {
    const wasDisabled = users.get(name) !== undefined && isDisabled(users.get(name)!);
    users.set(name, entryOf(name, keepDisabled && wasDisabled ? `${DISABLED_MARK}${hash}` : hash));
  },
  add: (name: string, hash: string) => (users: Map<string, HtpasswdEntry>) => {
    if (users.has(name)) throw new PinholeError('PINHOLE_USER_EXISTS', `The user ${JSON.stringify(name)} already exists.`);
    users.set(name, entryOf(name, hash));
  },
  setDisabled: (name: string, disabled: boolean) => (users: Map<string, HtpasswdEntry>) => {
    const entry = users.get(name) ?? (() => { throw unknownUser(name); })();
    const bare = isDisabled(entry) ? entry.hash.slice(DISABLED_MARK.length) : entry.hash;
    users.set(name, entryOf(name, disabled ? `${DISABLED_MARK}${bare}` : bare));
  },
  remove: (name: string) => (users: Map<string, HtpasswdEntry>) => {
    if (!users.delete(name)) throw unknownUser(name);
  },
};
