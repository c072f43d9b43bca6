/**
 * One TLS connection to the gateway: TCP (directly or through a corporate proxy's CONNECT), then
 * TLS with the gateway's name as SNI and the profile's verification, trying each endpoint in
 * order. TLS sessions are remembered per endpoint so the next connection resumes instead of
 * paying a full handshake.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { PinholeError } from '../../shared/errors.js';
import { formatEndpoint, type Endpoint } from '../../shared/profile.js';
import { upstreamAuthError } from '../upstream/proxy-auth.js';
import { parseConnectReply } from '../../node/connect-reply.js';
import { authorityOf, basicCredentials, type GatewayDialOptions, type UpstreamProxy } from './transport.js';
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

const withTimeout = <T>(promise: Promise<T>, ms: number, onTimeout: () => PinholeError, cleanup: () => void): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(onTimeout());
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });

const tcpTo = (endpoint: Endpoint): Promise<Socket> =>
  new Promise((resolve, reject) => {
    // No Nagle: a CONNECT and the application's first bytes go out as two writes, and the second
    // must not wait for the gateway's delayed ACK of the first.
    const socket = netConnect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => reject(gatewayError(err, 'tcp')));
  });

/** CONNECT to the gateway through a corporate HTTP proxy; resolves with the raw tunnel socket. */
const throughUpstream = (proxy: UpstreamProxy, endpoint: Endpoint): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket = netConnect({ host: proxy.host, port: proxy.port, noDelay: true });
    const fail = (err: PinholeError): void => {
      socket.destroy();
      reject(err);
    };
    let buffered: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const reply = parseConnectReply(buffered);
      if (reply.kind === 'incomplete') return;
      socket.removeListener('data', onData);
      if (reply.kind === 'invalid') return fail(new PinholeError('PINHOLE_UPSTREAM_PROXY_FAILED', `The corporate proxy answered something that is not HTTP: ${reply.why}.`));
      // 407: no credentials, wrong ones, or a scheme other than Basic; each says so in words.
      if (reply.status === 407) return fail(upstreamAuthError({ proxy, user: proxy.user, headers: reply.headers }));
      if (reply.status < 200 || reply.status > 299) {
        return fail(new PinholeError('PINHOLE_UPSTREAM_PROXY_FAILED', `The corporate proxy refused to connect to the gateway (HTTP ${reply.status}).`, { details: { status: reply.status } }));
      }
      // The proxy must not speak before our TLS ClientHello; anything it did send is handed back.
      const rest = buffered.subarray(reply.headLength);
      if (rest.length > 0) socket.unshift(rest);
      socket.removeAllListeners('error');
      resolve(socket);
    };
    socket.once('error', (err) => fail(new PinholeError('PINHOLE_UPSTREAM_PROXY_FAILED', 'The corporate proxy could not be reached.', { cause: err })));
    socket.once('connect', () => {
      socket.on('data', onData);
      const target = authorityOf(endpoint);
      const auth = proxy.user !== undefined ? `Proxy-Authorization: ${basicCredentials(proxy.user, proxy.password ?? '')}\r\n` : '';
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    });
  });

const tlsOver = (socket: Socket, endpoint: Endpoint, options: GatewayDialOptions, alpn: string[], sessions: TlsSessionCache): Promise<TLSSocket> =>
  new Promise((resolve, reject) => {
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
      socket.destroy();
      reject(gatewayError(err, 'tls'));
    });
    tls.once('secureConnect', () => {
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
    let raw: Socket | undefined;
    try {
      const attempt = (async (): Promise<TLSSocket> => {
        raw = options.upstreamProxy ? await throughUpstream(options.upstreamProxy, endpoint) : await tcpTo(endpoint);
        return tlsOver(raw, endpoint, options, alpn, sessions);
      })();
      return await withTimeout(
        attempt,
        timeoutMs,
        () => new PinholeError('PINHOLE_GATEWAY_TIMEOUT', undefined, { details: { endpoint: formatEndpoint(endpoint), timeoutMs } }),
        () => {
          raw?.destroy();
          attempt.then((s) => s.destroy(), () => undefined);
        },
      );
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
