/**
 * `--byte-path js|native|auto` (issue 27), one contract for `pinhole connect`, `pinhole forward` and
 * `pinhole-gateway run` (gateway.yaml `bytePath`): which code moves the bytes. `auto` (the default)
 * takes the native byte path where it loads; the start-up log says, in one line, which path runs and why.
 */
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { chooseBytePath, type NativeBytePath } from './byte-path.js';

export const BYTE_PATHS = ['js', 'native', 'auto'] as const;
export type BytePathWanted = (typeof BYTE_PATHS)[number];

export const BYTE_PATH_FLAG_OPTIONS = { 'byte-path': { type: 'string' } } as const;

/** The flag's value, checked (absent: auto). */
export const bytePathFlag = (text: string | undefined): BytePathWanted => {
  if (text === undefined) return 'auto';
  if ((BYTE_PATHS as readonly string[]).includes(text)) return text as BytePathWanted;
  throw new PinholeError('PINHOLE_USAGE', `--byte-path ${text} is not one of ${BYTE_PATHS.join(', ')}.`);
};

/**
 * Loads the chosen path and logs the one line: `nativeSentence` says what the native path carries.
 * `native` asked for and not available is said as a warning and the JavaScript path runs: the
 * program works either way.
 */
export const startBytePath = (wanted: BytePathWanted, logger: Logger, nativeSentence: string, what = "the tunnels' bytes"): NativeBytePath | undefined => {
  const choice = chooseBytePath(wanted === 'native' ? 'auto' : wanted);
  if (choice.kind === 'native') {
    logger.info({ bytePath: 'native', openssl: choice.path.openssl }, nativeSentence);
    return choice.path;
  }
  logger[wanted === 'native' ? 'warn' : 'info']({ bytePath: 'js', reason: choice.reason }, `The JavaScript byte path moves ${what}: ${choice.reason}.`);
  return undefined;
};
