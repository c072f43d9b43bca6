/**
 * WebSocket tunnels (wstunnel parity), for networks whose middleboxes only pass HTTP and for
 * gateways behind a reverse proxy or CDN on a path.
 *
 * The protocol, version 1 (with the optional half-close extension):
 *
 *   Client -> gateway, inside TLS (HTTP/1.1), on the tunnel path (default /pinhole/ws):
 *     GET /pinhole/ws HTTP/1.1
 *     Host: <gateway name>
 *     Upgrade: websocket
 *     Connection: Upgrade
 *     Sec-WebSocket-Key: ... / Sec-WebSocket-Version: 13
 *     Pinhole-Target: host:port            (IPv6 literals bracketed: [2001:db8::1]:443)
 *     Authorization: Basic base64(user:password)   (Proxy-Authorization is accepted too)
 *     Pinhole-Half-Close: 1                (optional: the client offers half-close)
 *
 *   The gateway authenticates, applies the destination policy and --restrict-to, and connects to
 *   the target BEFORE accepting the upgrade, so every failure is a plain HTTP response the client
 *   turns into the same clean error an HTTP proxy would give:
 *     400 PINHOLE_BAD_REQUEST (no or malformed Pinhole-Target), 407 PINHOLE_AUTH_MISSING /
 *     PINHOLE_AUTH_REJECTED (with Proxy-Authenticate), 403 PINHOLE_DEST_FORBIDDEN /
 *     PINHOLE_PORT_FORBIDDEN, 502 PINHOLE_CONNECT_FAILED / PINHOLE_DNS_FAILED, 504
 *     PINHOLE_CONNECT_TIMEOUT; once authenticated the code is in the `Pinhole-Error` header, the sentence
 *     in the body (before, a plain status: node/refusal.ts).
 *   On success: 101 Switching Protocols (with `Pinhole-Early-Data: 1`: frames the client sent right
 *   behind its request, before this answer, are the tunnel's first bytes), then the TCP stream's bytes as BINARY messages both ways
 *   (message boundaries mean nothing). permessage-deflate is off (the payload is usually TLS,
 *   incompressible).
 *
 *   Without half-close (the client sent no Pinhole-Half-Close, or the gateway's 101 does not echo
 *   it): either side closing the WebSocket closes the tunnel, so one direction ending ends both.
 *
 *   With half-close (the client sent `Pinhole-Half-Close: 1` and the 101 carries
 *   `Pinhole-Half-Close: 1` back), like END_STREAM on HTTP/2 and a FIN on HTTP/1.1 tunnels:
 *     - when a side's source ends (the application's socket on the client, the destination's on
 *       the gateway), it sends one TEXT message `end` after its last bytes: "no more bytes in this
 *       direction". The receiver ends the matching socket's writable side (a TCP FIN) and keeps
 *       the other direction flowing. BINARY after `end`, or any other TEXT, is a protocol error.
 *     - once `end` has gone both ways, the WebSocket closes normally (1000).
 *     - an error or reset on either side, or a close before both `end`s, tears everything down at
 *       once (the WebSocket is dropped, the sockets destroyed).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { refusalHeadFor } from '../node/refusal.js';
import { wsDuplex } from '../node/ws-duplex.js';
import { PinholeError } from '../shared/errors.js';
import { parseEndpoint } from '../shared/profile.js';
import { DEFAULT_WS_PATH, HALF_CLOSE_HEADER, TARGET_HEADER } from '../shared/ws-tunnel.js';
import { EARLY_DATA_HEADER } from '../shared/early-data.js';
import type { AccessRecord } from './access-log.js';
import { runTunnelRequest, type Connection, type TunnelServices } from './tunnel-request.js';

export { DEFAULT_WS_PATH } from '../shared/ws-tunnel.js';
/**
 * Largest WebSocket message accepted. Streams piped from sockets send one read (<= 64 KiB) per
 * message, but an application write can be larger and is sent whole; the cap bounds memory.
 */
