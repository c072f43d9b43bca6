/** What the HTTP/1.1 and HTTP/2 proxies need from the gateway. */
import type { Socket } from 'node:net';
import type { RelayTimeouts } from '../node/relay.js';
import type { Logger } from '../shared/log.js';
import type { Endpoint } from '../shared/profile.js';
import type { AccessLog } from './access-log.js';
import type { TargetKind } from './policy.js';
import type { UdpFlow, UdpTarget } from './udp/flows.js';

export interface ProxyDeps {
  /**
   * Resolves to the user name or throws PINHOLE_AUTH_MISSING / _REJECTED / _THROTTLED (429) /
   * _BUSY (503); `client` is connInfo's client, what penalties are counted against.
   */
  readonly authenticate: (header: string | undefined, client: string | undefined) => Promise<string>;
  /** Before dialing: throws PINHOLE_LIMIT_REACHED when the user or the client's source holds too many tunnels. */
  readonly admitTunnel: (user: string, client: string | undefined) => void;
  /** Policy + connect; throws PinholeError. */
  readonly openUpstream: (target: Endpoint, kind: TargetKind) => Promise<Socket>;
  readonly accessLog: AccessLog;
  /** --half-close-timeout and --idle-timeout, for every relay a door starts. */
  readonly relayTimeouts: RelayTimeouts;
  readonly logger: Logger;
  /** Count an open tunnel (against `owner`'s limits); call the returned function when it ends. `abort` is used when a drain runs out. */
  readonly trackTunnel: (abort: () => void, owner?: { user: string; client: string | undefined }) => () => void;
  /** The per-TLS-connection id and the client address of a socket. */
  readonly connInfo: (socket: Socket) => { connId: number | undefined; client: string | undefined };
  /** UDP policy + open (CONNECT-UDP and the UDP WebSocket); absent: the gateway refuses UDP. Throws PinholeError. */
  readonly openUdpFlow?: (target: UdpTarget) => Promise<UdpFlow>;
}
