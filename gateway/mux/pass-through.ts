/**
 * A pass-through route: the connection goes to a backend untouched (SNI routes keep their TLS,
 * SSH and OpenVPN their own protocol), optionally preceded by a PROXY v1/v2 header so the backend
 * sees the real client. The bytes move through node/relay.ts.
 */
import type { Socket } from 'node:net';
import { dial, errorCode } from '../../node/dial.js';
import { relay, type RelayTimeouts } from '../../node/relay.js';
import type { Logger } from '../../shared/log.js';
import { formatEndpoint } from '../../shared/profile.js';
import { relayEnd } from '../access-log.js';
import type { ConnectionCap } from '../connection-cap.js';
import { encodeProxyV1, encodeProxyV2, type ProxyEndpoint } from '../sniff/index.js';
import { formatClient, type ClientAddress } from './client-address.js';
import type { MuxTarget } from './config.js';
import { tuneSocket } from '../../node/socket-options.js';

export interface PassThroughContext {
  readonly route: string;
  readonly connId: number | string | undefined;
  readonly client: ClientAddress;
  readonly serverName?: string | undefined;
  readonly logger: Logger;
  readonly connectTimeoutMs?: number | undefined;
  /** --half-close-timeout and --idle-timeout. */
  readonly relayTimeouts?: RelayTimeouts | undefined;
  /** --max-connections: checked before the backend is dialled (at the cap the connection is closed), the dialled socket counted. */
  readonly cap?: PassThroughCap | undefined;
}

/** What a pass-through needs of the connection cap (gateway/connection-cap.ts). */
export type PassThroughCap = Pick<ConnectionCap, 'admit' | 'track'>;

/**
 * Connect to `target` and relay: the client's bytes (already sniffed and put back) flow first,
 * after our own PROXY header when the route asks for one. Logs one line when both sides are done.
 */
export function passThrough(socket: Socket, target: MuxTarget, { route, connId, client, serverName, logger, connectTimeoutMs, relayTimeouts, cap }: PassThroughContext): void {
  const started = Date.now();
  const targetText = formatEndpoint(target);
  // No Nagle on either leg: a relay that batches small writes adds a delay to every handshake it carries.
  tuneSocket(socket);
  const fields = (): Record<string, unknown> => ({
    connId,
    route,
    target: targetText,
    client: formatClient(client),
    ...(serverName === undefined ? {} : { serverName }),
    durationMs: Date.now() - started,
  });
  try {
    cap?.admit();
  } catch {
    // A raw protocol has no 503: at the cap the connection is closed (the cap logs when it fills).
    logger.info({ ...fields(), bytesUp: 0, bytesDown: 0 }, 'A pass-through connection was closed: the gateway is at its connection cap.');
    socket.destroy();
    return;
  }
  dial({ host: target.host, port: target.port, timeoutMs: connectTimeoutMs ?? 10_000 }).then(
    (dialled) => {
      const upstream = cap?.track(dialled) ?? dialled;
      // The client may have given up while the backend was being dialled.
      if (socket.destroyed) {
        upstream.destroy();
        return;
      }
      if (target.sendProxy !== undefined) {
        const source: ProxyEndpoint = { address: client.address, port: client.port };
        const destination: ProxyEndpoint = { address: socket.localAddress ?? '127.0.0.1', port: socket.localPort ?? 0 };
        try {
          upstream.write(target.sendProxy === 'v1' ? encodeProxyV1(source, destination) : encodeProxyV2(source, destination));
        } catch (err) {
          logger.warn({ connId, err }, 'The PROXY header for a backend could not be built; the connection was closed.');
          socket.destroy();
          upstream.destroy();
          return;
        }
      }
      // The client's bytes (sniffed and put back) flow first; each direction ends on its own.
      relay(socket, upstream, {
        ...relayTimeouts,
        done: ({ bytesUp, bytesDown, timedOut }) => logger.info({ ...fields(), bytesUp, bytesDown, ...relayEnd(timedOut) }, 'A pass-through connection ended.'),
      });
    },
    (err: unknown) => {
      logger.warn({ ...fields(), bytesUp: 0, bytesDown: 0, errno: errorCode(err) }, 'A pass-through backend could not be reached; the connection was closed.');
      socket.destroy();
    },
  );
}
