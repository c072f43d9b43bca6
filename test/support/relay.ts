/**
 * TCP relays that sit between two halves of a stack on loopback:
 * - a recording relay keeps every byte in each direction, so a test can read what a firewall
 *   between the client and the gateway would see;
 * - a delay relay holds every chunk for `delayMs` in each direction and the connect for one round
 *   trip, standing in for a long link where `tc netem` is not available (the benchmark uses it).
 */
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';

export interface RelayTarget {
  host?: string;
  port: number;
}

export interface RecordedConnection {
  id: number;
  /** Chunks from the connecting side towards the target, in arrival order. */
  up: Buffer[];
  /** Chunks from the target back to the connecting side. */
  down: Buffer[];
  closed: boolean;
}

export interface RecordingRelay {
  port: number;
  connections: RecordedConnection[];
  /** All bytes of one direction of one connection, joined. */
  bytes: (connection: RecordedConnection, direction: 'up' | 'down') => Buffer;
  /** Every recorded byte of every connection in both directions, each connection-direction joined separately. */
  allStreams: () => Buffer[];
  stop: () => Promise<void>;
}

const listenOn = (server: Server): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

const closeAll = (server: Server, sockets: Set<Socket>): Promise<void> =>
  new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  });

const track = (sockets: Set<Socket>, socket: Socket): Socket => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  return socket;
};

/**
 * Joins two sockets both ways: an orderly end travels as an end (half-close kept), an error or an
 * abrupt close on either side tears both down.
 */
const splice = (a: Socket, b: Socket, onAbort: () => void = () => undefined): void => {
  a.pipe(b);
  b.pipe(a);
  const abort = (): void => {
    onAbort();
    a.destroy();
    b.destroy();
  };
  a.on('error', abort);
  b.on('error', abort);
  a.once('close', () => {
    if (!a.readableEnded) abort();
  });
  b.once('close', () => {
    if (!b.readableEnded) abort();
  });
};

export const startRecordingRelay = async ({ target }: { target: RelayTarget }): Promise<RecordingRelay> => {
  const connections: RecordedConnection[] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    track(sockets, client);
    const record: RecordedConnection = { id: connections.length, up: [], down: [], closed: false };
    connections.push(record);
    const upstream = track(sockets, connect({ host: target.host ?? '127.0.0.1', port: target.port, allowHalfOpen: true }));
    client.on('data', (chunk: Buffer) => record.up.push(chunk));
    upstream.on('data', (chunk: Buffer) => record.down.push(chunk));
    client.once('close', () => (record.closed = true));
    splice(client, upstream);
  });
  const port = await listenOn(server);
  let stopped: Promise<void> | undefined;
  return {
    port,
    connections,
    bytes: (connection, direction) => Buffer.concat(connection[direction]),
    allStreams: () => connections.flatMap((c) => [Buffer.concat(c.up), Buffer.concat(c.down)]),
    stop: () => (stopped ??= closeAll(server, sockets)),
  };
};

export interface DelayRelayOptions {
  target: RelayTarget;
  /** One-way delay applied to every chunk in each direction; the round trip is twice this. */
  delayMs: number;
  /**
   * Bytes held in flight per direction before the relay stops reading from the sender (like a
   * link's buffer). Defaults to 64 MiB, far above any window the stacks use.
   */
  maxInFlightBytes?: number;
}

export interface DelayRelay {
  port: number;
  /** The one-way delay now. */
  readonly delayMs: number;
  /** A new one-way delay for the chunks that arrive from now on (order is kept: none leaves before an earlier one). */
  setDelayMs: (delayMs: number) => void;
  /** Connections accepted so far. */
  accepted: () => number;
  stop: () => Promise<void>;
}

/**
 * One direction of the link: a FIFO of chunks, each with the time it may leave. Release times
 * never decrease, so one timer for the head of the queue is enough and order is preserved.
 */
class DelayedDirection {
  private readonly queue: Array<{ chunk: Buffer | null; releaseAt: number }> = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private held = 0;
  private notBefore = 0;
  private lastRelease = 0;
  private destination: Socket | undefined;
  private ended = false;

