/**
 * The WebSocket tunnel protocol's names, shared by the gateway (gateway/ws-tunnel.ts, which
 * documents the protocol) and the client (main/tunnel/wss-transport.ts).
 */
export const DEFAULT_WS_PATH = '/pinhole/ws';
/** Request header naming the destination, `host:port` (IPv6 literals bracketed). */
export const TARGET_HEADER = 'Pinhole-Target';
/** Response header carrying the error code of a refused tunnel. */
export const ERROR_HEADER = 'Pinhole-Error';
