/**
 * One TLS connection to the gateway: TCP (directly or through a corporate proxy's CONNECT), then
 * TLS with the gateway's name as SNI and the profile's verification, racing the endpoints (the
 * preferred one first, the next after a stagger). TLS sessions are remembered per endpoint so the next connection resumes instead of
 * paying a full handshake.
 */
import type { Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { PinholeError } from '../../shared/errors.js';
import { formatEndpoint, type Endpoint } from '../../shared/profile.js';
import { upstreamAuthError } from '../upstream/proxy-auth.js';
import { sendConnect, type ConnectFailure } from '../../node/connect-client.js';
import { dial, errorCode } from '../../node/dial.js';
import { basicCredentials, type GatewayDialOptions, type UpstreamProxy } from './transport.js';
import { gatewayError, tlsOptionsFor, verifyPeer } from './verify.js';
import { raceDial, type RaceWinner } from '../gateways/race.js';

export class TlsSessionCache {
  private readonly sessions = new Map<string, Buffer>();
  get(key: string): Buffer | undefined {
    return this.sessions.get(key);
  }
  set(key: string, session: Buffer): void {
    this.sessions.set(key, session);
  }
}

const tcpTo = (endpoint: Endpoint, timeoutMs: number): Promise<Socket> =>
  // No Nagle: a CONNECT and the application's first bytes go out as two writes, and the second
  // must not wait for the gateway's delayed ACK of the first.
  dial({ host: endpoint.host, port: endpoint.port, timeoutMs }).catch((err: unknown) => {
    throw errorCode(err) === 'ETIMEDOUT' ? timeoutError(endpoint, timeoutMs) : gatewayError(err, 'tcp');
  });

const timeoutError = (endpoint: Endpoint, timeoutMs: number): PinholeError =>
  new PinholeError('PINHOLE_GATEWAY_TIMEOUT', undefined, { details: { endpoint: formatEndpoint(endpoint), timeoutMs } });

/** CONNECT to the gateway through a corporate HTTP proxy; resolves with the raw tunnel socket. */
const throughUpstream = async (proxy: UpstreamProxy, endpoint: Endpoint, timeoutMs: number, left: () => number): Promise<Socket> => {
  let socket: Socket;
  try {
    socket = await dial({ host: proxy.host, port: proxy.port, timeoutMs: left() });
  } catch (err) {
    throw new PinholeError('PINHOLE_UPSTREAM_PROXY_FAILED', 'The corporate proxy could not be reached.', { cause: err });
  }
  const headers: Record<string, string> = proxy.user !== undefined ? { 'Proxy-Authorization': basicCredentials(proxy.user, proxy.password ?? '') } : {};
  let answer;
  try {
    answer = await sendConnect(socket, { target: endpoint, headers, timeoutMs: left() });
  } catch (err) {
    const failure = err as ConnectFailure;
    if (failure.code === 'CONNECT_TIMEOUT') throw timeoutError(endpoint, timeoutMs);
    throw new PinholeError(
      'PINHOLE_UPSTREAM_PROXY_FAILED',
      failure.code === 'CONNECT_REPLY_INVALID' ? `The corporate proxy answered something that is not HTTP: ${failure.message}` : 'The corporate proxy closed the connection.',
      { cause: err },
    );
  }
  // 407: no credentials, wrong ones, or a scheme other than Basic; each says so in words.
  if (answer.status === 407) throw upstreamAuthError({ proxy, user: proxy.user, headers: answer.headers });
  if (answer.status < 200 || answer.status > 299) {
    throw new PinholeError('PINHOLE_UPSTREAM_PROXY_FAILED', `The corporate proxy refused to connect to the gateway (HTTP ${answer.status}).`, { details: { status: answer.status } });
  }
  // The proxy must not speak before our TLS ClientHello; anything it did send was put back.
  return socket;
};

const tlsOver = (socket: Socket, endpoint: Endpoint, options: GatewayDialOptions, alpn: string[], sessions: TlsSessionCache, timeoutMs: number, signal?: AbortSignal): Promise<TLSSocket> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      tls.destroy();
      reject(timeoutError(endpoint, timeoutMs));
    }, timeoutMs);
    // The racing dial lost interest (another endpoint verified first, or its own budget ran out).
    const onAbort = (): void => {
      clearTimeout(timer);
      tls.destroy();
      socket.destroy();
      reject(gatewayError(signal?.reason));
    };
    const key = `${formatEndpoint(endpoint)}|${alpn.join(',')}`;
    const tls = tlsConnect({
      socket,
      host: endpoint.host,
      ...tlsOptionsFor(options.trust, options.serverName),
      ALPNProtocols: alpn,
      minVersion: 'TLSv1.2',
      session: sessions.get(key),
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    // Only sessions from a verified handshake are kept: resuming one proves it is the same gateway.
    let verified = false;
    let pending: Buffer | undefined;
    tls.on('session', (session: Buffer) => {
      if (verified) sessions.set(key, session);
      else pending = session;
    });
    tls.once('error', (err) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(gatewayError(err, 'tls'));
    });
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      try {
        verifyPeer(tls, options.trust);
      } catch (err) {
        tls.destroy();
        reject(err as PinholeError);
        return;
      }
      verified = true;
      if (pending) sessions.set(key, pending);
      tls.removeAllListeners('error');
      resolve(tls);
    });
  });

