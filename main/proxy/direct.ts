/** Direct dialling: a request the routing sends around the gateway gets a plain TCP connection. */
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { PinholeError } from '../../shared/errors.js';
import { formatEndpoint } from '../../shared/profile.js';
import type { TunnelTarget } from '../tunnel/transport.js';

/** Connects to `target` within `timeoutMs`; rejects with PINHOLE_DNS_FAILED, PINHOLE_CONNECT_FAILED or PINHOLE_CONNECT_TIMEOUT. */
export const dialDirect = (target: TunnelTarget, timeoutMs: number): Promise<Duplex> =>
  new Promise((resolve, reject) => {
    const socket = netConnect({ host: target.host, port: target.port });
    const details = { target: formatEndpoint(target), route: 'direct' };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new PinholeError('PINHOLE_CONNECT_TIMEOUT', undefined, { details }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new PinholeError(err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? 'PINHOLE_DNS_FAILED' : 'PINHOLE_CONNECT_FAILED', undefined, { cause: err, details }));
    });
  });
