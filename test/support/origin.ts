/**
 * The destination every test and benchmark talks to: one HTTP and one HTTPS server on 127.0.0.1
 * (self-signed certificate), with endpoints whose answers can be checked end to end:
 *   GET  /hello      -> "hello from the origin\n"
 *   GET  /bytes/N    -> N deterministic pseudo-random bytes, `x-sha256` header = their SHA-256
 *   POST /upload     -> JSON { bytes, sha256 } of the request body
 *   ANY  /echo       -> JSON { method, url, headers, bytes, body } (body as UTF-8)
 * Run as a program (`node --import tsx test/support/origin.ts`) it prints one JSON line
 * `{"msg":"The origin is listening.","http":PORT,"https":PORT,"cert":PATH}` and serves until SIGTERM.
 */
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { rm } from 'node:fs/promises';
import { makeSelfSignedCertificate, type TestCertificate } from './certs.js';
import { Program, repoRoot } from './processes.js';

/** A block length that is prime, so chunk boundaries never line up with the repeating pattern. */
const BLOCK_LENGTH = 1_048_573;

const makeBlock = (): Buffer => {
  const block = Buffer.allocUnsafe(BLOCK_LENGTH + 32);
  for (let offset = 0, counter = 0; offset < BLOCK_LENGTH; offset += 32, counter += 1) {
    createHash('sha256').update(`pinhole-origin-${counter}`).digest().copy(block, offset);
  }
  return block.subarray(0, BLOCK_LENGTH);
};

let sharedBlock: Buffer | undefined;
const block = (): Buffer => (sharedBlock ??= makeBlock());

/** Calls `each` with consecutive slices (views, no copies) that make up the first `length` deterministic bytes. */
export const forEachDeterministicSlice = (length: number, each: (slice: Buffer) => void, sliceLength = 256 * 1024): void => {
  const source = block();
  let sent = 0;
  while (sent < length) {
    const offset = sent % BLOCK_LENGTH;
    const size = Math.min(sliceLength, length - sent, BLOCK_LENGTH - offset);
    each(source.subarray(offset, offset + size));
    sent += size;
  }
};

const hashCache = new Map<number, string>();

/** SHA-256 (hex) of the first `length` deterministic bytes served by /bytes/N. */
export const deterministicSha256 = (length: number): string => {
  const cached = hashCache.get(length);
  if (cached) return cached;
  const hash = createHash('sha256');
  forEachDeterministicSlice(length, (slice) => hash.update(slice), BLOCK_LENGTH);
  const digest = hash.digest('hex');
  hashCache.set(length, digest);
  return digest;
};

/** The first `length` deterministic bytes as one buffer (for uploads in tests). */
export const deterministicBytes = (length: number): Buffer => {
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  forEachDeterministicSlice(length, (slice) => {
    slice.copy(out, at);
    at += slice.length;
  }, BLOCK_LENGTH);
  return out;
};

export const MAX_BYTES = 8 * 1024 * 1024 * 1024;

const sendBytes = (res: ServerResponse, length: number): void => {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(length),
    'x-sha256': deterministicSha256(length),
  });
  const source = block();
  let sent = 0;
  const pump = (): void => {
    while (sent < length) {
      const offset = sent % BLOCK_LENGTH;
      const size = Math.min(256 * 1024, length - sent, BLOCK_LENGTH - offset);
      sent += size;
      if (!res.write(source.subarray(offset, offset + size))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
};

const handle = (req: IncomingMessage, res: ServerResponse): void => {
  const url = new URL(req.url ?? '/', 'http://origin.invalid');
  const bytesMatch = /^\/bytes\/(\d+)$/.exec(url.pathname);
  if (req.method === 'GET' && url.pathname === '/hello') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello from the origin\n');
    return;
  }
  if (bytesMatch?.[1] && (req.method === 'GET' || req.method === 'HEAD')) {
    const length = Number(bytesMatch[1]);
    if (!Number.isSafeInteger(length) || length > MAX_BYTES) {
      res.writeHead(400).end('too many bytes\n');
      return;
    }
    req.resume();
    sendBytes(res, length);
    return;
  }
  if (url.pathname === '/upload' || url.pathname === '/echo') {
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      if (url.pathname === '/echo' && bytes <= 1024 * 1024) kept.push(chunk);
    });
    req.on('end', () => {
      const answer =
        url.pathname === '/upload'
          ? { bytes, sha256: hash.digest('hex') }
          : { method: req.method, url: req.url, headers: req.headers, bytes, body: Buffer.concat(kept).toString('utf8') };
      const text = JSON.stringify(answer);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
    });
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
};

export interface Origin {
  httpPort: number;
  httpsPort: number;
  /** The HTTPS server's certificate (self-signed for `localhost` and 127.0.0.1). */
  certificate: TestCertificate;
  /** How many TCP connections each server accepted so far. */
  connections: { http: number; https: number };
  stop: () => Promise<void>;
}

const listen = (server: Server, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

const closeServer = (server: Server, sockets: Set<Socket>): Promise<void> =>
  new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  });

export interface OriginOptions {
  httpPort?: number;
  httpsPort?: number;
  certificate?: TestCertificate;
}

/** Starts the origin inside this process. */
export const startOrigin = async (options: OriginOptions = {}): Promise<Origin> => {
  const certificate = options.certificate ?? (await makeSelfSignedCertificate({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] }));
  const http = createHttpServer({ keepAliveTimeout: 5_000 }, handle);
  const https = createHttpsServer({ cert: certificate.cert, key: certificate.key, keepAliveTimeout: 5_000 }, handle);
  const connections = { http: 0, https: 0 };
  const sockets = new Set<Socket>();
  const track = (which: 'http' | 'https') => (socket: Socket): void => {
    connections[which] += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  http.on('connection', track('http'));
  https.on('connection', track('https'));
  // The secure server's 'connection' is the raw TCP socket as well.
  const [httpPort, httpsPort] = await Promise.all([listen(http, options.httpPort ?? 0), listen(https, options.httpsPort ?? 0)]);
  block();
  let stopped: Promise<void> | undefined;
  return {
    httpPort,
    httpsPort,
    certificate,
    connections,
    stop: () =>
      (stopped ??= Promise.all([closeServer(http, sockets), closeServer(https, sockets)]).then(async () => {
        if (!options.certificate) await rm(certificate.dir, { recursive: true, force: true });
      })),
  };
};

export interface OriginProcess {
  httpPort: number;
  httpsPort: number;
  certPath: string;
  program: Program;
  stop: () => Promise<void>;
}

/** Starts the origin as its own process (for measurements that must not share an event loop). */
export const startOriginProcess = async (): Promise<OriginProcess> => {
  const program = new Program(process.execPath, {
    name: 'origin',
    args: ['--import', 'tsx', fileURLToPath(import.meta.url)],
    cwd: repoRoot,
  });
  const record = await program.waitForLog((r) => r.msg === 'The origin is listening.', 20_000, 'its listening line');
  const httpsPort = Number(record['https']);
  let stopped: Promise<void> | undefined;
  return {
    httpPort: Number(record['http']),
    httpsPort,
    certPath: String(record['cert']),
    program,
    stop: () => (stopped ??= program.stop().then(() => undefined)),
  };
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const origin = await startOrigin();
  process.stdout.write(`${JSON.stringify({ msg: 'The origin is listening.', http: origin.httpPort, https: origin.httpsPort, cert: origin.certificate.certPath })}\n`);
  const quit = (): void => {
    void origin.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', quit);
  process.once('SIGINT', quit);
}
