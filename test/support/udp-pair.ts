/**
 * The UDP path without the product's wiring: the gateway's CONNECT-UDP (h2) and UDP WebSocket
 * handlers on a loopback server, and the client's openUdpFlow for each carrier, so tests (and the
 * bench later) can run real UDP programs through `LocalUdpForward` -> tunnel -> `UdpFlow`.
 * Plain h2c / ws on 127.0.0.1: TLS is the transports' business, not this layer's.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect as h2connect, createServer as createH2Server, type ClientHttp2Session, type Http2Server } from 'node:http2';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { UDP_WS_PATH } from '../../shared/udp/ws-frame.js';
import { handleConnectUdpStream, handleUdpWebSocketUpgrade, isConnectUdpRequest, isUdpUpgrade, type UdpAccessRecord } from '../../gateway/udp/connect-udp.js';
import { UdpFlow, type UdpDestinationCheck } from '../../gateway/udp/flows.js';
import type { OpenUdpFlow } from '../../main/udp/local-udp.js';
import { openH2UdpFlow } from '../../main/udp/h2-flow.js';
import { openWsUdpFlow } from '../../main/udp/ws-flow.js';

export const PAIR_USER = 'udp-user';
export const PAIR_PASSWORD = 'udp-password';
export const pairAuthorization = `Basic ${Buffer.from(`${PAIR_USER}:${PAIR_PASSWORD}`).toString('base64')}`;

export interface UdpGatewayOptions {
  /** The destination policy (default: allow 127.0.0.1 literals only, refuse everything else as forbidden). */
  readonly decide?: UdpDestinationCheck;
  readonly idleTimeoutMs?: number;
}

export interface UdpGateway {
  readonly h2Port: number;
  readonly wsPort: number;
  readonly access: UdpAccessRecord[];
  readonly flows: UdpFlow[];
  /** A client session to the h2 server (extended CONNECT enabled by the server's settings); `viaPort`: a relay in front of it. */
  h2Session(viaPort?: number): Promise<ClientHttp2Session>;
  openH2(session: ClientHttp2Session): OpenUdpFlow;
  /** `viaPort`: a relay in front of the WebSocket server. */
  openWs(viaPort?: number): OpenUdpFlow;
  stop(): Promise<void>;
}

const loopbackOnly: UdpDestinationCheck = async ({ host }) => {
  if (host === '127.0.0.1') return { address: host, family: 4 };
  throw new PinholeError('PINHOLE_DEST_FORBIDDEN', `${host} is not allowed.`);
};

export async function startUdpGateway(options: UdpGatewayOptions = {}): Promise<UdpGateway> {
  const logger = createLogger({ name: 'udp-gateway', level: 'silent' });
  const access: UdpAccessRecord[] = [];
  const flows: UdpFlow[] = [];
  const deps = {
    logger,
    accessLog: (r: UdpAccessRecord) => access.push(r),
    authenticate: async (header: string | undefined) => {
      if (header === undefined) throw new PinholeError('PINHOLE_AUTH_MISSING');
      if (header !== pairAuthorization) throw new PinholeError('PINHOLE_AUTH_REJECTED');
      return PAIR_USER;
    },
    openFlow: async (target: { host: string; port: number }) => {
      const flow = await UdpFlow.open(target, { decide: options.decide ?? loopbackOnly, idleTimeoutMs: options.idleTimeoutMs });
      flows.push(flow);
      return flow;
    },
  };
  const h2: Http2Server = createH2Server({ settings: { enableConnectProtocol: true } });
  h2.on('stream', (stream, headers) => {
    if (isConnectUdpRequest(headers)) void handleConnectUdpStream(stream, headers, deps);
    else stream.close();
  });
  const sockets = new Set<Socket>();
  const http: HttpServer = createHttpServer((_req, res) => res.writeHead(404).end());
  http.on('upgrade', (req, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (isUdpUpgrade(req)) void handleUdpWebSocketUpgrade(req, socket, head, deps);
    else socket.destroy();
  });
  h2.listen(0, '127.0.0.1');
  http.listen(0, '127.0.0.1');
  await Promise.all([once(h2, 'listening'), once(http, 'listening')]);
  const h2Port = (h2.address() as AddressInfo).port;
  const wsPort = (http.address() as AddressInfo).port;
  const sessions: ClientHttp2Session[] = [];
  return {
    h2Port,
    wsPort,
    access,
    flows,
    async h2Session(viaPort = h2Port) {
      const session = h2connect(`http://127.0.0.1:${viaPort}`);
      sessions.push(session);
      session.on('error', () => undefined);
      // Extended CONNECT may only be used once the server's SETTINGS allowed it.
      await once(session, 'remoteSettings');
      return session;
    },
    openH2: (session) => (host, port) => openH2UdpFlow(session, host, port, { authority: `127.0.0.1:${h2Port}`, authorization: pairAuthorization }),
    openWs: (viaPort = wsPort) => (host, port) => openWsUdpFlow(host, port, { url: `ws://127.0.0.1:${viaPort}${UDP_WS_PATH}`, authorization: pairAuthorization }),
    async stop() {
      for (const s of sessions) s.destroy();
      for (const f of flows) f.close();
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => h2.close(r)), new Promise((r) => http.close(r))]);
    },
  };
}