  constructor(
    private readonly source: Socket,
    private readonly delay: { ms: number },
    private readonly maxInFlight: number,
  ) {
    source.on('data', (chunk: Buffer) => this.push(chunk));
    source.once('end', () => this.push(null));
  }

  /** Nothing leaves before `time` (the far side's connect has not completed yet). */
  holdUntil(time: number): void {
    this.notBefore = time;
  }

  attach(destination: Socket): void {
    this.destination = destination;
    destination.on('drain', () => this.maybeResume());
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private push(chunk: Buffer | null): void {
    const releaseAt = Math.max(Date.now() + this.delay.ms, this.notBefore, this.lastRelease);
    this.lastRelease = releaseAt;
    this.queue.push({ chunk, releaseAt });
    if (chunk) {
      this.held += chunk.length;
      if (this.held > this.maxInFlight) this.source.pause();
    }
    if (this.timer === undefined) this.schedule();
  }

  private schedule(): void {
    if (!this.destination || this.ended) return;
    const next = this.queue[this.head];
    if (!next) return;
    const wait = next.releaseAt - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => this.flush(), wait);
      return;
    }
    this.flush();
  }

  private flush(): void {
    this.timer = undefined;
    const destination = this.destination;
    if (!destination) return;
    const now = Date.now();
    while (this.head < this.queue.length) {
      const item = this.queue[this.head];
      if (!item || item.releaseAt > now) break;
      this.head += 1;
      if (item.chunk === null) {
        this.ended = true;
        destination.end();
        break;
      }
      this.held -= item.chunk.length;
      destination.write(item.chunk);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.maybeResume();
    this.schedule();
  }

  private maybeResume(): void {
    const backlog = this.held + (this.destination?.writableLength ?? 0);
    if (this.source.isPaused() && backlog <= this.maxInFlight / 2) this.source.resume();
  }
}

export const startDelayRelay = async (options: DelayRelayOptions): Promise<DelayRelay> => {
  const { target } = options;
  const delay = { ms: options.delayMs };
  const maxInFlight = options.maxInFlightBytes ?? 64 * 1024 * 1024;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let accepted = 0;
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    accepted += 1;
    track(sockets, client);
    client.setNoDelay(true);
    const acceptedAt = Date.now();
    const delayMs = delay.ms;
    const up = new DelayedDirection(client, delay, maxInFlight);
    // A real client's first bytes reach the server no earlier than one round trip (the TCP
    // handshake) plus one way after it called connect().
    up.holdUntil(acceptedAt + 3 * delayMs);
    let upstream: Socket | undefined;
    const finish = (): void => {
      up.stop();
      down?.stop();
      client.destroy();
      upstream?.destroy();
    };
    let down: DelayedDirection | undefined;
    client.on('error', finish);
    client.once('close', () => {
      // An abrupt close (no 'end') travels like a reset: immediately.
      if (!client.readableEnded) finish();
    });
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (client.destroyed) return;
      upstream = track(sockets, connect({ host: target.host ?? '127.0.0.1', port: target.port, noDelay: true, allowHalfOpen: true }));
      down = new DelayedDirection(upstream, delay, maxInFlight);
      upstream.once('connect', () => {
        if (!upstream || !down) return;
        up.attach(upstream);
        down.attach(client);
      });
      upstream.on('error', finish);
      upstream.once('close', () => {
        if (upstream && !upstream.readableEnded) finish();
      });
    }, 2 * delayMs);
    timers.add(timer);
  });
  const port = await listenOn(server);
  let stopped: Promise<void> | undefined;
  return {
    port,
    get delayMs() {
      return delay.ms;
    },
    setDelayMs: (delayMs: number) => {
      delay.ms = Math.max(0, delayMs);
    },
    accepted: () => accepted,
    stop: () =>
      (stopped ??= (() => {
        for (const timer of timers) clearTimeout(timer);
        return closeAll(server, sockets);
      })()),
  };
};
