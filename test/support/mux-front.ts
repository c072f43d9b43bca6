/**
 * The gateway's port-443 front (gateway/mux/*) assembled in-process around a plain TLS server,
 * without the proxy core: multiplexer -> TLS termination -> SSH/OpenVPN inside TLS or HTTP/1.1
 * -> WebSocket tunnels on the tunnel path (any user, any loopback target) and the web fallback.
 * Lets the multiplexer be proven against real sshd, openvpn, haproxy and curl on its own.
 */
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { createLogger } from '../../shared/log.js';
import { dispatchInsideTls } from '../../gateway/mux/inside-tls.js';
import { muxConfigFrom, routeTableOf, trustedProxyList, webTargetOf, type MuxFlagValues } from '../../gateway/mux/config.js';
import { Multiplexer } from '../../gateway/mux/multiplexer.js';
import type { NativeBytePath } from '../../node/native/byte-path.js';
import { WebFallback } from '../../gateway/mux/web.js';
import { handleTunnelUpgrade, isTunnelUpgrade } from '../../gateway/ws-tunnel.js';
import { clientAddressOf, formatClient } from '../../gateway/mux/client-address.js';
import type { TestCertificate } from './certs.js';
import type { LogRecord } from './processes.js';
import { recordingDestination, type RecordList } from './record-list.js';

export interface MuxFront {
  port: number;
  records: LogRecord[];
  /** The same lines, to wait on. */
  log: RecordList<LogRecord>;
  multiplexer: Multiplexer;
  stop: () => Promise<void>;
}

export const startMuxFront = async ({ cert, ownName, flags, native }: { cert: TestCertificate; ownName: string; flags: MuxFlagValues; native?: NativeBytePath | undefined }): Promise<MuxFront> => {
  const { destination, lines: log } = recordingDestination<LogRecord>();
  const logger = createLogger({ name: 'mux-front', level: 'debug', destination });
  const config = muxConfigFrom(flags);
  const table = routeTableOf(config);
  const web = new WebFallback({ web: webTargetOf(config), logger });
  const http = createHttpServer((req, res) => web.handle(req, res));
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!isTunnelUpgrade(req, config.wsPath)) {
      web.upgrade(req, socket, head);
      return;
    }
    void handleTunnelUpgrade(
      req,
      socket,
      head,
      {
        logger,
        accessLog: (r) => logger.info(r, 'tunnel'),
        authenticate: async () => 'tester',
        openUpstream: (target) =>
          new Promise<Socket>((resolve, reject) => {
            const s = netConnect({ host: target.host, port: target.port });
            s.once('connect', () => resolve(s));
            s.once('error', reject);
          }),
      },
      { client: formatClient(clientAddressOf(req.socket as Socket)) },
    );
  });
  const tls = createTlsServer({ cert: cert.cert, key: cert.key, ALPNProtocols: ['http/1.1'] }, (socket: TLSSocket) => {
    socket.on('error', () => socket.destroy());
    void dispatchInsideTls(socket, {
      ssh: table.ssh,
      openvpn: table.openvpn,
      logger,
      http1: (s) => {
        http.emit('connection', s);
        s.resume();
      },
    });
  });
  tls.on('tlsClientError', () => undefined);
  const trustedProxies = trustedProxyList(config.trustedProxies);
  const multiplexer = new Multiplexer({
    table,
    ownNames: [ownName],
    ...(trustedProxies === undefined ? {} : { trustedProxies }),
    sniffTimeoutMs: config.sniffTimeoutMs,
    native,
    logger,
    tls: { terminate: (socket) => tls.emit('connection', socket) },
  });
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    multiplexer.accept(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    records: log.items,
    log,
    multiplexer,
    stop: async () => {
      await multiplexer.closeAll();
      for (const s of sockets) s.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
