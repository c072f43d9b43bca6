/**
 * The bridge between the gateway's tunnel services (tunnel-request.ts) and the UDP handlers
 * (connect-udp.ts): authentication with the client's penalties, the per-user/per-source tunnel
 * limits, drain tracking, and the UDP flow's line in the same access log as TCP tunnels.
 */
import type { Connection } from '../mux/connection.js';
import type { TunnelRequest } from '../tunnel-request.js';
import type { UdpProxyDeps } from './connect-udp.js';

/** UdpProxyDeps for one client connection, or undefined when this gateway does not carry UDP. */
export function udpDepsFor(requests: TunnelRequest, connection: Connection): UdpProxyDeps | undefined {
  if (!requests.carriesUdp) return undefined;
  return {
    authenticate: (header) => requests.authenticate(header, connection.client),
    openFlow: (target, user) => requests.openUdpFlow(target, { user, client: connection.client }),
    logger: requests.logger,
    accessLog: ({ proto, datagramsUp, datagramsDown, end, ...record }) =>
      requests.accessLog({ ...record, method: 'CONNECT-UDP', proto: proto === 'h2-udp' ? 'h2' : 'wss', datagramsUp, datagramsDown, ...(end === undefined ? {} : { end }), ...connection }),
  };
}
