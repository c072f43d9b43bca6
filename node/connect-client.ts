/**
 * One HTTP CONNECT client, for both CONNECTs the client sends: to the gateway (HTTP/1.1 tunnels
 * over TLS, what stunnel + Squid accept) and to a corporate proxy (the TCP leg to the gateway).
 * The reply is parsed by connect-reply.ts; this is the socket plumbing, with proxy-agents' hygiene:
 *
 *   - the reply is listened for before the request is written;
 *   - the authority's IPv6 literal is bracketed;
 *   - after a non-2xx reply the socket is destroyed, so no application byte ever follows it;
 *   - bytes after the reply head belong to the tunnel and are put back into the socket.
 *
 * (The TLS half of the hygiene, no SNI for IP literals and ALPN http/1.1 on the CONNECT leg, is
 * `connectTlsOptions`.)
 */
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { parseConnectReply } from './connect-reply.js';

/** `host:port`, IPv6 literals bracketed. */
export const authorityOf = ({ host, port }: { host: string; port: number }): string =>
  host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;

/** TLS options for a connection that will carry CONNECT: SNI only for names, ALPN http/1.1. */
export const connectTlsOptions = (serverName: string): Pick<ConnectionOptions, 'servername' | 'ALPNProtocols'> => ({
  ...(isIP(serverName.replace(/^\[|\]$/g, '')) === 0 ? { servername: serverName } : {}),
  ALPNProtocols: ['http/1.1'],
});

export interface ConnectRequest {
  /** host:port; an IPv6 literal is bracketed here if it is not already. */
  readonly target: { host: string; port: number };
  /** Extra request headers (Proxy-Authorization, ...). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export interface ConnectAnswer {
  readonly status: number;
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
}

export type ConnectFailureCode = 'CONNECT_REPLY_INVALID' | 'CONNECT_CLOSED' | 'CONNECT_TIMEOUT';

/** Why no reply came: not HTTP, the connection closed or failed, or the time ran out. */
export class ConnectFailure extends Error {
  constructor(
    readonly code: ConnectFailureCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConnectFailure';
  }
}

/** The request head, written once for both byte paths (this module's and the native one). */
export const connectRequestHead = (request: Pick<ConnectRequest, 'target' | 'headers'>): string => {
  const authority = authorityOf(request.target);
  let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  for (const [name, value] of Object.entries(request.headers ?? {})) head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
};

/**
 * Send `CONNECT target` on `socket` and resolve with the reply. On 2xx the socket is the tunnel
 * (paused, any early tunnel bytes put back); on any other status it is already destroyed and the
 * answer is only for the caller's error. Rejects with a ConnectFailure (the socket destroyed).
 */
export function sendConnect(socket: Duplex, request: ConnectRequest): Promise<ConnectAnswer> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (err: ConnectFailure): void => {
      finish();
      socket.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const reply = parseConnectReply(buffered);
      if (reply.kind === 'incomplete') return;
      if (reply.kind === 'invalid') return fail(new ConnectFailure('CONNECT_REPLY_INVALID', `The answer to CONNECT is not HTTP: ${reply.why}.`));
      finish();
      if (reply.status < 200 || reply.status > 299) {
        socket.destroy();
      } else {
        socket.pause();
        const rest = buffered.subarray(reply.headLength);
        if (rest.length > 0) socket.unshift(rest);
      }
      resolve({ status: reply.status, headers: reply.headers });
    };
    const onError = (err: Error): void => fail(new ConnectFailure('CONNECT_CLOSED', 'The connection failed before CONNECT was answered.', { cause: err }));
    const onClose = (): void => fail(new ConnectFailure('CONNECT_CLOSED', 'The connection closed before CONNECT was answered.'));
    const timer = setTimeout(() => fail(new ConnectFailure('CONNECT_TIMEOUT', 'CONNECT was not answered in time.')), request.timeoutMs);
    // Listen first, then write: a fast refusal must not be missed.
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(connectRequestHead(request));
  });
}
