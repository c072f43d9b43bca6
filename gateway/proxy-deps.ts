/** What the HTTP/1.1 and HTTP/2 proxies need from the gateway. */
import type { Socket } from 'node:net';
import type { Logger } from '../shared/log.js';
import type { Endpoint } from '../shared/profile.js';
import type { AccessLog } from './access-log.js';
import type { TargetKind } from './policy.js';

export interface ProxyDeps {
  /** Resolves to the user name or throws PINHOLE_AUTH_MISSING / PINHOLE_AUTH_REJECTED. */
  readonly authenticate: (header: string | undefined) => Promise<string>;
  /** Policy + connect; throws PinholeError. */
  readonly openUpstream: (target: Endpoint, kind: TargetKind) => Promise<Socket>;
  readonly accessLog: AccessLog;
  readonly logger: Logger;
  /** Count an open tunnel; call the returned function when it ends. `abort` is used when a drain runs out. */
  readonly trackTunnel: (abort: () => void) => () => void;
  /** The per-TLS-connection id and the client address of a socket. */
  readonly connInfo: (socket: Socket) => { connId: number | undefined; client: string | undefined };
}
