/**
 * The WebSocket tunnel protocol's names, shared by the gateway (gateway/ws-tunnel.ts, which
 * documents the protocol) and the client (main/tunnel/wss-transport.ts).
 */
export const DEFAULT_WS_PATH = '/pinhole/ws';
/** Request header naming the destination, `host:port` (IPv6 literals bracketed). */
export const TARGET_HEADER = 'Pinhole-Target';
/** Response header carrying the error code of a refused tunnel. */
export const ERROR_HEADER = 'Pinhole-Error';
/**
 * Request header offering half-close (value `1`); a gateway that supports it echoes it in its 101
 * response. Only then does either side send END_OF_STREAM instead of closing the WebSocket.
 */
export const HALF_CLOSE_HEADER = 'Pinhole-Half-Close';
/**
 * The TEXT message meaning "no more bytes in this direction" on a half-close tunnel. Data always
 * travels as BINARY messages, so the two can never be confused.
 */
export const END_OF_STREAM = 'end';
