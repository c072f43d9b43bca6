/**
 * `--session-timeout SECONDS` (issue 28), one spelling for `pinhole connect` and `pinhole forward`:
 * how long the tunnels open on a gateway that stopped answering keep running while nothing arrives
 * from it, before they are reset.
 */
import { PinholeError } from '../../shared/errors.js';

/** The flag's value in milliseconds; undefined when the flag was not given (the default, 15 s, applies). */
export const sessionTimeoutMs = (text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds < 1 || seconds > 3_600) {
    throw new PinholeError('PINHOLE_USAGE', `--session-timeout must be a number of seconds from 1 to 3600, got "${text}".`);
  }
  return Math.round(seconds * 1_000);
};
