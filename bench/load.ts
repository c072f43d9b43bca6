/**
 * The benchmark's load generator: what an application does through a proxy, many times and
 * concurrently, inside one Node process (no curl per request). Every way to the origin is a
 * `Route`: straight to a TCP port (the origin, or a delay relay in front of it), or `CONNECT`
 * through an HTTP proxy (the stunnel client of the seed stack, or Pinhole's local proxy).
 *
 * Run as a program it is a handshake worker (so the TLS client cost can be spread over processes):
 *   node --import tsx bench/load.ts handshake '{"port":P,"servername":"gw","seconds":3,"concurrency":16,"resume":false}'
 * and prints one JSON line `{"handshakes":N,"resumed":M,"errors":E,"seconds":S}`.
 */
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { openTunnel } from '../test/support/proxy-requests.js';

export type Route =
  | { kind: 'direct'; port: number }
  | { kind: 'proxy'; port: number; auth?: { user: string; password: string } };

/** Opens a TCP stream that ends at 127.0.0.1:targetPort, directly or through the route's proxy. */
export const openStream = async (route: Route, targetPort: number, timeoutMs = 30_000): Promise<Socket> => {
  if (route.kind === 'direct') {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port: route.port, noDelay: true }, () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }
  const tunnel = await openTunnel({
    proxy: { port: route.port, ...(route.auth ? { auth: route.auth } : {}) },
    target: `127.0.0.1:${targetPort}`,
    timeoutMs,
  });
  if (tunnel.status !== 200) throw new Error(`the proxy on ${route.port} answered ${tunnel.status} ${tunnel.reason} to CONNECT 127.0.0.1:${targetPort}`);
  tunnel.socket.setNoDelay(true);
  return tunnel.socket;
};

export interface OriginTrust {
  /** The origin's certificate (PEM): verified like a browser would, name `localhost`. */
  ca: string;
}

/** The application's own TLS to the origin, inside `stream`. */
export const originTls = (stream: Socket, trust: OriginTrust): Promise<TLSSocket> =>
  new Promise((resolve, reject) => {
    const secure = tlsConnect({ socket: stream, servername: 'localhost', ca: trust.ca, ALPNProtocols: ['http/1.1'] }, () => {
      secure.off('error', reject);
      resolve(secure);
    });
    secure.once('error', reject);
    secure.once('close', () => stream.destroy());
  });

interface Fetched {
  status: number;
  bodyBytes: number;
}

/**
 * Sends `GET path` with `Connection: close` and counts the body bytes until Content-Length is
 * reached. The body is read and dropped: no copies, no hashing, one counter per chunk.
 */
export const fetchAndDiscard = (secure: TLSSocket, path: string, timeoutMs: number, onProgress?: (bodyBytes: number) => boolean): Promise<Fetched> =>
  new Promise((resolve, reject) => {
    let head: Buffer | undefined = Buffer.alloc(0);
    let status = 0;
    let expected = -1;
    let bodyBytes = 0;
    const timer = setTimeout(() => finish(new Error(`GET ${path} did not complete within ${timeoutMs} ms (${bodyBytes} body bytes)`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      secure.off('data', onData);
      secure.off('error', finish);
      secure.off('close', onClose);
      secure.destroy();
      if (err) reject(err);
      else resolve({ status, bodyBytes });
    };
    const onData = (chunk: Buffer): void => {
      if (head !== undefined) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = head.subarray(0, end).toString('latin1');
        status = Number(/^HTTP\/1\.\d (\d{3})/.exec(text)?.[1] ?? 0);
        expected = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? -1);
        bodyBytes = head.length - end - 4;
        head = undefined;
      } else {
        bodyBytes += chunk.length;
      }
      if (onProgress && !onProgress(bodyBytes)) finish();
      else if (expected >= 0 && bodyBytes >= expected) finish();
    };
    const onClose = (): void => {
      // Without Content-Length (Connection: close), the end of the connection ends the body.
      if (head === undefined && (expected < 0 || bodyBytes >= expected)) finish();
      else finish(new Error(`the connection closed after ${bodyBytes} of ${expected} body bytes of GET ${path}`));
    };
    secure.on('data', onData);
    secure.once('error', finish);
    secure.once('close', onClose);
    secure.write(`GET ${path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n`);
  });

export interface DownloadResult {
  bytes: number;
  seconds: number;
  /** Decimal megabytes per second (1 MB = 1,000,000 bytes). */
  mbPerSecond: number;
  /** True when the time box ended the download early. */
  cut: boolean;
}

/**
 * One large HTTPS download: stream (CONNECT) + TLS + `GET /bytes/N`. The clock runs from the GET
 * to the last byte. With `timeBoxMs` the download stops there and the rate is what arrived.
 */
export const download = async (route: Route, originPort: number, trust: OriginTrust, bytes: number, timeBoxMs = 600_000): Promise<DownloadResult> => {
  const secure = await originTls(await openStream(route, originPort), trust);
  const started = process.hrtime.bigint();
  const deadline = Date.now() + timeBoxMs;
  let cut = false;
  let checks = 0;
  const result = await fetchAndDiscard(secure, `/bytes/${bytes}`, timeBoxMs + 60_000, () => {
    // Look at the clock every 64 chunks only.
    if ((checks += 1) % 64 !== 0 || Date.now() < deadline) return true;
    cut = true;
    return false;
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 200) throw new Error(`GET /bytes/${bytes} answered ${result.status}`);
  if (!cut && result.bodyBytes !== bytes) throw new Error(`GET /bytes/${bytes} delivered ${result.bodyBytes} bytes`);
  return { bytes: result.bodyBytes, seconds, mbPerSecond: result.bodyBytes / 1e6 / seconds, cut };
};

/**
 * One new HTTPS request on a new connection: stream (TCP, CONNECT) + the application's TLS +
 * `GET /hello`, timed from the first connect to the last byte, in milliseconds.
 */
export const newRequestLatency = async (route: Route, originPort: number, trust: OriginTrust): Promise<number> => {
  const started = process.hrtime.bigint();
  const secure = await originTls(await openStream(route, originPort), trust);
  const result = await fetchAndDiscard(secure, '/hello', 30_000);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 200) throw new Error(`GET /hello answered ${result.status}`);
  return ms;
};