/**
 * TCP to one endpoint (directly or through the corporate proxy's CONNECT), paused, for a TLS
 * session that is not Node's (the native byte path's handshake runs on its own copy of the descriptor).
 */
export const rawConnection = async (endpoint: Endpoint, options: GatewayDialOptions): Promise<Socket> => {
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const left = (): number => Math.max(1, deadline - Date.now());
  try {
    const raw = options.upstreamProxy ? await throughUpstream(options.upstreamProxy, endpoint, timeoutMs, left) : await tcpTo(endpoint, timeoutMs);
    raw.pause();
    return raw;
  } catch (err) {
    throw namingEndpoint(gatewayError(err, 'tcp'), endpoint);
  }
};

/** An unreachable or silent endpoint's error, naming the endpoint (and the system's errno). */
const namingEndpoint = (error: PinholeError, endpoint: Endpoint): PinholeError =>
  error.code === 'PINHOLE_GATEWAY_UNREACHABLE' || error.code === 'PINHOLE_GATEWAY_TIMEOUT'
    ? new PinholeError(error.code, `${error.message.replace(/\.$/, '')} at ${formatEndpoint(endpoint)}${error.details?.['errno'] ? ` (${String(error.details['errno'])})` : ''}.`, { cause: error, details: { ...error.details, endpoint: formatEndpoint(endpoint) } })
    : error;

/** TCP (or the corporate proxy's CONNECT) and the verified TLS handshake to one endpoint, in one budget; gives up when `signal` aborts. */
export const dialOneEndpoint = async (endpoint: Endpoint, options: GatewayDialOptions, alpn: string[], sessions: TlsSessionCache, signal?: AbortSignal): Promise<TLSSocket> => {
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const left = (): number => Math.max(1, deadline - Date.now());
  try {
    const raw = options.upstreamProxy ? await throughUpstream(options.upstreamProxy, endpoint, timeoutMs, left) : await tcpTo(endpoint, timeoutMs);
    if (signal?.aborted) {
      raw.destroy();
      throw gatewayError(signal.reason);
    }
    return await tlsOver(raw, endpoint, options, alpn, sessions, left(), signal);
  } catch (err) {
    const error = namingEndpoint(gatewayError(err), endpoint);
    if (!signal?.aborted) options.logger.debug({ endpoint: formatEndpoint(endpoint), code: error.code }, 'A gateway endpoint could not be reached.');
    throw error;
  }
};

/**
 * Dials the gateway over every endpoint with the racing dial (main/gateways/race.ts): the first
 * endpoint gets `staggerMs` (250 ms) of head start per endpoint, the first verified handshake wins.
 * One endpoint's failure rejects with its own error; several with one error naming each.
 */
export const raceGateway = async (endpoints: readonly Endpoint[], options: GatewayDialOptions, alpn: string[], sessions: TlsSessionCache): Promise<RaceWinner<TLSSocket>> => {
  const errors: PinholeError[] = [];
  try {
    return await raceDial(
      endpoints,
      (endpoint, signal) =>
        dialOneEndpoint(endpoint, options, alpn, sessions, signal).catch((err: unknown) => {
          if (!signal.aborted) errors.push(err as PinholeError);
          throw err;
        }),
      { attemptTimeoutMs: options.connectTimeoutMs ?? 10_000, ...(options.staggerMs === undefined ? {} : { staggerMs: options.staggerMs }) },
    );
  } catch (err) {
    if (endpoints.length === 1 && errors.length === 1) throw errors[0] as PinholeError;
    throw gatewayError(err);
  }
};

/** Dials the gateway (racing its endpoints) and resolves with the winning connection. */
export const dialGateway = async (options: GatewayDialOptions, alpn: string[], sessions: TlsSessionCache): Promise<TLSSocket> =>
  (await raceGateway(options.endpoints, options, alpn, sessions)).connection;
