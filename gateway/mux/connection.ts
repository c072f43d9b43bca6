/**
 * One accepted connection, one id: the front door (mux/multiplexer.ts) numbers each socket it
 * accepts, and everything built on it (the TLSSocket around it, an HTTP/2 session, a tunnel, a
 * pass-through) finds that number through `_parent`, so the access log names the connection the
 * multiplexer logged. The client is the real one (client-address.ts).
 */
import type { Socket } from 'node:net';
import { clientAddressOf, formatClient, setClientAddress } from './client-address.js';

export interface Connection {
  readonly connId: number | undefined;
  /** "address:port" of the real client. */
  readonly client: string | undefined;
}

const ids = new WeakMap<object, number>();
let nextId = 1;

/** Give an accepted socket its connection id (once). */
export function numberConnection(socket: Socket): number {
  const id = nextId++;
  ids.set(socket, id);
  return id;
}

/** The id the front door gave `socket` or the socket under it. */
export function connectionIdOf(socket: object | undefined | null): number | undefined {
  let current: unknown = socket;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null && typeof current === 'object'; depth++) {
    const found = ids.get(current);
    if (found !== undefined) return found;
    current = (current as { _parent?: unknown })._parent;
  }
  return undefined;
}

/** The connection a socket (raw, TLS, or an HTTP/2 session's) belongs to. */
export function connectionOf(socket: Socket | undefined | null): Connection {
  if (socket === undefined || socket === null) return { connId: undefined, client: undefined };
  return { connId: connectionIdOf(socket), client: formatClient(clientAddressOf(socket)) };
}

/** `to` carries `from`'s connection on (the decrypted side of a native TLS session): the same id and client. */
export function shareConnection(from: Socket, to: Socket): void {
  const id = connectionIdOf(from);
  if (id !== undefined) ids.set(to, id);
  const client = clientAddressOf(from);
  if (client !== undefined) setClientAddress(to, client);
}