/** `samples` sequential new-connection requests (one at a time, like a page's first request). */
export const latencySamples = async (route: Route, originPort: number, trust: OriginTrust, samples: number): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < samples; i += 1) out.push(await newRequestLatency(route, originPort, trust));
  return out;
};

/**
 * Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; resolves with the
 * failures. After `deadline` (epoch ms) no new task starts.
 */
export const runConcurrently = async (count: number, concurrency: number, task: (i: number) => Promise<void>, deadline = Number.POSITIVE_INFINITY): Promise<Error[]> => {
  let next = 0;
  const errors: Error[] = [];
  const lane = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      const i = next;
      next += 1;
      try {
        await task(i);
      } catch (err) {
        errors.push(err as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return errors;
};

/**
 * A TCP server that accepts and holds: the far end of idle tunnels. It never writes, never
 * times out, and counts what it holds.
 */
export interface HoldServer {
  port: number;
  held: () => number;
  stop: () => Promise<void>;
}

export const startHoldServer = async (): Promise<HoldServer> => {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  server.maxConnections = 1_000_000;
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve((server.address() as AddressInfo).port));
  });
  return {
    port,
    held: () => sockets.size,
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
};

export interface IdleTunnels {
  opened: number;
  errors: Error[];
  seconds: number;
  close: () => Promise<void>;
}

/**
 * Opens `count` tunnels to 127.0.0.1:targetPort and keeps them open and silent. A proxy that
 * stalls (a stream limit) cannot hold the benchmark: no new open starts after `timeBoxMs`.
 */
export const openIdleTunnels = async (route: Route, targetPort: number, count: number, concurrency = 200, timeBoxMs = 120_000): Promise<IdleTunnels> => {
  const sockets: Socket[] = [];
  const started = Date.now();
  const errors = await runConcurrently(
    count,
    concurrency,
    async () => {
      const socket = await openStream(route, targetPort, 30_000);
      socket.on('error', () => undefined);
      sockets.push(socket);
    },
    started + timeBoxMs,
  );
  const seconds = (Date.now() - started) / 1000;
  return {
    opened: sockets.length,
    errors,
    seconds,
    close: async () => {
      await Promise.all(
        sockets.map(
          (socket) =>
            new Promise<void>((resolve) => {
              if (socket.destroyed) return resolve();
              socket.once('close', () => resolve());
              socket.destroy();
            }),
        ),
      );
    },
  };
};

/** Opens and closes `count` tunnels, `concurrency` at a time (each: CONNECT, 200, close). */
export const churnTunnels = async (route: Route, targetPort: number, count: number, concurrency = 256): Promise<{ errors: Error[]; seconds: number }> => {
  const started = Date.now();
  const errors = await runConcurrently(count, concurrency, async () => {
    const socket = await openStream(route, targetPort, 60_000);
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  });
  return { errors, seconds: (Date.now() - started) / 1000 };
};

export interface HandshakeLoad {
  port: number;
  servername: string;
  seconds: number;
  concurrency: number;
  /** Offer the last session ticket each time (resumed handshakes). */
  resume: boolean;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface HandshakeCount {
  handshakes: number;
  resumed: number;
  errors: number;
  seconds: number;
  firstError?: string;
}

/** New TLS sessions against a TLS server as fast as `concurrency` lanes can open them. */
export const handshakeLoad = async (load: HandshakeLoad): Promise<HandshakeCount> => {
  let session: Buffer | undefined;
  const count: HandshakeCount = { handshakes: 0, resumed: 0, errors: 0, seconds: 0 };
  const started = process.hrtime.bigint();
  const deadline = Date.now() + load.seconds * 1000;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: load.port,
        servername: load.servername,
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
        ...(load.maxVersion ? { maxVersion: load.maxVersion } : {}),
        ...(load.resume && session ? { session } : {}),
      });
      let settled = false;
      let secured = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        socket.destroy();
        resolve();
      };
      socket.once('secureConnect', () => {
        secured = true;
        count.handshakes += 1;
        if (socket.isSessionReused()) count.resumed += 1;
        if (load.resume && !session && socket.getProtocol() === 'TLSv1.2') session = socket.getSession();
        // The first TLS 1.3 connection waits for its ticket; every later one reuses that ticket
        // (stateless tickets are accepted again) and closes at once.
        if (!load.resume || session) done();
        else setTimeout(done, 500);
      });
      socket.on('session', (ticket: Buffer) => {
        session ??= ticket;
        if (secured) done();
      });
      socket.once('error', (err) => {
        count.errors += 1;
        count.firstError ??= err.message;
        done();
      });
    });
  await Promise.all(
    Array.from({ length: load.concurrency }, async () => {
      while (Date.now() < deadline) await one();
    }),
  );
  count.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return count;
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === 'handshake') {
  const load = JSON.parse(process.argv[3] ?? '{}') as HandshakeLoad;
  const result = await handshakeLoad(load);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
