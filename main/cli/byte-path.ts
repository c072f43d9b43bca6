/**
 * `--byte-path js|native|auto` on `pinhole connect` and `pinhole forward` (issue 27): which code
 * moves the tunnels' bytes. `auto` (the default) takes the native byte path where it loads; the
 * start-up log says, in one line, which path runs and why.
 */
import { chooseBytePath, type NativeBytePath } from '../../node/native/byte-path.js';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';

export const BYTE_PATH_FLAG_OPTIONS = { 'byte-path': { type: 'string' } } as const;

/** The flag's value, checked (absent: auto). */
export const bytePathFlag = (text: string | undefined): 'js' | 'native' | 'auto' => {
  if (text === undefined || text === 'auto' || text === 'js' || text === 'native') return text ?? 'auto';
  throw new PinholeError('PINHOLE_USAGE', `--byte-path ${text} is not one of js, native, auto.`);
};

/**
 * Loads the chosen path and logs the one line. `native` asked for and not available is said as a
 * warning and the JavaScript path runs: the proxy works either way.
 */
export const startBytePath = (wanted: 'js' | 'native' | 'auto', logger: Logger): NativeBytePath | undefined => {
  const choice = chooseBytePath(wanted === 'native' ? 'auto' : wanted);
  if (choice.kind === 'native') {
    logger.info(
      { bytePath: 'native', openssl: choice.path.openssl },
      'The native byte path moves the bytes of HTTP/1.1 tunnels (pinned or --insecure gateways); HTTP/2 and WebSocket tunnels, and gateways checked against a CA, use the JavaScript one.',
    );
    return choice.path;
  }
  logger[wanted === 'native' ? 'warn' : 'info']({ bytePath: 'js', reason: choice.reason }, `The JavaScript byte path moves the tunnels' bytes: ${choice.reason}.`);
  return undefined;
};
