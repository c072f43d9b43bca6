/**
 * `--byte-path js|native|auto` on `pinhole connect` and `pinhole forward` (issue 27): the shared
 * contract (node/native/byte-path-flag.ts) with the client's own start-up sentence.
 */
import type { NativeBytePath } from '../../node/native/byte-path.js';
import { startBytePath as start, type BytePathWanted } from '../../node/native/byte-path-flag.js';
import type { Logger } from '../../shared/log.js';

export { BYTE_PATH_FLAG_OPTIONS, bytePathFlag } from '../../node/native/byte-path-flag.js';

/** Loads the chosen path and logs the one line (a warning when `native` was asked for and cannot run). */
export const startBytePath = (wanted: BytePathWanted, logger: Logger): NativeBytePath | undefined =>
  start(
    wanted,
    logger,
    'The native byte path moves the bytes of HTTP/1.1 tunnels (pinned or --insecure gateways); HTTP/2 and WebSocket tunnels, and gateways checked against a CA, use the JavaScript one.',
  );
