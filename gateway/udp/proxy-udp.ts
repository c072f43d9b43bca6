/**
 * The bridge between the proxies' shared dependencies (proxy-deps.ts) and the UDP handlers
 * (connect-udp.ts): authentication with the client's penalties, the per-user/per-source tunnel
 * limits, drain tracking, and the UDP flow's line in the same access log as TCP tunnels.
 */
import type { Socket } from 'node:net';
import type { ProxyDeps } from '../proxy-deps.js';
import type { UdpProxyDeps } from './connect-udp.js';

/** UdpProxyDeps for one client connection, or undefined when this gateway does not carry UDP. */
export function udpDepsFor(deps: ProxyDeps, socket: Socket): UdpProxyDeps | undefined {
  const open = deps.openUdpFlow;
  if (open === undefined) return undefined;
  const info = deps.connInfo(socket);
  return {
    authenticate: (header) => deps.authenticate(header, info.client),
    openFlow: async (target, user) => {
      deps.admitTunnel(user, info.client);
      const flow = await open(target);
      const untrack = deps.trackTunnel(() => flow.close(), { user, client: info.client });
      flow.onClose(untrack);
      return flow;
    },
    logger: deps.logger,
    accessLog: ({ proto, datagramsUp, datagramsDown, end, ...record }) =>
      deps.accessLog({ ...record, method: 'CONNECT-UDP', proto: proto === 'h2-udp' ? 'h2' : 'wss', datagramsUp, datagramsDown, ...(end === undefined ? {} : { end }), ...info }),
  };
}
