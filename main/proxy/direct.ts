/** Direct dialling: a request the routing sends around the gateway gets a plain TCP connection (node/dial.ts). */
import type { Duplex } from 'node:stream';
import { formatEndpoint } from '../../shared/profile.js';
import { destinationError, dial } from '../../node/dial.js';
import type { TunnelTarget } from '../tunnel/transport.js';

/** Connects to `target` within `timeoutMs`; rejects with PINHOLE_DNS_FAILED, PINHOLE_CONNECT_FAILED or PINHOLE_CONNECT_TIMEOUT. */
export const dialDirect = async (target: TunnelTarget, timeoutMs: number): Promise<Duplex> => {
  try {
    const socket = await dial({ host: target.host, port: target.port, timeoutMs, allowHalfOpen: true });
    // Whoever takes the socket (the relay, the HTTP agent) listens for errors from here on.
    socket.on('error', () => undefined);
    return socket;
  } catch (err) {
    throw destinationError(err, formatEndpoint(target), { route: 'direct' });
  }
};
