/**
 * One TLS connection to the gateway: TCP (directly or through a corporate proxy's CONNECT), then
 * TLS with the gateway's name as SNI and the profile's verification, trying each endpoint in
 * order. TLS sessions are remembered per endpoint so the next connection resumes instead of
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

const tlsOver = (socket: Socket, endpoint: Endpoint, options: GatewayDialOptions, alpn: string[], sessions: TlsSessionCache, timeoutMs: number): Promise<TLSSocket> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      tls.destroy();
      reject(timeoutError(endpoint, timeoutMs));
    }, timeoutMs);
    const key = `${formatEndpoint(endpoint)}|${alpn.join(',')}`;
    const tls = tlsConnect({
      socket,
      host: endpoint.host,
      ...tlsOptionsFor(options.trust, options.serverName),
      ALPNProtocols: alpn,
      minVersion: 'TLSv1.2',
      session: sessions.get(key),
    });
    // Only sessions from a verified handshake are kept: resuming one proves it is the same gateway.
    let verified = false;
    let pending: Buffer | undefined;
    tls.on('session', (session: Buffer) => {
      if (verified) sessions.set(key, session);
      else pending = session;
    });
    tls.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(gatewayError(err, 'tls'));
    });
    tls.once('secureConnect', () => {
      clearTimeout(timer);
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

/** Dials the gateway; tries every endpoint; rejects with the first endpoint's error code. */
export const dialGateway = async (options: GatewayDialOptions, alpn: string[], sessions: TlsSessionCache): Promise<TLSSocket> => {
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  let firstError: PinholeError | undefined;
  for (const endpoint of options.endpoints) {
    try {
      // One budget for TCP (or the corporate proxy's CONNECT) and the TLS handshake together.
      const deadline = Date.now() + timeoutMs;
      const left = (): number => Math.max(1, deadline - Date.now());
      const raw = options.upstreamProxy ? await throughUpstream(options.upstreamProxy, endpoint, timeoutMs, left) : await tcpTo(endpoint, timeoutMs);
      return await tlsOver(raw, endpoint, options, alpn, sessions, left());
    } catch (err) {
      const error = gatewayError(err);
      // A certificate problem is the same on every endpoint: stop here.
      if (error.code === 'PINHOLE_TLS_PIN_MISMATCH' || error.code === 'PINHOLE_TLS_UNTRUSTED') throw error;
      firstError ??=
        error.code === 'PINHOLE_GATEWAY_UNREACHABLE' || error.code === 'PINHOLE_GATEWAY_TIMEOUT'
          ? new PinholeError(error.code, `${error.message.replace(/\.$/, '')} at ${formatEndpoint(endpoint)}${error.details?.['errno'] ? ` (${String(error.details['errno'])})` : ''}.`, { cause: error, details: { ...error.details, endpoint: formatEndpoint(endpoint) } })
          : error;
      options.logger.debug({ endpoint: formatEndpoint(endpoint), code: error.code }, 'A gateway endpoint could not be reached.');
    }
  }
  throw firstError ?? new PinholeError('PINHOLE_GATEWAY_UNREACHABLE');
};