export const WS_MAX_PAYLOAD = 16 * 1024 * 1024;

/** A WebSocket tunnel's access log line (proto 'wss'). */
export type TunnelAccessRecord = AccessRecord;

/** Is this upgrade request a Pinhole tunnel on `wsPath`? (Query strings are ignored.) */
export function isTunnelUpgrade(req: IncomingMessage, wsPath: string = DEFAULT_WS_PATH): boolean {
  const path = (req.url ?? '').split('?')[0];
  return path === wsPath && (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** Does the client offer half-close (`Pinhole-Half-Close: 1`)? The gateway always accepts it. */
const offersHalfClose = (req: IncomingMessage): boolean => req.headers[HALF_CLOSE_HEADER.toLowerCase()] === '1';

let server: WebSocketServer | undefined;
/** One noServer WebSocketServer per process is enough: it only performs handshakes. */
function handshaker(): WebSocketServer {
  if (server) return server;
  server = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: WS_MAX_PAYLOAD, clientTracking: false });
  server.on('headers', (headers: string[], req: IncomingMessage) => {
    if (offersHalfClose(req)) headers.push(`${HALF_CLOSE_HEADER}: 1`);
    // Frames sent right behind the upgrade request are read as the tunnel's (ws puts `head` back): the client may start early.
    headers.push(`${EARLY_DATA_HEADER}: 1`);
  });
  return server;
}

/**
 * The WebSocket door: handle an HTTP upgrade request already known to be on the tunnel path (see
 * isTunnelUpgrade). Resolves once the tunnel is established or refused; the tunnel then runs on its own.
 */
export async function handleTunnelUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  services: TunnelServices,
  connection: Partial<Connection> = {},
): Promise<void> {
  const rawTarget = req.headers[TARGET_HEADER.toLowerCase()];
  const targetText = Array.isArray(rawTarget) ? rawTarget[0] : rawTarget;
  socket.on('error', () => socket.destroy());
  await runTunnelRequest(services, {
    proto: 'wss',
    method: 'CONNECT',
    kind: 'connect',
    connection: { connId: connection.connId, client: connection.client },
    credentials: req.headers.authorization ?? req.headers['proxy-authorization'],
    targetText: targetText ?? '',
    targetFirst: true,
    target: () => {
      if (typeof req.headers['sec-websocket-key'] !== 'string' || req.method !== 'GET') {
        throw new PinholeError('PINHOLE_BAD_REQUEST', 'A WebSocket tunnel needs GET with Upgrade: websocket and Sec-WebSocket-Key.');
      }
      const target = targetText === undefined ? undefined : parseEndpoint(targetText.trim());
      if (target === undefined) throw new PinholeError('PINHOLE_BAD_REQUEST', 'The WebSocket tunnel request needs a Pinhole-Target: host:port header.');
      return target;
    },
    gone: () => socket.destroyed,
    answer: () =>
      new Promise<Duplex | undefined>((resolve) => {
        // A client gone (or half-closed) while it was checked: ws drops the socket without calling back.
        let upgraded = false;
        socket.once('close', () => {
          if (!upgraded) resolve(undefined);
        });
        handshaker().handleUpgrade(req, socket, head, (ws) => {
          upgraded = true;
          services.logger.debug({ target: targetText, client: connection.client }, 'A WebSocket tunnel is open.');
          // With half-close (the client offered it; the 101 echoes it) each direction ends on its own.
          resolve(wsDuplex(ws, { halfClose: offersHalfClose(req), brokenCode: 'PINHOLE_CONNECT_FAILED' }));
        });
      }),
    refuse: (error, user) => {
      services.logger.info({ target: targetText, user, client: connection.client, code: error.code, status: error.status }, 'A WebSocket tunnel was refused.');
      if (!socket.destroyed) socket.end(refusalHeadFor(error, user));
    },
    abort: () => socket.destroy(),
  });
}
