/**
 * Inside the terminated TLS (haproxy's first variant): a connection that negotiated http/1.1 or
 * no ALPN may carry SSH (`ssh -o ProxyCommand='openssl s_client ...'`) or OpenVPN rather than
 * HTTP. Sniff the decrypted first bytes: SSH goes to --ssh, OpenVPN to --openvpn, everything else
 * to the HTTP/1.1 side (proxy, WebSocket tunnel, web site). A silent client goes to --ssh when it
 * is set (as outside TLS), otherwise to HTTP.
 */

import type { Socket } from 'node:net';
import type { RelayTimeouts } from '../../node/relay.js';
import type { Logger } from '../../shared/log.js';
import { httpProbe, openvpnProbe, sniff, sshProbe, tableMaxBytes } from '../sniff/index.js';
import { clientAddressOf } from './client-address.js';
import { connectionIdOf } from './connection.js';
import type { MuxTarget } from './config.js';
import { passThrough, type PassThroughCap } from './pass-through.js';

const INSIDE_PROBES = [sshProbe, httpProbe, openvpnProbe] as const;

export interface InsideTlsOptions {
  readonly ssh?: MuxTarget | undefined;
  readonly openvpn?: MuxTarget | undefined;
  readonly sniffTimeoutMs?: number;
  readonly logger: Logger;
  /** --half-close-timeout and --idle-timeout for the pass-through. */
  readonly relayTimeouts?: RelayTimeouts | undefined;
  /** --max-connections, for the dialled backend. */
  readonly cap?: PassThroughCap | undefined;
  /** The HTTP/1.1 side; gets the socket with its first bytes put back (it must resume it). */
  readonly http1: (socket: Socket) => void;
}

/** Route one terminated, non-h2 TLS connection. Never throws. */
export async function dispatchInsideTls(socket: Socket, options: InsideTlsOptions): Promise<void> {
  if (options.ssh === undefined && options.openvpn === undefined) {
    options.http1(socket);
    return;
  }
  const verdict = await sniff(socket, {
    probes: INSIDE_PROBES,
    timeoutMs: options.sniffTimeoutMs ?? 2_000,
    maxBytes: tableMaxBytes(INSIDE_PROBES),
  });
  const route =
    verdict.result === 'match' && verdict.name === 'ssh'
      ? 'ssh'
      : verdict.result === 'match' && verdict.name === 'openvpn'
        ? 'openvpn'
        : verdict.result === 'timeout' && verdict.head.length === 0 && options.ssh !== undefined
          ? 'ssh'
          : 'http';
  if (verdict.result === 'closed') {
    socket.destroy();
    return;
  }
  const target = route === 'ssh' ? options.ssh : route === 'openvpn' ? options.openvpn : undefined;
  if (target === undefined) {
    options.http1(socket);
    return;
  }
  const client = clientAddressOf(socket) ?? { address: '', port: 0, viaProxyHeader: false };
  void passThrough(socket, target, { route: `${route}-in-tls`, connId: connectionIdOf(socket), client, logger: options.logger, relayTimeouts: options.relayTimeouts, cap: options.cap });
}
