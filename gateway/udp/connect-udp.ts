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
import { formatEndpoint, parseEndpoint } from '../../shared/profile.js';
import { CapsuleReader, encodeDatagramCapsule } from '../../shared/udp/capsule.js';
import { CONNECT_UDP_PROTOCOL, parseConnectUdpPath } from '../../shared/udp/connect-udp-path.js';
import { UDP_WS_CLOSE, UDP_WS_MAX_PAYLOAD, UDP_WS_PATH, datagramOfMessage } from '../../shared/udp/ws-frame.js';
import { TARGET_HEADER } from '../../shared/ws-tunnel.js';
import type { Socket } from 'node:net';
import { refusalFor, refusalHeadFor } from '../../node/refusal.js';
import { connectionOf, type Connection } from '../mux/connection.js';
import { runTunnelRequest, type ExchangeOutcome, type ExchangeRecord, type TunnelServices, type UdpTunnelDoor } from '../tunnel-request.js';
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

const targetName = (t: UdpTarget): string => formatEndpoint(t);

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

const firstOf = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** What a UDP door needs besides its framing: the log for its own lines, and how much it buffers toward the client. */
export interface UdpDoorOptions {
  readonly logger: Logger;
  /** Capsules (or messages) waiting to be written to the client, in bytes, beyond which datagrams are dropped (default 256 KiB). */
  readonly maxBufferedBytes?: number;
}

const bufferLimitOf = (options: UdpDoorOptions): number => options.maxBufferedBytes ?? 256 * 1024;

/** What both UDP doors say of a request: CONNECT-UDP, its target read before the credentials. */
const udpDoor = (proto: 'h2' | 'wss', connection: Connection, credentials: string | undefined, targetText: string) =>
  ({ proto, method: 'CONNECT-UDP', kind: 'udp', connection, credentials, targetText, targetFirst: true }) as const;

/** A flow's end as the access log writes it: its counters and why it ended. */
const flowRecord = (flow: UdpFlow): ExchangeRecord => ({ status: 200, ...flow.counters, ...(flow.endReason === undefined ? {} : { end: flow.endReason }) });

const logRefusal = (logger: Logger, target: string, user: string | undefined, error: PinholeError, proto: UdpAccessRecord['proto']): void =>
  logger.info({ target, user, code: error.code, status: error.status, proto }, 'A UDP flow was refused.');

/**
 * The CONNECT-UDP door: one HTTP/2 stream's framing of a UDP flow (the target in `:path`, the yes a
 * 200 with `capsule-protocol`, datagrams as DATAGRAM capsules both ways). `body`: where the stream's
 * DATA is read from when the compat API's Http2ServerRequest already consumes it; by default the stream.
 */
export function connectUdpDoor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, connection: Connection, options: UdpDoorOptions, body: Readable = stream): UdpTunnelDoor {
  stream.on('error', () => undefined);
  const path = String(headers[':path'] ?? '');
  const targetText = namedByPath(path);
  const maxBuffered = bufferLimitOf(options);
  return {
    ...udpDoor('h2', connection, firstOf(headers['proxy-authorization'] ?? headers.authorization), targetText),
    target: () => parseConnectUdpPath(path),
    gone: () => stream.destroyed,
    answer: (flow, { user }) => {
      stream.respond({ ':status': 200, 'capsule-protocol': '?1' });
      const reader = new CapsuleReader((payload) => flow.send(payload));
      flow.onDatagram((payload) => {
        if (stream.writableLength > maxBuffered) flow.counters.dropped++;
        else stream.write(encodeDatagramCapsule(payload));
      });
      const ended = new Promise<ExchangeOutcome>((resolve) => {
        flow.onClose(() => {
          // Idle or destination error: end the stream cleanly; the client sees END_STREAM.
          if (!stream.destroyed) {
            if (flow.endReason === 'error') stream.close(constants.NGHTTP2_INTERNAL_ERROR);
            else stream.end();
          }
          resolve(flowRecord(flow));
        });
        body.on('data', (chunk: Buffer) => {
          try {
            reader.push(chunk);
          } catch (err) {
            options.logger.info({ target: targetText, user, code: (err as PinholeError).code }, 'A CONNECT-UDP stream sent malformed capsules and was reset.');
            stream.close(constants.NGHTTP2_PROTOCOL_ERROR);
            flow.close();
          }
        });
        body.on('end', () => flow.close());
        stream.on('close', () => flow.close());
      });
      return { ended, abort: () => flow.close() };
    },
    refuse: (error, user) => {
      logRefusal(options.logger, targetText, user, error, 'h2-udp');
      if (stream.destroyed || stream.headersSent) return;
      const { body: page, headers: refusal } = refusalFor(error, user);
      const { 'content-length': _length, ...headersOut } = refusal;
      stream.respond({ ':status': error.status, ...headersOut });
      stream.end(page);
    },
  };
}

