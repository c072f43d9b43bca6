/** The two IPC channels the contract travels on; the preload and app/ipc.ts share these names. */
export const CHANNEL_PREFIX = 'pinhole:';
export const INVOKE_CHANNEL = `${CHANNEL_PREFIX}invoke`;
export const EVENT_CHANNEL = `${CHANNEL_PREFIX}event`;
/** The renderer is served from this privileged scheme (app/protocol.ts), never from file://. */
export const APP_SCHEME = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://pinhole`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;
