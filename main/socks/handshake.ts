/**
 * The server side of a SOCKS5 handshake over one socket: greeting -> method selection ->
 * (RFC 1929 username/password) -> request. It answers every refusal itself (0xFF method, auth
 * failure status, reply 0x07/0x08) and closes the socket; on success it leaves the socket paused
 * with any bytes the client sent after its request pushed back (unshift), and the caller sends the
 * reply. Domain names are returned as names: nothing is resolved here (no DNS leak).
 * The socket never goes without an 'error' listener: on success it keeps one that ignores errors (a
 * write of this handshake may still fail after it resolved, before the caller attached its own),
 * and the caller learns of a failure from 'close' as it does anyway.
 */
import type { Socket } from 'node:net';
import { PinholeError } from '../../shared/errors.js';
import type { LocalUsers } from '../lan/local-users.js';
import {
  COMMAND,
  METHOD,
  REPLY,
  encodeMethodSelection,
  encodeReply,
  encodeUserPassStatus,
  parseGreeting,
  parseRequest,
  parseUserPass,
  type AddressType,
  type Parsed,
} from './codec.js';

export type SocksCommand =
  | { readonly kind: 'connect'; readonly host: string; readonly port: number; readonly addressType: AddressType; readonly user: string | undefined }
  /** host/port: where the client says it will send datagrams from (often 0.0.0.0:0, meaning "unknown"). */
  | { readonly kind: 'udp-associate'; readonly host: string; readonly port: number; readonly addressType: AddressType; readonly user: string | undefined };

export interface SocksHandshakeOptions {
  /** When set, clients must use RFC 1929 with a user these accept. */
  readonly users?: LocalUsers;
  /** The whole handshake must finish in this time (default 10 s). */
  readonly timeoutMs?: number;
  /** Bytes already read from the socket (the first-byte dispatch). */
  readonly head?: Buffer;
  /** Whether UDP ASSOCIATE is offered; when not, it is answered 0x07. */
  readonly udp?: boolean;
}

/** Largest handshake buffered: a greeting (257) + RFC 1929 (513) + a request (262) fit many times over. */
const MAX_HANDSHAKE = 4096;

/** Once the handshake has ended, a socket error only means 'close' follows. */
const ignoreError = (): void => undefined;

/** Runs the handshake; resolves to the command, or rejects with a PinholeError after answering and closing. */
export function socksHandshake(socket: Socket, options: SocksHandshakeOptions = {}): Promise<SocksCommand> {
  return new Promise((resolve, reject) => {
    let buffer = options.head ?? Buffer.alloc(0);
    let state: 'greeting' | 'auth' | 'request' | 'done' = 'greeting';
    let user: string | undefined;
    let busy = false;
    const source = socket.remoteAddress ?? 'unknown';

    const finish = (err: PinholeError | undefined, command?: SocksCommand, answer?: Uint8Array): void => {
      if (state === 'done') return;
      state = 'done';
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.on('error', ignoreError);
      socket.off('error', onError);
      socket.off('close', onEnd);
      socket.pause();
      if (err) {
        if (answer && socket.writable) socket.end(answer);
        else socket.destroy();
        reject(err);
        return;
      }
      if (buffer.length > 0) socket.unshift(buffer);
      resolve(command!);
    };

    const step = <T>(parse: (b: Uint8Array) => Parsed<T> | undefined): T | undefined => {
      const parsed = parse(buffer);
      if (parsed === undefined) return undefined;
      buffer = buffer.subarray(parsed.consumed);
      return parsed.value;
    };

    const advance = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          if (state === 'greeting') {
            const greeting = step(parseGreeting);
            if (!greeting) return;
            const wanted = options.users ? METHOD.userPass : METHOD.noAuth;
            if (!greeting.methods.includes(wanted)) {
              const code = options.users ? 'PINHOLE_LOCAL_AUTH_MISSING' : 'PINHOLE_SOCKS_UNSUPPORTED';
              finish(new PinholeError(code, undefined, { details: { source, methods: greeting.methods } }), undefined, encodeMethodSelection(METHOD.noAcceptable));
              return;
            }
            socket.write(encodeMethodSelection(wanted));
            state = options.users ? 'auth' : 'request';
          } else if (state === 'auth') {
            const credentials = step(parseUserPass);
            if (!credentials) return;
            try {
              user = await options.users!.authenticate(credentials.user, credentials.password, source);
            } catch (err) {
              finish(err as PinholeError, undefined, encodeUserPassStatus(false));
              return;
            }
            if (state !== 'auth') return; // the socket went away while the password was checked
            socket.write(encodeUserPassStatus(true));
            state = 'request';
          } else if (state === 'request') {
            let request;
            try {
              request = step(parseRequest);
            } catch (err) {
              const unsupported = err instanceof PinholeError && err.code === 'PINHOLE_SOCKS_UNSUPPORTED';
              finish(err as PinholeError, undefined, unsupported ? encodeReply(REPLY.addressTypeNotSupported) : undefined);
              return;
            }
            if (!request) return;
            const { host, port, type } = request.address;
            if (request.command === COMMAND.connect) {
              finish(undefined, { kind: 'connect', host, port, addressType: type, user });
            } else if (request.command === COMMAND.udpAssociate && options.udp === true) {
              finish(undefined, { kind: 'udp-associate', host, port, addressType: type, user });
            } else {
              finish(
                new PinholeError('PINHOLE_SOCKS_UNSUPPORTED', `SOCKS5 command ${request.command} is not supported.`, { details: { source, command: request.command } }),
                undefined,
                encodeReply(REPLY.commandNotSupported),
              );
            }
            return;
          } else {
            return;
          }
        }
      } catch (err) {
        finish(err instanceof PinholeError ? err : new PinholeError('PINHOLE_SOCKS_MALFORMED', undefined, { cause: err }));
      } finally {
        busy = false;
      }
    };

    const onData = (chunk: Buffer): void => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      if (buffer.length > MAX_HANDSHAKE) {
        finish(new PinholeError('PINHOLE_SOCKS_MALFORMED', 'The SOCKS5 handshake is too long.'));
        return;
      }
      // While a password is being checked, advance() is busy and picks these bytes up when it continues.
      void advance();
    };
    const onEnd = (): void => finish(new PinholeError('PINHOLE_SOCKS_MALFORMED', 'The SOCKS5 client closed the connection during the handshake.'));
    const onError = (err: Error): void => finish(new PinholeError('PINHOLE_SOCKS_MALFORMED', 'The SOCKS5 client connection failed during the handshake.', { cause: err }));
    const timer = setTimeout(() => finish(new PinholeError('PINHOLE_REQUEST_TIMEOUT', 'The SOCKS5 handshake did not finish in time.')), options.timeoutMs ?? 10_000);
    timer.unref();

    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.on('error', onError);
    if (buffer.length > 0) void advance();
    socket.resume();
  });
}
