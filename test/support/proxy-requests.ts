/**
 * What an application does with an HTTP proxy, written with Node's own http/https/tls so tests and
 * the benchmark's load generator need no curl process per request:
 * - `openTunnel`: a raw `CONNECT host:port` on a fresh TCP (or TLS) connection, returning the
 *   proxy's status, headers and body when it refuses, or the open socket when it agrees;
 * - `requestThroughProxy`: one HTTP request to an http:// URL (absolute URI) or an https:// URL
 *   (CONNECT, then TLS to the origin inside the tunnel), each on a fresh connection.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export interface ProxyAddress {
  host?: string;
  port: number;
  /** Speak TLS to the proxy itself (the Pinhole gateway, stunnel server). */
  tls?: ConnectionOptions;
  /** Sent as `Proxy-Authorization: Basic ...`. */
  auth?: { user: string; password: string };
}

export interface ProxyReply {
  status: number;
  reason: string;
  headers: Record<string, string>;
  /** Body of a refusal (read up to Content-Length or the connection's end). */
  body: Buffer;
}

export interface OpenTunnel extends ProxyReply {
  socket: Socket;
  /** Bytes that arrived after the reply head (the start of the tunnel's data). */
  head: Buffer;
}

export const basicAuth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Opens a TCP (or TLS) connection to the proxy. */
export const connectToProxy = (proxy: ProxyAddress): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const host = proxy.host ?? '127.0.0.1';
    const socket: Socket = proxy.tls
      ? tlsConnect({ host, port: proxy.port, ...proxy.tls }, () => resolve(socket))
      : netConnect({ host, port: proxy.port }, () => resolve(socket));
    socket.once('error', reject);
  });

interface ParsedHead {
  status: number;
  reason: string;
  headers: Record<string, string>;
  rest: Buffer;
}

const parseHead = (buffer: Buffer): ParsedHead | undefined => {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/\d\.\d (\d{3}) ?(.*)$/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), reason: match[2] ?? '', headers, rest: buffer.subarray(end + 4) };
};

/**
 * Writes `head` (raw request bytes) on `socket` and reads one response. For a 2xx reply to a
 * CONNECT the body is not read (the tunnel starts); otherwise the body is read to its length or EOF.
 */
export const readReply = (socket: Socket, timeoutMs: number, isConnect: boolean): Promise<ProxyReply & { head: Buffer }> =>
  new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    let parsed: ParsedHead | undefined;
    const timer = setTimeout(() => finish(new Error(`no complete reply within ${timeoutMs} ms (got ${JSON.stringify(buffer.toString('latin1').slice(0, 200))})`)), timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    const finish = (err?: Error): void => {
      cleanup();
      if (err) {
        reject(err);
        return;
      }
      if (!parsed) return;
      const length = parsed.headers['content-length'];
      const body = length !== undefined ? parsed.rest.subarray(0, Number(length)) : parsed.rest;
      resolve({ status: parsed.status, reason: parsed.reason, headers: parsed.headers, body, head: isConnect && parsed.status < 300 ? parsed.rest : Buffer.alloc(0) });
    };
    const complete = (): boolean => {
      if (!parsed) return false;
      if (isConnect && parsed.status >= 200 && parsed.status < 300) return true;
      const length = parsed.headers['content-length'];
      return length !== undefined && parsed.rest.length >= Number(length);
    };
    const onData = (chunk: Buffer): void => {
      if (parsed) parsed.rest = Buffer.concat([parsed.rest, chunk]);
      else {
        buffer = Buffer.concat([buffer, chunk]);
        try {
          parsed = parseHead(buffer);
        } catch (err) {
          finish(err as Error);
          return;
        }
      }
      if (complete()) finish();
    };
    const onEnd = (): void => {
      if (parsed) finish();
      else finish(new Error(`the proxy closed the connection without a reply (got ${JSON.stringify(buffer.toString('latin1').slice(0, 200))})`));
    };
    const onError = (err: Error): void => (parsed ? finish() : finish(err));
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
  });

