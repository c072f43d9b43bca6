/**
 * One port for HTTP and SOCKS5 (Clash's `mixed-port`): the first byte a client sends decides.
 * SOCKS5 always opens with 0x05; an HTTP request with a method name (a letter), so nothing has to
 * be guessed. The byte(s) read to decide are handed to the SOCKS handler, or pushed back onto the
 * socket for the HTTP server, which then sees an untouched connection.
 */
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { isSocks5FirstByte } from './reply-codes.js';

export interface MixedPortHandlers {
  /** Takes a SOCKS5 connection; `head` holds the bytes already read. */
  readonly socks: (socket: Socket, head: Buffer) => unknown;
  /** Takes any other connection with nothing consumed (e.g. `httpServer.emit('connection', socket)`). */
  readonly http: (socket: Socket) => unknown;
  /** A client that sends nothing in this time is closed (default 10 s). */
  readonly firstByteTimeoutMs?: number;
}

/** Waits for the first bytes of an accepted socket, then hands it to the SOCKS5 or the HTTP side. */
export function dispatchByFirstByte(socket: Socket, handlers: MixedPortHandlers): void {
  const done = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('end', onEnd);
  };
  const onData = (head: Buffer): void => {
    done();
    socket.pause();
    if (isSocks5FirstByte(head[0]!)) {
      void handlers.socks(socket, head);
    } else {
      socket.unshift(head);
      handlers.http(socket);
    }
  };
  const onError = (): void => {
    done();
    socket.destroy();
  };
  const onEnd = (): void => {
    done();
    socket.destroy();
  };
  const timer = setTimeout(onEnd, handlers.firstByteTimeoutMs ?? 10_000);
  timer.unref();
  socket.on('data', onData);
  socket.on('error', onError);
  socket.once('end', onEnd);
  socket.resume();
}

/**
 * The HTTP side as a node:http server: it consumes the socket's handle directly, so the pushed-back
 * bytes are only parsed once the socket flows again; hence the resume() right after it attached.
 */
export const toHttpServer =
  (server: HttpServer) =>
  (socket: Socket): void => {
    server.emit('connection', socket);
    socket.resume();
  };
