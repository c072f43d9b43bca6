/**
 * Gateways that misbehave the way real ones do, on 127.0.0.1:
 * - a hung endpoint accepts TCP and never says a word (a wedged gateway, a middlebox that eats the
 *   TLS handshake): a client waits for it until its own timeout;
 * - a freezable relay forwards to a real peer until `freeze()`, then holds every byte in both
 *   directions with the connections still open (what SIGSTOP on the peer looks like from the
 *   client), and lets them flow again on `thaw()`;
 * - a refused port: nothing listens there (connect fails at once with ECONNREFUSED).
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { freePort } from './processes.js';

export interface HungEndpoint {
  port: number;
  /** TCP connections accepted so far. */
  accepted: () => number;
  /** Bytes the clients sent (a TLS ClientHello, usually), never answered. */
  bytesReceived: () => number;
  /** Connections still open (a client that gave up has closed its own). */
  open: () => number;
  stop: () => Promise<void>;
}

/** A TCP server on 127.0.0.1 port 0 that remembers its open sockets, so stopping it closes them all. */
class LoopbackServer {
  readonly sockets = new Set<Socket>();
  port = 0;
  private stopped: Promise<void> | undefined;
  constructor(readonly server: Server) {}

  async start(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  /** Keeps `socket` until it closes; an error only closes it. */
  adopt(socket: Socket): Socket {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    return socket;
  }

  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.sockets.forEach((socket) => socket.destroy());
    });
    return this.stopped;
  }
}

export const startHungEndpoint = async (): Promise<HungEndpoint> => {
  let accepted = 0;
  let received = 0;
  const loopback: LoopbackServer = new LoopbackServer(
    createServer((socket) => {
      accepted += 1;
      loopback.adopt(socket).on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
    }),
  );
  const port = await loopback.start();
  return { port, accepted: () => accepted, bytesReceived: () => received, open: () => loopback.sockets.size, stop: () => loopback.stop() };
};

/** A port on 127.0.0.1 where nothing listens (free a moment ago): connecting is refused. */
export const refusedPort = (): Promise<number> => freePort();

export interface FreezableRelay {
  port: number;
  readonly frozen: boolean;
  /** Connections accepted so far. */
  accepted: () => number;
  /** Stop forwarding in both directions; connections stay open, new ones are accepted and held. */
  freeze: () => void;
  /** Forward again, held bytes included. */
  thaw: () => void;
  stop: () => Promise<void>;
}

export const startFreezableRelay = async ({ target }: { target: { host?: string; port: number } }): Promise<FreezableRelay> => {
  const pairs = new Set<[Socket, Socket]>();
  let frozen = false;
  let accepted = 0;
  const flow = ([a, b]: [Socket, Socket]): void => {
    a.pipe(b);
    b.pipe(a);
  };
  const hold = ([a, b]: [Socket, Socket]): void => {
    a.unpipe(b);
    b.unpipe(a);
    a.pause();
    b.pause();
  };
  const loopback: LoopbackServer = new LoopbackServer(
    createServer({ allowHalfOpen: true }, (client) => {
      accepted += 1;
      loopback.adopt(client);
      const upstream = loopback.adopt(connect({ host: target.host ?? '127.0.0.1', port: target.port, allowHalfOpen: true }));
      const pair: [Socket, Socket] = [client, upstream];
      pairs.add(pair);
      const drop = (): void => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.once('close', drop);
      upstream.once('close', drop);
      if (frozen) hold(pair);
      else flow(pair);
    }),
  );
  const port = await loopback.start();
  return {
    port,
    get frozen() {
      return frozen;
    },
    accepted: () => accepted,
    freeze: () => {
      if (frozen) return;
      frozen = true;
      for (const pair of pairs) hold(pair);
    },
    thaw: () => {
      if (!frozen) return;
      frozen = false;
      for (const pair of pairs) flow(pair);
    },
    stop: () => loopback.stop(),
  };
};
