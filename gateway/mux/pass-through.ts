/**
 * A pass-through route: the connection goes to a backend untouched (SNI routes keep their TLS,
 * SSH and OpenVPN their own protocol), optionally preceded by a PROXY v1/v2 header so the backend
 * sees the real client. The bytes move by plain pipe.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Logger } from '../../shared/log.js';
import { formatEndpoint } from '../../shared/profile.js';
import { encodeProxyV1, encodeProxyV2, type ProxyEndpoint } from '../sniff/index.js';
import { formatClient, type ClientAddress } from './client-address.js';
import type { MuxTarget } from './config.js';

export interface PassThroughContext {
  readonly route: string;
  readonly connId: string;
  readonly client: ClientAddress;
  readonly serverName?: string | undefined;
  readonly logger: Logger;
  readonly connectTimeoutMs?: number | undefined;
}

/**
 * Connect to `target` and splice: the client's bytes (already sniffed and put back) flow first,
 * after our own PROXY header when the route asks for one. Logs one line when both sides are done.
 */
export function passThrough(socket: Socket, target: MuxTarget, { route, connId, client, serverName, logger, connectTimeoutMs }: PassThroughContext): void {
  const started = Date.now();
  const targetText = formatEndpoint(target);
  // No Nagle on either leg: a relay that batches small writes adds a delay to every handshake it carries.
  socket.setNoDelay(true);
  const upstream = netConnect({ host: target.host, port: target.port, noDelay: true });
  upstream.setTimeout(connectTimeoutMs ?? 10_000, () => upstream.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })));
  let connected = false;
  let logged = false;
  let closes = 0;
  const log = (err?: Error): void => {
    if (logged) return;
    logged = true;
    const fields = {
      connId,
      route,
      target: targetText,
      client: formatClient(client),
      ...(serverName === undefined ? {} : { serverName }),
      bytesUp: socket.bytesRead,
      bytesDown: socket.bytesWritten,
      durationMs: Date.now() - started,
    };
    if (!connected) logger.warn({ ...fields, errno: (err as { code?: string } | undefined)?.code }, 'A pass-through backend could not be reached; the connection was closed.');
    else logger.info(fields, 'A pass-through connection ended.');
  };
  // An error on either side ends both; a clean end flows through the pipes (flushing what is queued).
  const fail = (err?: Error): void => {
    socket.destroy();
    upstream.destroy();
    log(err);
  };
  const closed = (): void => {
    if (++closes === 2) log();
  };
  upstream.once('connect', () => {
    connected = true;
    upstream.setTimeout(0);
    if (target.sendProxy !== undefined) {
      const source: ProxyEndpoint = { address: client.address, port: client.port };
      const destination: ProxyEndpoint = { address: socket.localAddress ?? '127.0.0.1', port: socket.localPort ?? 0 };
      try {
        upstream.write(target.sendProxy === 'v1' ? encodeProxyV1(source, destination) : encodeProxyV2(source, destination));
      } catch (err) {
        logger.warn({ connId, err }, 'The PROXY header for a backend could not be built; the connection was closed.');
        fail();
        return;
      }
    }
    // Plain pipes; `end` propagates half-close so protocols that rely on it keep working.
    socket.pipe(upstream);
    upstream.pipe(socket);
    socket.resume();
  });
  upstream.on('error', fail);
  socket.on('error', fail);
  socket.once('close', () => {
    if (!connected) upstream.destroy();
    closed();
  });
  upstream.once('close', () => {
    if (!connected) fail();
    closed();
  });
}