/** Is this upgrade request a UDP WebSocket on `path`? (Query strings are ignored.) */
export function isUdpUpgrade(req: IncomingMessage, path: string = UDP_WS_PATH): boolean {
  return (req.url ?? '').split('?')[0] === path && (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

let handshaker: WebSocketServer | undefined;
const wsServer = (): WebSocketServer =>
  (handshaker ??= new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: UDP_WS_MAX_PAYLOAD, clientTracking: false }));

/**
 * The UDP WebSocket door (an upgrade already known to be on the UDP path): the target in
 * Pinhole-Target, the yes a 101, one datagram per BINARY message both ways.
 */
export function udpWebSocketDoor(req: IncomingMessage, socket: Duplex, head: Buffer, connection: Connection, options: UdpDoorOptions): UdpTunnelDoor {
  const text = firstOf(req.headers[TARGET_HEADER.toLowerCase()]);
  socket.on('error', () => socket.destroy());
  const maxBuffered = bufferLimitOf(options);
  return {
    ...udpDoor('wss', connection, firstOf(req.headers.authorization ?? req.headers['proxy-authorization']), text ?? ''),
    target: () => {
      const target = text === undefined ? undefined : parseEndpoint(text.trim());
      if (target === undefined || typeof req.headers['sec-websocket-key'] !== 'string')
        throw new PinholeError('PINHOLE_BAD_REQUEST', 'A UDP WebSocket needs a WebSocket upgrade with a Pinhole-Target: host:port header.');
      return target;
    },
    gone: () => socket.destroyed,
    answer: async (flow) => {
      const ws = await new Promise<WebSocket>((resolve) => wsServer().handleUpgrade(req, socket, head, resolve));
      flow.onDatagram((payload) => {
        if (ws.readyState !== ws.OPEN || ws.bufferedAmount > maxBuffered) flow.counters.dropped++;
        else ws.send(payload, { binary: true });
      });
      const ended = new Promise<ExchangeOutcome>((resolve) => {
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
          resolve(flowRecord(flow));
        });
      });
      return { ended, abort: () => flow.close() };
    },
    refuse: (error, user) => {
      logRefusal(options.logger, text ?? '', user, error, 'wss-udp');
      if (!socket.destroyed) socket.end(refusalHeadFor(error, user));
    },
  };
}

/**
 * A standalone UDP proxy's services (`UdpProxyDeps`: a test's, or the UDP pair's), for the same
 * sequence the gateway runs (`runTunnelRequest`), with its own access record.
 */
const servicesOf = (deps: UdpProxyDeps, proto: UdpAccessRecord['proto']): TunnelServices => ({
  logger: deps.logger,
  authenticate: (credentials) => deps.authenticate(credentials),
  openUpstream: () => Promise.reject(new PinholeError('PINHOLE_BAD_REQUEST', 'This proxy carries UDP only.')),
  openUdpFlow: (target, owner) => deps.openFlow(target, owner.user),
  accessLog: ({ method: _method, connId: _connId, client: _client, proto: _proto, code, ...record }) =>
    // The code is the refusal's own (a PinholeError's), as every line of this log.
    deps.accessLog?.({ ...record, ...(code === undefined ? {} : { code: code as ErrorCode }), datagramsUp: record.datagramsUp ?? 0, datagramsDown: record.datagramsDown ?? 0, proto }),
});

/** Serves one CONNECT-UDP stream until either side ends it, with a standalone proxy's services. */
export function handleConnectUdpStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, deps: UdpProxyDeps, body: Readable = stream): Promise<void> {
  const door = connectUdpDoor(stream, headers, connectionOf(stream.session?.socket), deps, body);
  return runTunnelRequest(servicesOf(deps, 'h2-udp'), door);
}

/** Serves one UDP WebSocket upgrade (already known to be on the UDP path) until either side ends it, with a standalone proxy's services. */
export function handleUdpWebSocketUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, deps: UdpProxyDeps): Promise<void> {
  const door = udpWebSocketDoor(req, socket, head, connectionOf(socket as Socket), deps);
  return runTunnelRequest(servicesOf(deps, 'wss-udp'), door);
}
