/**
 * Files read at start-up (certificate, key, users file, ticket keys, secrets file, gateway.yaml,
 * CA file): a read that fails becomes PINHOLE_FILE_UNREADABLE naming the file and why (missing, a
 * directory, no permission), and a file that is not what it should be becomes PINHOLE_FILE_INVALID
 * naming the file, and the line and field where there is one.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { PinholeError } from '../shared/errors.js';

/** Why a read failed, in words a user can act on. */
const reason = (err: unknown): string => {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EISDIR':
      return 'it is a directory, not a file';
    case 'EACCES':
    case 'EPERM':
      return `permission denied: the user running Pinhole${typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : ''} may not read it; fix its owner or mode`;
    case 'ENOTDIR':
      return 'a part of its path is not a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
};

/**
 * `what` names the file's role, as in "the certificate"; `advice` is added for a missing file
 * (e.g. "run `pinhole-gateway init` first").
 */
export const unreadableFile = (err: unknown, file: string, what: string, advice?: string): PinholeError =>
  new PinholeError('PINHOLE_FILE_UNREADABLE', `${capitalise(what)} ${file} could not be read: ${reason(err)}.${advice !== undefined && (err as NodeJS.ErrnoException).code === 'ENOENT' ? ` ${advice}` : ''}`, {
    cause: err,
    details: { file, errno: (err as NodeJS.ErrnoException | undefined)?.code },
  });

export interface FilePlace {
  /** 1-based line. */
  readonly line?: number;
  /** The field (a dotted path) the problem is in. */
  readonly field?: string;
}

/**
 * "The users file /etc/pinhole/users.htpasswd, line 3: PROBLEM". PINHOLE_FILE_INVALID, except
 * gateway.yaml, which keeps PINHOLE_CONFIG_INVALID (it is the configuration itself).
 */
export const invalidFile = (
  file: string,
  what: string,
  problem: string,
  place: FilePlace = {},
  options: { cause?: unknown; code?: 'PINHOLE_FILE_INVALID' | 'PINHOLE_CONFIG_INVALID' } = {},
): PinholeError => {
  const at = [place.line === undefined ? '' : `line ${place.line}`, place.field === undefined ? '' : `field ${place.field}`].filter(Boolean).join(', ');
  return new PinholeError(options.code ?? 'PINHOLE_FILE_INVALID', `${capitalise(what)} ${file}${at === '' ? '' : `, ${at}`}: ${problem}`, {
    ...(options.cause === undefined ? {} : { cause: options.cause }),
    details: { file, ...place },
  });
};

/** A file that could not be written: PINHOLE_WRITE_FAILED naming it and why. */
export const unwritableFile = (err: unknown, file: string, what: string): PinholeError =>
  new PinholeError('PINHOLE_WRITE_FAILED', `${capitalise(what)} ${file} could not be written: ${reason(err).replace('may not read it', 'may not write it')}; nothing was changed.`, {
    cause: err,
    details: { file, errno: (err as NodeJS.ErrnoException | undefined)?.code },
  });

export function readStartupFile(file: string, what: string, advice?: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw unreadableFile(err, file, what, advice);
  }
}

export async function readStartupFileAsync(file: string, what: string, advice?: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw unreadableFile(err, file, what, advice);
  }
}

const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
