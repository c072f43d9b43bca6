/**
 * SOCKS5 on the local proxy's port (issue 14): the SOCKS server (main/socks/server.ts) with the
 * same route decision as CONNECT: a blocked app or domain is refused (as a SOCKS reply code),
 * a direct route dials directly, the rest goes through the tunnel, where a name stays a name (the
 * gateway resolves it: no DNS query leaves this machine).
 */
import type { Socket } from 'node:net';
import { formatEndpoint } from '../../shared/profile.js';
import { asPinholeError } from '../../node/refusal.js';
import type { LocalUsers } from '../lan/local-users.js';
import { createSocksHandler, type SocksSessionRecord } from '../socks/server.js';
import type { OpenUdpFlow } from '../udp/local-udp.js';
import { reach, type ProxyContext } from './context.js';
import { blockRefusal } from './refusal.js';

export interface SocksJobOptions {
  /** UDP ASSOCIATE is offered when the transport carries UDP (h2, wss). */
  readonly openUdpFlow?: OpenUdpFlow;
  readonly users?: LocalUsers;
  readonly onSession?: (record: SocksSessionRecord) => void;
}

/** The handler for one SOCKS5 connection (`head`: the bytes the first-byte dispatch read). */
export const socksJob =
  (context: ProxyContext, options: SocksJobOptions) =>
  (socket: Socket, head: Buffer): Promise<void> =>
    createSocksHandler({
      logger: context.logger,
      ...(options.openUdpFlow === undefined ? {} : { openUdpFlow: options.openUdpFlow }),
      ...(options.users === undefined ? {} : { users: options.users }),
      ...(options.onSession === undefined ? {} : { onSession: options.onSession }),
      relayTimeouts: context.relayTimeouts,
      openTunnel: async (host, port) => {
        const target = { host, port };
        const where = formatEndpoint(target);
        const decision = await context.route({ ...target, socket });
        if (decision.route === 'block') {
          const err = blockRefusal(decision, where);
          context.refused(err, where, 'block');
          throw err;
        }
        try {
          const stream = await reach(context, target, decision.route);
          const release = context.tunnels.opened();
          stream.once('close', release);
          return stream;
        } catch (err) {
          const error = asPinholeError(err, 'PINHOLE_CONNECT_FAILED');
          context.refused(error, where, decision.route);
          throw error;
        }
      },
    })(socket, head);
