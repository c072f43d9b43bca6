/**
 * Inside TLS, by ALPN: HTTP/2 to the h2 door, everything else to the HTTP/1.1 door (after a look
 * for SSH or OpenVPN inside TLS when those routes are set). The doors translate their framing into
 * tunnel requests (tunnel-request.ts).
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from '../shared/log.js';
import { tuneSocket } from '../node/socket-options.js';
import { H1Proxy, type H1Options } from './h1-proxy.js';
import { H2Proxy, type H2Options } from './h2-proxy.js';
import type { RelayTimeouts } from '../node/relay.js';
import { routeTableOf, type MuxConfig } from './mux/config.js';
import { dispatchInsideTls } from './mux/inside-tls.js';
import type { PassThroughCap } from './mux/pass-through.js';
import type { TlsConnectionHandler } from './tls-service.js';
import type { TunnelRequest } from './tunnel-request.js';

export class Doors implements TlsConnectionHandler {
  readonly h1: H1Proxy;
  readonly h2: H2Proxy;
  /** TLS connections handed here since start, and those open now. */
  tlsConnections = 0;
  private readonly open = new Set<Socket>();

  constructor(
    requests: TunnelRequest,
    options: { h1: H1Options; h2: H2Options },
    private readonly inside: { readonly mux: MuxConfig | undefined; readonly relayTimeouts: RelayTimeouts; readonly cap?: PassThroughCap },
    private readonly logger: Logger,
  ) {
    this.h1 = new H1Proxy(requests, options.h1);
    this.h2 = new H2Proxy(requests, options.h2);
  }

  get openTlsConnections(): number {
    return this.open.size;
  }

  /** A TLS connection after its handshake: Node's TLSSocket, or the decrypted side of a native session (native-tls.ts: never h2). */
  handle(socket: TLSSocket | Socket): void {
    this.tlsConnections++;
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    tuneSocket(socket);
    const mux = this.inside.mux;
    if (socket instanceof TLSSocket && socket.alpnProtocol === 'h2') this.h2.handle(socket);
    else if (mux !== undefined && (mux.ssh !== undefined || mux.openvpn !== undefined)) {
      const table = routeTableOf(mux);
      void dispatchInsideTls(socket, { ssh: table.ssh, openvpn: table.openvpn, sniffTimeoutMs: mux.sniffTimeoutMs, relayTimeouts: this.inside.relayTimeouts, cap: this.inside.cap, logger: this.logger, http1: (s) => this.h1.handle(s) });
    } else this.h1.handle(socket);
  }

  /** End every TLS connection still open (the end of a drain). */
  destroyAll(): void {
    for (const session of this.h2.sessions) session.destroy();
    this.h1.server.closeAllConnections();
    for (const socket of this.open) socket.destroy();
  }
}
