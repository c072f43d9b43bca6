/**
 * UDP over the WebSocket transport: one datagram per BINARY message, nothing else.
 *
 * Why no length prefix: WebSocket already frames messages (RFC 6455 section 5), and `ws` delivers
 * each message whole, so a prefix would be redundant bytes and a second parser to get wrong; a
 * zero-length datagram is a zero-length message. wstunnel's UDP mode does the same. The upgrade
 * request is the TCP tunnel's (shared/ws-tunnel.ts: Pinhole-Target, Basic auth, refusal as an
 * HTTP status with Pinhole-Error) on its own path, so a gateway that predates UDP answers 404
 * instead of opening a TCP tunnel. TEXT messages are reserved; receiving one is a protocol error
 * (close 1002). Pure.
 */
import { PinholeError } from '../errors.js';
import { MAX_UDP_PAYLOAD } from './capsule.js';

export const UDP_WS_PATH = '/pinhole/udp';
/** ws `maxPayload` for UDP: a message can never exceed one UDP payload. */
export const UDP_WS_MAX_PAYLOAD = MAX_UDP_PAYLOAD;
/** Close codes: normal end (idle timeout or either side done), protocol error, destination failed. */
export const UDP_WS_CLOSE = { normal: 1000, protocolError: 1002, tooBig: 1009, destinationError: 1011 } as const;

/** The datagram one received message carries; throws PINHOLE_UDP_MALFORMED for TEXT or an oversized message. */
export const datagramOfMessage = (data: Uint8Array, isBinary: boolean): Uint8Array => {
  if (!isBinary) throw new PinholeError('PINHOLE_UDP_MALFORMED', 'A UDP WebSocket carries datagrams as BINARY messages only.');
  if (data.length > MAX_UDP_PAYLOAD) throw new PinholeError('PINHOLE_UDP_MALFORMED', `A UDP datagram of ${data.length} bytes is larger than ${MAX_UDP_PAYLOAD}.`);
  return data;
};
