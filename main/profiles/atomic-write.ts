/**
 * Writes a file so that readers see either the old or the new content, never half of it:
 * a temporary file beside it, fsync, rename. A full disk becomes PINHOLE_DISK_FULL.
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PinholeError } from '../../shared/errors.js';

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

export const writeError = (error: unknown, file: string): PinholeError => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code && DISK_FULL.has(code)) return new PinholeError('PINHOLE_DISK_FULL', undefined, { cause: error, details: { file } });
  return new PinholeError('PINHOLE_WRITE_FAILED', `${file} could not be written (${code ?? 'error'}); nothing was changed.`, {
    cause: error,
    details: { file },
  });
};

export const writeFileAtomic = async (file: string, data: string | Uint8Array, mode = 0o600): Promise<void> => {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(error, file);
  }
};
