/**
 * A destination that answers only after the request's FIN (like `nc -N`, an rsh-style protocol or
 * a request sent with shutdown(SHUT_WR)): it reads until the end of the request, then sends its
 * whole answer and ends. Through a proxy that keeps half-close, the answer arrives whole; one that
 * tears both sides down on the first FIN loses it.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { openTunnel, type ProxyAddress } from './proxy-requests.js';

export interface FinOrigin {
  port: number;
  /** The answer: `got N bytes\n` and then `answerBytes` bytes of 'a'. */
  answerFor(requestLength: number): Buffer;
  /** Settles when the origin next sends an answer (its request, FIN included, has arrived). */
  nextAnswer(): Promise<void>;
  stop(): Promise<void>;
}

export const startFinOrigin = async (answerBytes = 512 * 1024): Promise<FinOrigin> => {
  const sockets = new Set<Socket>();
  let waiters: Array<() => void> = [];
  const answerFor = (requestLength: number): Buffer => Buffer.concat([Buffer.from(`got ${requestLength} bytes\n`), Buffer.alloc(answerBytes, 0x61)]);
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let length = 0;
    socket.on('data', (chunk: Buffer) => (length += chunk.length));
    socket.once('end', () => {
      socket.end(answerFor(length));
      const settled = waiters;
      waiters = [];
      for (const resolve of settled) resolve();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    answerFor,
    nextAnswer: () => new Promise<void>((resolve) => waiters.push(resolve)),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
};

/** CONNECT through `proxy` to `target`, send `request` followed by a FIN, and read the answer to its end. */
export const requestThenFin = async (proxy: ProxyAddress, target: string, request: Buffer, timeoutMs = 15_000): Promise<Buffer> => {
  const tunnel = await openTunnel({ proxy, target, timeoutMs });
  if (tunnel.status !== 200) throw new Error(`the proxy refused the CONNECT: ${tunnel.status} ${tunnel.headers['pinhole-error'] ?? ''}`);
  const { socket } = tunnel;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the answer did not end within ${timeoutMs} ms (${Buffer.concat(chunks).length} bytes arrived)`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`the connection closed before the answer ended (${Buffer.concat(chunks).length} bytes arrived)`));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.end(request);
  });
};

/**
 * A destination that never says a word (a long poll, an idle keep-alive, a held socket): it
 * accepts, reads, and keeps every connection open after the client's FIN until the other side
 * closes it or the test stops it. `open()` is how many it still holds.
 */
export interface SilentOrigin {
  port: number;
  open(): number;
  accepted(): number;
  stop(): Promise<void>;
}

export const startSilentOrigin = async (): Promise<SilentOrigin> => {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.resume();
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 });
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    open: () => sockets.size,
    accepted: () => accepted,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
};
