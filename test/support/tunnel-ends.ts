/**
 * What the tests of tunnels that end (issue 28 item 8: half-close and idle timeouts, the
 * connection cap) share: a process's descriptor count, a CONNECT to a silent origin, a socket's
 * close, the admin listener's answers and the access records that ended for silence.
 */
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { SilentOrigin } from './fin-origin.js';
import { isAccessRecord, type RunningGateway } from './gateway.js';
import { openTunnel, type ProxyAddress } from './proxy-requests.js';

export const fdCount = (pid: number | undefined): number => (pid === undefined ? Number.NaN : readdirSync(`/proc/${pid}/fd`).length);

export const adminText = async (port: number, path: string): Promise<{ status: number; body: string }> => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
};

/** CONNECT through `proxy` to the silent origin; anything but 200 throws. */
export const tunnelTo = async (proxy: ProxyAddress, origin: SilentOrigin): Promise<Socket> => {
  const tunnel = await openTunnel({ proxy, target: `127.0.0.1:${origin.port}`, timeoutMs: 60_000 });
  if (tunnel.status !== 200) throw new Error(`the CONNECT was answered ${tunnel.status} ${tunnel.headers['pinhole-error'] ?? ''}`);
  tunnel.socket.on('error', () => undefined);
  return tunnel.socket;
};

/** Runs `count` jobs, `lanes` at a time. */
export const inLanes = async (count: number, lanes: number, job: (i: number) => Promise<void>): Promise<void> => {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < count) await job(next++);
    }),
  );
};

/** Bytes that reach `socket` until it closes (a refused early tunnel delivers none). */
export const bytesUntilClose = (socket: Socket): Promise<number> =>
  new Promise((resolve) => {
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(bytes));
  });

export const closed = (socket: Socket): Promise<void> => (socket.closed ? Promise.resolve() : once(socket, 'close').then(() => undefined));

/** Access records of tunnels that ended with `end` ('idle-timeout', 'half-close-timeout'). */
export const endedBy = (gateway: RunningGateway, end: string): number => gateway.accessLog().filter((r) => isAccessRecord(r) && r['end'] === end).length;

export const tunnelRecords = (gateway: RunningGateway): number => gateway.accessLog().filter(isAccessRecord).length;

/** Open sockets of a process (a native splice path may keep a bounded pool of pipes on purpose: not counted). */
export const socketCount = (pid: number | undefined): number => {
  if (pid === undefined) return Number.NaN;
  let sockets = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets += 1;
    } catch {
      // Closed between the listing and the look.
    }
  }
  return sockets;
};

/** Reads from `socket` until `bytes` more have arrived. */
export const readBytes = (socket: Socket, bytes: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got < bytes) return;
      socket.off('data', onData).off('close', onClose);
      resolve(Buffer.concat(chunks));
    };
    const onClose = (): void => reject(new Error(`the connection closed after ${got} of ${bytes} bytes`));
    socket.on('data', onData).once('close', onClose);
  });

/** Writes `data` and reads the echo back, whole. */
export const echoedWhole = async (socket: Socket, data: Buffer): Promise<void> => {
  const back = readBytes(socket, data.length);
  socket.write(data);
  const got = await back;
  if (!got.equals(data)) throw new Error(`the echo of ${data.length} bytes came back different`);
};
