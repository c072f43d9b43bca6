/**
 * A pass-through route: the connection goes to a backend untouched (SNI routes keep their TLS,
 * SSH and OpenVPN their own protocol), optionally preceded by a PROXY v1/v2 header so the backend
 * sees the real client. The bytes move with splice() on the native byte path (node/native/byte-path.ts)
 * when the gateway runs it and both ends are plain sockets, through node/relay.ts otherwise (a
 * socket inside the gateway's own TLS, `--byte-path js`, no addon): same counts, same log line.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { dial, errorCode } from '../../node/dial.js';
import { HandoverError, type NativeBytePath, type NativeRelay } from '../../node/native/byte-path.js';
import { relay, RelayTimeoutError, type RelayResult, type RelayTimeouts } from '../../node/relay.js';
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
  /** The native byte path, when the gateway runs it: plain sockets are relayed there. */
  readonly native?: NativeBytePath | undefined;
  /** Told of each relay handed to the native path (the multiplexer's drain ends them). */
  readonly onNativeRelay?: ((relay: NativeRelay) => void) | undefined;
}

/** What a pass-through needs of the connection cap (gateway/connection-cap.ts). */
export type PassThroughCap = Pick<ConnectionCap, 'admit' | 'track'>;

/**
 * Connect to `target` and relay: the client's bytes (already sniffed and put back) flow first,
 * after our own PROXY header when the route asks for one. Logs one line when both sides are done;
 * the promise settles then (never rejects), so a drain can wait for the line.
 */
export function passThrough(socket: Socket, target: MuxTarget, context: PassThroughContext): Promise<void> {
  return new Promise((ended) => passThroughThen(socket, target, context, ended));
}

function passThroughThen(socket: Socket, target: MuxTarget, { route, connId, client, serverName, logger, connectTimeoutMs, relayTimeouts, cap, native, onNativeRelay }: PassThroughContext, ended: () => void): void {
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
    ended();
    return;
  }
  dial({ host: target.host, port: target.port, timeoutMs: connectTimeoutMs ?? 10_000 }).then(
    (dialled) => {
      const upstream = cap?.track(dialled) ?? dialled;
      // The client may have given up while the backend was being dialled.
      if (socket.destroyed) {
        upstream.destroy();
        ended();
        return;
      }
      const done = ({ bytesUp, bytesDown, timedOut }: RelayResult, bytePath?: 'js' | 'native'): void => {
        logger.info({ ...fields(), bytesUp, bytesDown, ...relayEnd(timedOut), ...(bytePath === undefined ? {} : { bytePath }) }, 'A pass-through connection ended.');
        ended();
      };
      // The client's bytes (sniffed and put back) flow first; each direction ends on its own.
      const start = (): void => {
        // Either side may have gone while the PROXY header was being written.
        if (socket.destroyed || upstream.destroyed) {
          socket.destroy();
          upstream.destroy();
          done({ bytesUp: 0, bytesDown: 0 });
          return;
        }
        const handed = native === undefined ? undefined : handOver(native, socket, upstream, relayTimeouts, done, logger);
        if (handed !== undefined) onNativeRelay?.(handed);
        else relay(socket, upstream, { ...relayTimeouts, done: (result) => done(result, 'js') });
      };
      if (target.sendProxy === undefined) {
        start();
        return;
      }
      const source: ProxyEndpoint = { address: client.address, port: client.port };
      const destination: ProxyEndpoint = { address: socket.localAddress ?? '127.0.0.1', port: socket.localPort ?? 0 };
      let header: Uint8Array;
      try {
        header = target.sendProxy === 'v1' ? encodeProxyV1(source, destination) : encodeProxyV2(source, destination);
      } catch (err) {
        logger.warn({ connId, err }, 'The PROXY header for a backend could not be built; the connection was closed.');
        socket.destroy();
        upstream.destroy();
        ended();
        return;
      }
      // The native path takes a socket with nothing queued (NATIVE.md section 2): the header is written first.
      if (native === undefined) {
        upstream.write(header);
        start();
      } else upstream.write(header, () => start());
    },
    (err: unknown) => {
      logger.warn({ ...fields(), bytesUp: 0, bytesDown: 0, errno: errorCode(err) }, 'A pass-through backend could not be reached; the connection was closed.');
      socket.destroy();
      ended();
    },
  );
}

/**
 * Hands both plain sockets to the native engine (splice through its pipe pool); undefined, with
 * both sockets untouched, when one cannot be handed over (the gateway's own TLS carries it, or it
 * has no descriptor): the caller relays in JavaScript. Bytes Node had already read (the sniffed
 * head put back, a backend's banner) go first and are counted as the JavaScript relay counts them.
 */
function handOver(native: NativeBytePath, socket: Socket, upstream: Socket, timeouts: RelayTimeouts | undefined, done: (result: RelayResult, bytePath: 'native') => void, logger: Logger): NativeRelay | undefined {
  if (socket instanceof TLSSocket || upstream instanceof TLSSocket || socket.destroyed || upstream.destroyed) return undefined;
  const handedUp = socket.readableLength;
  const handedDown = upstream.readableLength;
  try {
    return native.relayPlain(
      socket,
      upstream,
      {
        close: ({ bytesUp, bytesDown, error }) =>
          done({ bytesUp: handedUp + bytesUp, bytesDown: handedDown + bytesDown, ...(error === undefined ? {} : { error }), ...(error instanceof RelayTimeoutError ? { timedOut: error.reason } : {}) }, 'native'),
      },
      timeouts === undefined ? {} : { timeouts },
    );
  } catch (err) {
    if (!(err instanceof HandoverError)) throw err;
    logger.debug({ err }, 'A pass-through connection could not be handed to the native byte path; JavaScript relays it.');
    return undefined;
  }
}
