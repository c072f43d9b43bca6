/**
 * The real client of a connection: the peer address, or the source a trusted balancer gave in
 * its PROXY header. The multiplexer records it on the accepted socket; anything built on top
 * (the TLSSocket a tls.Server wraps around it, an HTTP/2 session's socket) finds it through
 * `_parent`, so access logs name the real client without knowing about PROXY headers.
 */
import type { Socket } from 'node:net';

export interface ClientAddress {
  readonly address: string;
  readonly port: number;
  /** True when it came from a PROXY header rather than the TCP peer. */
  readonly viaProxyHeader: boolean;
}

const recorded = new WeakMap<object, ClientAddress>();

export function setClientAddress(socket: Socket, client: ClientAddress): void {
  recorded.set(socket, client);
}

/** The recorded client of `socket` or of the socket under it; else its own peer. */
export function clientAddressOf(socket: Socket | { _parent?: unknown; remoteAddress?: string; remotePort?: number } | undefined | null): ClientAddress | undefined {
  let current: unknown = socket;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null && typeof current === 'object'; depth++) {
    const found = recorded.get(current);
    if (found !== undefined) return found;
    current = (current as { _parent?: unknown })._parent;
  }
  const s = socket as { remoteAddress?: string; remotePort?: number } | undefined | null;
  return s?.remoteAddress === undefined ? undefined : { address: s.remoteAddress, port: s.remotePort ?? 0, viaProxyHeader: false };
}

/** "address:port" for logs, IPv6 bracketed. */
export const formatClient = (client: ClientAddress | undefined): string | undefined =>
  client === undefined ? undefined : client.address.includes(':') ? `[${client.address}]:${client.port}` : `${client.address}:${client.port}`;
