/**
 * The TCP options of every socket Pinhole accepts or opens, in one place (issue 24).
 *
 * Pinhole relays interactive traffic: a keystroke, a TLS handshake flight, a server's answer in
 * two small writes. With Nagle's algorithm on, a relay holds a small write until the previous
 * one is acknowledged, and the peer's delayed ACK makes that 40 ms per exchange. So every socket
 * carries TCP_NODELAY, on both sides and every door, as stunnel does by default:
 *
 * - a listener is made with `LISTENER_OPTIONS` (net, tls, http and http2 servers all hand their
 *   options to net.Server, which sets TCP_NODELAY on each accepted socket before any byte moves);
 * - an outgoing connection is made with `DIAL_SOCKET_OPTIONS` (node/dial.ts is the one dialler);
 * - a socket that reaches a door another way (handed over, adopted from elsewhere) goes through
 *   `tuneSocket`.
 *
 * socket-options.test.ts fails when a product file creates a server or a connection without them.
 */

/** For `net.createServer`, `tls.createServer`, `http(s).createServer`, `http2.createServer`. */
export const LISTENER_OPTIONS = { noDelay: true } as const;

/** For `net.connect` (node/dial.ts) and any other outgoing TCP connection. */
export const DIAL_SOCKET_OPTIONS = { noDelay: true } as const;

/** The same options for a socket that did not come from one of our listeners or dials; idempotent. */
export function tuneSocket<S extends { setNoDelay(noDelay?: boolean): unknown }>(socket: S): S {
  socket.setNoDelay(true);
  return socket;
}
