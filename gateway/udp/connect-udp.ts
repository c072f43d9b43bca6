/**
 * The gateway's UDP proxying, standards first:
 *   - HTTP/2: CONNECT-UDP (RFC 9298) as extended CONNECT (RFC 8441) with `:protocol connect-udp`
 *     and `:path /.well-known/masque/udp/{host}/{port}/`; datagrams both ways as DATAGRAM
 *     capsules (RFC 9297) in the stream's DATA. The server must be created with
 *     `settings: { enableConnectProtocol: true }`.
 *   - WebSocket: the TCP tunnel's upgrade (Pinhole-Target, Basic auth) on the UDP path, one
 *     datagram per BINARY message (shared/udp/ws-frame.ts).
 * Authentication and the destination policy happen before the 2xx/101, so every refusal is an
 * HTTP status: with `Pinhole-Error: CODE` once authenticated, exactly as for TCP tunnels, plain before.
 */
import type { IncomingMessage } from 'node:http';
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { PinholeError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { parseEndpoint } from '../../shared/profile.js';
import { CapsuleReader, encodeDatagramCapsule } from '../../shared/udp/capsule.js';
import { CONNECT_UDP_PROTOCOL, parseConnectUdpPath } from '../../shared/udp/connect-udp-path.js';
import { UDP_WS_CLOSE, UDP_WS_MAX_PAYLOAD, UDP_WS_PATH, datagramOfMessage } from '../../shared/udp/ws-frame.js';
import { TARGET_HEADER } from '../../shared/ws-tunnel.js';
import { refusalFor, refusalHeadFor } from '../../node/refusal.js';
import type { UdpFlow, UdpTarget } from './flows.js';

export interface UdpAccessRecord {
  user: string | undefined;
  target: string;
  status: number;
  code?: ErrorCode;
  datagramsUp: number;
  datagramsDown: number;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  proto: 'h2-udp' | 'wss-udp';
  /** 'idle', 'closed' (either side), 'error'. */
  end?: string;
}

export interface UdpProxyDeps {
  /** Checks Basic credentials; resolves to the user or throws PINHOLE_AUTH_MISSING / PINHOLE_AUTH_REJECTED. */
  readonly authenticate: (authorization: string | undefined) => Promise<string>;
  /** Applies the policy and opens the flow (UdpFlow.open with the gateway's options). Throws PinholeError. */
  readonly openFlow: (target: UdpTarget, user: string) => Promise<UdpFlow>;
  readonly logger: Logger;
  readonly accessLog?: (record: UdpAccessRecord) => void;
  /** Capsules waiting to be written to the stream, in bytes, beyond which datagrams are dropped (default 256 KiB). */
  readonly maxBufferedBytes?: number;
}

const asPinholeError = (err: unknown): PinholeError => (err instanceof PinholeError ? err : new PinholeError('PINHOLE_CONNECT_FAILED', undefined, { cause: err }));
const targetName = (t: UdpTarget): string => (t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`);

/** The target a CONNECT-UDP :path names, as the access log writes targets (host:port); the path itself when it names none. */
const namedByPath = (path: string): string => {
  try {
    return targetName(parseConnectUdpPath(path));
  } catch {
    return path;
  }
};

/** Is this HTTP/2 request CONNECT-UDP? (Call from the session's 'stream' handler before the TCP CONNECT path.) */
export const isConnectUdpRequest = (headers: IncomingHttpHeaders): boolean => headers[':method'] === 'CONNECT' && headers[':protocol'] === CONNECT_UDP_PROTOCOL;

/** Check the target, authenticate, open the flow: the part both carriers share. Refuses and gives undefined on any failure. */
async function admit(
  authorization: string | string[] | undefined,
  target: () => UdpTarget,
  deps: UdpProxyDeps,
  refuse: (error: PinholeError, user: string | undefined) => void,
  gone: () => boolean,
): Promise<{ user: string; flow: UdpFlow; target: UdpTarget } | undefined> {
  let user: string | undefined;
  try {
    const checked = target();
    user = await deps.authenticate(Array.isArray(authorization) ? authorization[0] : authorization);
    const flow = await deps.openFlow(checked, user);
    if (!gone()) return { user, flow, target: checked };
    flow.close();
  } catch (err) {
    refuse(asPinholeError(err), user);
  }
  return undefined;
}

function finish(deps: UdpProxyDeps, user: string | undefined, target: string, flow: UdpFlow, started: number, proto: UdpAccessRecord['proto']): void {
  deps.accessLog?.({ user, target, status: 200, ...flow.counters, durationMs: Date.now() - started, proto, end: flow.endReason });
}

function refused(deps: UdpProxyDeps, user: string | undefined, target: string, error: PinholeError, started: number, proto: UdpAccessRecord['proto']): void {
  deps.logger.info({ target, user, code: error.code, status: error.status, proto }, 'A UDP flow was refused.');
  deps.accessLog?.({ user, target, status: error.status, code: error.code, datagramsUp: 0, datagramsDown: 0, bytesUp: 0, bytesDown: 0, durationMs: Date.now() - started, proto });
}

/**
 * Serves one CONNECT-UDP stream until either side ends it. `body`: where the stream's DATA is read
 * from when the compat API's Http2ServerRequest already consumes it (H2Proxy's 'connect' handler
 * passes `req`); by default the stream itself.
 */
export async function handleConnectUdpStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, deps: UdpProxyDeps, body: Readable = stream): Promise<void> {
  const started = Date.now();
  stream.on('error', () => undefined);
  const path = String(headers[':path'] ?? '');
  const refuse = (error: PinholeError, user: string | undefined): void => {
    refused(deps, user, namedByPath(path), error, started, 'h2-udp');
    if (stream.destroyed || stream.headersSent) return;
    const { body, headers: refusal } = refusalFor(error, user);
    const { 'content-length': _length, ...headersOut } = refusal;
    stream.respond({ ':status': error.status, ...headersOut });
    stream.end(body);
  };
  const admitted = await admit(
    headers['proxy-authorization'] ?? headers.authorization,
    () => parseConnectUdpPath(path),
    deps,
    refuse,
    () => stream.destroyed,
  );
  if (admitted === undefined) return;
  const { user, flow, target } = admitted;
  stream.respond({ ':status': 200, 'capsule-protocol': '?1' });
  const maxBuffered = deps.maxBufferedBytes ?? 256 * 1024;
  const reader = new CapsuleReader((payload) => flow.send(payload));
  flow.onDatagram((payload) => {
    if (stream.writableLength > maxBuffered) flow.counters.dropped++;
    else stream.write(encodeDatagramCapsule(payload));
  });
  const name = targetName(target);
  await new Promise<void>((resolve) => {
    flow.onClose(() => {
      // Idle or destination error: end the stream cleanly; the client sees END_STREAM.
      if (!stream.destroyed) {
        if (flow.endReason === 'error') stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        else stream.end();
      }
      resolve();
    });
    body.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        deps.logger.info({ target: name, user, code: (err as PinholeError).code }, 'A CONNECT-UDP stream sent malformed capsules and was reset.');
        stream.close(constants.NGHTTP2_PROTOCOL_ERROR);
        flow.close();
      }
    });
    body.on('end', () => flow.close());
    stream.on('close', () => flow.close());
  });
  finish(deps, user, name, flow, started, 'h2-udp');
}

/** Is this upgrade request a UDP WebSocket on `path`? (Query strings are ignored.) */
export function isUdpUpgrade(req: IncomingMessage, path: string = UDP_WS_PATH): boolean {
  return (req.url ?? '').split('?')[0] === path && (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

let handshaker: WebSocketServer | undefined;
const wsServer = (): WebSocketServer =>
  (handshaker ??= new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: UDP_WS_MAX_PAYLOAD, clientTracking: false }));

/** Serves one UDP WebSocket upgrade (already known to be on the UDP path) until either side ends it. */
export async function handleUdpWebSocketUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, deps: UdpProxyDeps): Promise<void> {
  const started = Date.now();
  const raw = req.headers[TARGET_HEADER.toLowerCase()];
  const text = Array.isArray(raw) ? raw[0] : raw;
  socket.on('error', () => socket.destroy());
  const refuse = (error: PinholeError, user: string | undefined): void => {
    refused(deps, user, text ?? '', error, started, 'wss-udp');
    if (!socket.destroyed) socket.end(refusalHeadFor(error, user));
  };
  const admitted = await admit(
    req.headers.authorization ?? req.headers['proxy-authorization'],
    () => {
      const target = text === undefined ? undefined : parseEndpoint(text.trim());
      if (target === undefined || typeof req.headers['sec-websocket-key'] !== 'string')
        throw new PinholeError('PINHOLE_BAD_REQUEST', 'A UDP WebSocket needs a WebSocket upgrade with a Pinhole-Target: host:port header.');
      return target;
    },
    deps,
    refuse,
    () => socket.destroyed,
  );
  if (admitted === undefined) return;
  const { user, flow, target } = admitted;
  const ws = await new Promise<WebSocket>((resolve) => wsServer().handleUpgrade(req, socket, head, resolve));
  const maxBuffered = deps.maxBufferedBytes ?? 256 * 1024;
  flow.onDatagram((payload) => {
    if (ws.readyState !== ws.OPEN || ws.bufferedAmount > maxBuffered) flow.counters.dropped++;
    else ws.send(payload, { binary: true });
  });
  await new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        flow.send(datagramOfMessage(data, isBinary));
      } catch {
        ws.close(UDP_WS_CLOSE.protocolError);
        flow.close();
      }
    });
    ws.on('close', () => flow.close());
    ws.on('error', () => flow.close());
    flow.onClose(() => {
      if (ws.readyState === ws.OPEN) ws.close(flow.endReason === 'error' ? UDP_WS_CLOSE.destinationError : UDP_WS_CLOSE.normal);
      resolve();
    });
  });
  finish(deps, user, targetName(target), flow, started, 'wss-udp');
}
