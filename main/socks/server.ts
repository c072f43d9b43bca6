/**
 * A SOCKS5 server for one accepted connection: handshake, then CONNECT through an injected
 * `openTunnel` (the local proxy's router and transports later, a direct dial in tests) or UDP
 * ASSOCIATE through an injected `openUdpFlow`. Failures reach the application as SOCKS reply codes
 * (reply-codes.ts), so it sees the same refusal an HTTP application sees as a status.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { nativeRelayOf } from '../../node/native/byte-path.js';
import { relayTunnel } from '../../node/native/tunnel-stream.js';
import type { RelayResult, RelayTimeouts } from '../../node/relay.js';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { LocalUsers } from '../lan/local-users.js';
import type { OpenUdpFlow } from '../udp/local-udp.js';
import { REPLY, encodeReply } from './codec.js';
import { socksHandshake, type SocksCommand } from './handshake.js';
import { socksReplyFor } from './reply-codes.js';
import { runUdpAssociation } from './udp-relay.js';

export interface TunnelContext {
  readonly source: string;
  readonly user: string | undefined;
}

/** Opens a byte stream to host:port (a name stays a name: the gateway resolves it). Throws PinholeError. */
export type OpenTunnel = (host: string, port: number, context: TunnelContext) => Promise<Duplex>;

export interface SocksSessionRecord {
  readonly source: string;
  readonly user: string | undefined;
  readonly command: SocksCommand['kind'] | undefined;
  readonly target: string | undefined;
  readonly reply: number;
  readonly code: string | undefined;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly durationMs: number;
}

export interface SocksServerDeps {
  readonly openTunnel: OpenTunnel;
  /** When set, UDP ASSOCIATE is offered and its flows go through this. */
  readonly openUdpFlow?: OpenUdpFlow;
  readonly users?: LocalUsers;
  readonly logger: Logger;
  readonly handshakeTimeoutMs?: number;
  /** --half-close-timeout and --idle-timeout for CONNECT tunnels. */
  readonly relayTimeouts?: RelayTimeouts;
  /** One record per connection when it ends (access log, per-terminal counters). */
  readonly onSession?: (record: SocksSessionRecord) => void;
}

const targetText = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Returns the handler for one accepted socket; `head` is what the first-byte dispatch already read. */
export function createSocksHandler(deps: SocksServerDeps): (socket: Socket, head?: Buffer) => Promise<void> {
  return async (socket, head) => {
    const started = Date.now();
    const source = socket.remoteAddress ?? 'unknown';
    let command: SocksCommand | undefined;
    // A socket handed to the native byte path counts its bytes there (`handedOver`).
    const record = (reply: number, code: string | undefined, handedOver?: { bytesUp: number; bytesDown: number }): void => {
      deps.onSession?.({
        source,
        user: command?.user,
        command: command?.kind,
        target: command && targetText(command.host, command.port),
        reply,
        code,
        bytesUp: handedOver?.bytesUp ?? socket.bytesRead,
        bytesDown: handedOver?.bytesDown ?? socket.bytesWritten,
        durationMs: Date.now() - started,
      });
    };
    try {
      command = await socksHandshake(socket, { users: deps.users, timeoutMs: deps.handshakeTimeoutMs, head, udp: deps.openUdpFlow !== undefined });
    } catch (err) {
      const code = err instanceof PinholeError ? err.code : 'PINHOLE_SOCKS_MALFORMED';
      deps.logger.info({ source, code }, 'A SOCKS5 handshake was refused.');
      record(socksReplyFor(err), code);
      return;
    }
    socket.on('error', () => undefined);

    if (command.kind === 'udp-associate') {
      await runUdpAssociation(socket, command, deps.openUdpFlow!, deps.logger);
      record(REPLY.succeeded, undefined);
      return;
    }

    let tunnel: Duplex;
    try {
      tunnel = await deps.openTunnel(command.host, command.port, { source, user: command.user });
    } catch (err) {
      const reply = socksReplyFor(err);
      const code = err instanceof PinholeError ? err.code : 'PINHOLE_CONNECT_FAILED';
      deps.logger.info({ source, user: command.user, target: targetText(command.host, command.port), code, reply }, 'A SOCKS5 CONNECT was refused.');
      if (socket.writable) socket.end(encodeReply(reply));
      record(reply, code);
      return;
    }
    if (socket.destroyed) {
      tunnel.destroy();
      record(REPLY.generalFailure, 'PINHOLE_REQUEST_TIMEOUT');
      return;
    }
    // The one relay (node/relay.ts, or the native byte path for a native tunnel): half-close both
    // ways, silent tunnels end after the timeouts.
    const handedUp = socket.bytesRead;
    const handedDown = socket.bytesWritten;
    const result = await new Promise<RelayResult>((resolve) => relayTunnel(socket, tunnel, { ...deps.relayTimeouts, toApplication: Buffer.from(encodeReply(REPLY.succeeded)), done: resolve }));
    record(REPLY.succeeded, undefined, nativeRelayOf(socket) === undefined ? undefined : { bytesUp: handedUp + result.bytesUp, bytesDown: handedDown + result.bytesDown });
  };
}