export interface TunnelRequest {
  proxy: ProxyAddress;
  /** `host:port` to CONNECT to. */
  target: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** CONNECT through the proxy on a fresh connection. On a non-2xx reply the socket is destroyed. */
export const openTunnel = async ({ proxy, target, headers = {}, timeoutMs = 15_000 }: TunnelRequest): Promise<OpenTunnel> => {
  const socket = await connectToProxy(proxy);
  const all: Record<string, string> = { host: target, ...headers };
  if (proxy.auth) all['proxy-authorization'] = basicAuth(proxy.auth.user, proxy.auth.password);
  const replyPromise = readReply(socket, timeoutMs, true);
  socket.write(`CONNECT ${target} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  try {
    const reply = await replyPromise;
    if (reply.status < 200 || reply.status >= 300) socket.destroy();
    else if (reply.head.length > 0) socket.unshift(reply.head);
    return { ...reply, socket };
  } catch (err) {
    socket.destroy();
    throw err;
  }
};

/** Sends raw bytes to a proxy on a fresh connection and reads one reply (for malformed-input stories). */
export const sendRaw = async (proxy: ProxyAddress, bytes: string | Buffer, timeoutMs = 15_000): Promise<ProxyReply> => {
  const socket = await connectToProxy(proxy);
  socket.on('error', () => undefined);
  const replyPromise = readReply(socket, timeoutMs, false);
  socket.write(bytes);
  try {
    return await replyPromise;
  } finally {
    socket.destroy();
  }
};

export interface ProxiedRequest {
  proxy: ProxyAddress;
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Trust for the origin's certificate inside the tunnel (the test origin is self-signed). */
  ca?: string;
  /** 'buffer' keeps the body; 'hash' only hashes and counts it (for big downloads). */
  sink?: 'buffer' | 'hash';
  timeoutMs?: number;
}

export interface ProxiedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  bytes: number;
  sha256: string;
  /** When the CONNECT itself was refused, its reply (status/headers/body are copied above). */
  refusal?: ProxyReply;
}

const collect = (res: IncomingMessage, sink: 'buffer' | 'hash'): Promise<ProxiedResponse> =>
  new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      if (sink === 'buffer') chunks.push(chunk);
    });
    res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), bytes, sha256: hash.digest('hex') }));
    res.once('error', reject);
    res.once('aborted', () => reject(new Error(`the response was cut off after ${bytes} bytes`)));
  });

/** One request on a fresh connection through the proxy: absolute URI for http://, CONNECT + TLS for https://. */
export const requestThroughProxy = async (options: ProxiedRequest): Promise<ProxiedResponse> => {
  const url = new URL(options.url);
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const sink = options.sink ?? 'buffer';
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (body) headers['content-length'] = String(body.length);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const hostHeader = url.host;
  // With `createConnection` and no `agent`, Node uses exactly the given socket (agent: false would not).
  const send = (start: () => ReturnType<typeof httpRequest>): Promise<ProxiedResponse> =>
    new Promise((resolve, reject) => {
      const req = start();
      const timer = setTimeout(() => req.destroy(new Error(`no complete response within ${timeoutMs} ms`)), timeoutMs);
      req.once('response', (res) => {
        collect(res, sink)
          .then(resolve, reject)
          .finally(() => {
            clearTimeout(timer);
            // Done with this connection, like curl exiting: close it rather than wait for the origin.
            res.socket?.destroy();
          });
      });
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(body);
    });
  if (url.protocol === 'http:') {
    if (options.proxy.auth) headers['proxy-authorization'] = basicAuth(options.proxy.auth.user, options.proxy.auth.password);
    if (options.proxy.tls) {
      const socket = await connectToProxy(options.proxy);
      return send(() => httpRequest({ createConnection: () => socket, method, path: url.href, headers: { host: hostHeader, ...headers } }));
    }
    return send(() =>
      httpRequest({ host: options.proxy.host ?? '127.0.0.1', port: options.proxy.port, method, path: url.href, headers: { host: hostHeader, ...headers }, agent: false }),
    );
  }
  const tunnel = await openTunnel({ proxy: options.proxy, target: `${url.hostname}:${port}`, timeoutMs });
  if (tunnel.status < 200 || tunnel.status >= 300) {
    return {
      status: tunnel.status,
      headers: tunnel.headers,
      body: tunnel.body,
      bytes: tunnel.body.length,
      sha256: createHash('sha256').update(tunnel.body).digest('hex'),
      refusal: tunnel,
    };
  }
  const isIp = /^[\d.]+$/.test(url.hostname) || url.hostname.includes(':');
  const secure = tlsConnect({
    socket: tunnel.socket,
    host: url.hostname,
    ...(isIp ? {} : { servername: url.hostname }),
    ...(options.ca ? { ca: options.ca } : { rejectUnauthorized: false }),
    ALPNProtocols: ['http/1.1'],
  });
  secure.once('close', () => tunnel.socket.destroy());
  secure.on('error', () => tunnel.socket.destroy());
  return send(() => httpsRequest({ createConnection: () => secure, method, path: `${url.pathname}${url.search}`, headers: { host: hostHeader, ...headers } }));
};
