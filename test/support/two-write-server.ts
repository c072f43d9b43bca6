/**
 * The interactive peer of the stall stories (issue 24): a TCP server on 127.0.0.1 port 0 that
 * answers each one-byte request either with one byte (`e`: echo) or in two small writes 2 ms
 * apart (`t`: as a shell, an SSH server, a database or a TLS server sending tickets before its
 * response does). A relay with Nagle's algorithm on holds the second write until the first is
 * acknowledged, and a delayed ACK makes that 40 ms: the signature these peers exist to catch.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';

/** What the client sends per exchange and how many bytes answer it. */
export const EXCHANGE = {
  echo: { request: 'e', answerBytes: 1 },
  twoWrites: { request: 't', answerBytes: 2 },
} as const;
export type ExchangeKind = keyof typeof EXCHANGE;

/** The gap between the two writes of a `twoWrites` answer. */
export const TWO_WRITE_GAP_MS = 2;

export interface TwoWriteServer {
  port: number;
  stop: () => Promise<void>;
}

const answer = (socket: Socket, request: number, timers: Set<NodeJS.Timeout>): void => {
  if (request === EXCHANGE.echo.request.charCodeAt(0)) {
    socket.write('E');
    return;
  }
  socket.write('T');
  const timer = setTimeout(() => {
    timers.delete(timer);
    socket.write('U');
  }, TWO_WRITE_GAP_MS);
  timers.add(timer);
};

/** With `tls`, the answers travel inside TLS (an SNI pass-through backend); each write is its own record. */
export const startTwoWriteServer = async (options: { tls?: { cert: string; key: string } } = {}): Promise<TwoWriteServer> => {
  const sockets = new Set<Socket>();
  const serve = (socket: Socket): void => {
    const timers = new Set<NodeJS.Timeout>();
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      sockets.delete(socket);
      for (const timer of timers) clearTimeout(timer);
    });
    socket.on('data', (chunk: Buffer) => {
      for (const byte of chunk) answer(socket, byte, timers);
    });
  };
  const server: Server = options.tls ? createTlsServer({ noDelay: true, ...options.tls }, serve) : createServer({ noDelay: true }, serve);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

/**
 * `count` exchanges of one kind, one at a time, over a stream that ends at the server; resolves
 * with each exchange's time in milliseconds (request written to last answer byte read).
 */
export const timeExchanges = (stream: Duplex, kind: ExchangeKind, count: number, timeoutMs = 30_000): Promise<number[]> =>
  new Promise((resolve, reject) => {
    const { request, answerBytes } = EXCHANGE[kind];
    const times: number[] = [];
    let received = 0;
    let started = 0n;
    const timer = setTimeout(() => finish(new Error(`${kind} exchanges did not complete within ${timeoutMs} ms (${times.length} of ${count})`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('error', finish);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve(times);
    };
    const send = (): void => {
      received = 0;
      started = process.hrtime.bigint();
      stream.write(request);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received < answerBytes) return;
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (times.length === count) finish();
      else send();
    };
    const onClose = (): void => finish(new Error(`the stream closed after ${times.length} of ${count} ${kind} exchanges`));
    stream.on('data', onData);
    stream.once('error', finish);
    stream.once('close', onClose);
    send();
  });

/** Exchanges per stall story (issue 24). */
export const STALL_EXCHANGES = 20;
/** A stall is 40 ms or more; two writes 2 ms apart take a few ms when nothing holds them. */
export const STALL_FREE_MEDIAN_MS = 20;

export const medianOf = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

/**
 * 20 two-write exchanges over `stream` (then destroyed); throws unless the median is far from a
 * delayed ACK, naming the path and every exchange's time.
 */
export const assertNoStall = async (stream: Duplex, path: string): Promise<void> => {
  const times = await timeExchanges(stream, 'twoWrites', STALL_EXCHANGES);
  stream.destroy();
  const median = medianOf(times);
  if (!(median < STALL_FREE_MEDIAN_MS)) {
    throw new Error(`${path}: median ${median.toFixed(1)} ms over ${STALL_EXCHANGES} two-write exchanges, a delayed-ACK stall (each: ${times.map((t) => t.toFixed(1)).join(', ')})`);
  }
};
