/**
 * UDP figures for tests and the bench (issue 14's rows): round trips one at a time through any
 * UDP port that echoes (direct to the echo server, or a LocalUdpForward in front of the tunnel),
 * datagrams per second with a window of outstanding datagrams, and a UDP delay relay to stand in
 * for a long link (the UDP twin of relay.ts's delay relay, for the direct baseline at 50 ms RTT).
 * Free of test-framework imports so bench/ can use it.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;

export interface RoundTrips {
  count: number;
  medianMs: number;
  p99Ms: number;
  lost: number;
}

/** `count` sequential round trips of `size`-byte datagrams to 127.0.0.1:port; a datagram not answered within `timeoutMs` counts as lost. */
export async function measureRoundTrips(port: number, count: number, size = 64, timeoutMs = 2_000): Promise<RoundTrips> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const samples: number[] = [];
  let lost = 0;
  const payload = Buffer.alloc(size, 0x61);
  try {
    for (let i = 0; i < count; i++) {
      payload.writeUInt32BE(i, 0);
      const started = process.hrtime.bigint();
      const answered = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          socket.off('message', onMessage);
          resolve(false);
        }, timeoutMs);
        const onMessage = (m: Buffer): void => {
          if (m.length < 4 || m.readUInt32BE(0) !== i) return;
          clearTimeout(timer);
          socket.off('message', onMessage);
          resolve(true);
        };
        socket.on('message', onMessage);
        socket.send(payload, port, '127.0.0.1');
      });
      if (answered) samples.push(Number(process.hrtime.bigint() - started) / 1e6);
      else lost++;
    }
  } finally {
    socket.close();
  }
  samples.sort((a, b) => a - b);
  return { count, medianMs: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), lost };
}

export interface DatagramRate {
  sent: number;
  received: number;
  perSecond: number;
}

/** Datagrams echoed per second over `durationMs`, keeping at most `window` unanswered (lost ones free their slot after `timeoutMs`). */
export async function measureDatagramRate(port: number, durationMs: number, window = 64, size = 64, timeoutMs = 500): Promise<DatagramRate> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const payload = Buffer.alloc(size, 0x62);
  let sent = 0;
  let received = 0;
  let outstanding = 0;
  let lastProgress = Date.now();
  const started = Date.now();
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (Date.now() - started >= durationMs) {
        resolve();
        return;
      }
      if (outstanding > 0 && Date.now() - lastProgress > timeoutMs) {
        outstanding = 0; // the window's datagrams were lost
        lastProgress = Date.now();
      }
      while (outstanding < window) {
        outstanding++;
        sent++;
        socket.send(payload, port, '127.0.0.1');
      }
      setImmediate(pump);
    };
    socket.on('message', () => {
      received++;
      outstanding = Math.max(0, outstanding - 1);
      lastProgress = Date.now();
    });
    pump();
  });
  const elapsed = (Date.now() - started) / 1000;
  socket.close();
  return { sent, received, perSecond: received / elapsed };
}

export interface UdpDelayRelay {
  port: number;
  stop: () => Promise<void>;
}

/** A UDP relay on 127.0.0.1 that holds every datagram `delayMs` in each direction; one upstream socket per client source. */
export async function startUdpDelayRelay(target: { port: number }, delayMs: number): Promise<UdpDelayRelay> {
  const front = createSocket('udp4');
  const upstreams = new Map<string, UdpSocket>();
  const later = (fn: () => void): void => void setTimeout(fn, delayMs);
  front.on('message', (message: Buffer, from: RemoteInfo) => {
    const key = `${from.address}:${from.port}`;
    let upstream = upstreams.get(key);
    if (upstream === undefined) {
      const created = createSocket('udp4');
      upstream = created;
      upstreams.set(key, created);
      created.on('message', (answer: Buffer) => later(() => front.send(answer, from.port, from.address)));
      created.bind(0, '127.0.0.1');
    }
    const socket = upstream;
    later(() => socket.send(message, target.port, '127.0.0.1'));
  });
  front.bind(0, '127.0.0.1');
  await once(front, 'listening');
  return {
    port: front.address().port,
    stop: async () => {
      for (const u of upstreams.values()) u.close();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
