/**
 * HTTP/2 tunnels: one warm TLS connection to the gateway carries every CONNECT stream
 * (RFC 9113 8.5). The sessions, their failover and the probes of the other endpoints are
 * h2-sessions.ts's; this file is the transport on top: a CONNECT stream per tunnel and the wait
 * for its answer, the CONNECT-UDP flows and the profile fetch as more streams on the same session.
 * A CONNECT that never reached a gateway (refused unprocessed, or left waiting on a session that
 * stopped answering) is sent once more, on a fresh session: only this file knows which were processed.
 */
import { EventEmitter } from 'node:events';
import { constants, sensitiveHeaders, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { PinholeError } from '../../shared/errors.js';
import type { GatewaysStatus } from '../../shared/gateway-status.js';
import type { Endpoint, Trust } from '../../shared/profile.js';
import { fetchProfileDocument, h2ProfileRequest, type ProfileFetchResult } from '../gateways/profile-fetch.js';
import { refusalError } from '../../node/refusal.js';
import { RelayTimeoutError } from '../../node/relay.js';
import { H2Sessions, type H2SessionsOptions } from './h2-sessions.js';
import { ReplayableStream } from './replayable-stream.js';
import type { DatagramChannel } from '../../shared/udp/datagram-channel.js';
import { openH2UdpFlow } from '../udp/h2-flow.js';
import { authorityOf, basicCredentials, type EarlyTunnel, type Transport, type TransportStats, type TunnelTarget } from './transport.js';

export type H2TransportOptions = H2SessionsOptions;
export { H2_SESSION_WINDOW, H2_STREAM_WINDOW } from './h2-sessions.js';

/** RFC 9113 8.7: a stream reset with REFUSED_STREAM was not processed by the gateway, so it can be sent again. */
const wasRefusedUnprocessed = (stream: ClientHttp2Stream): boolean => stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;

/**
 * A tunnel the relay ends for silence (its idle or half-close timeout) is not reset from here at
 * once. Every RST_STREAM the client sends counts against the gateway's nghttp2 limit (CVE-2023-44487:
 * beyond a burst of 1,000 at 33/s it answers GOAWAY(INTERNAL_ERROR) and every tunnel on the session
 * ends), and silent tunnels end in bursts: a churn of applications that FIN towards silent servers
 * reaches the client's half-close timeout at the rate it opened them. The gateway runs the same
 * timeouts on the same silence and ends the stream from its side, which costs nothing; so the
 * stream sends its END_STREAM and is reset only if it is still open one timeout later (a gateway
 * with a longer timeout, or none). The application's side is torn down at once, as before.
 */
const leaveSilentEndToGateway = (stream: ClientHttp2Stream): void => {
  const destroy = stream.destroy.bind(stream);
  stream.destroy = (err?: Error): ClientHttp2Stream => {
    if (!(err instanceof RelayTimeoutError) || stream.closed || stream.destroyed) return destroy(err);
    stream.destroy = destroy;
    if (!stream.writableEnded) stream.end();
    stream.resume();
    const reset = setTimeout(() => destroy(err), err.timeoutMs);
    reset.unref();
    stream.once('close', () => clearTimeout(reset));
    return stream;
  };
};

export class H2Transport extends EventEmitter implements Transport {
  readonly kind = 'h2' as const;
  private readonly sessions: H2Sessions;
  private readonly basic: string;
  private readonly streamSession = new WeakMap<ClientHttp2Stream, ClientHttp2Session>();

  constructor(private readonly options: H2TransportOptions) {
    super();
    this.basic = basicCredentials(options.user, options.password);
    this.sessions = new H2Sessions(options);
    this.sessions.on('up', () => this.emit('up'));
    this.sessions.on('lost', (err: PinholeError) => this.emit('lost', err));
    this.sessions.on('gateways', (status: GatewaysStatus) => this.emit('gateways', status));
  }

  /** Read for each tunnel: a signed-in user's credential changes when it is renewed. */
  private get credentials(): string {
    return this.options.authorization?.header() ?? this.basic;
  }

  stats(): TransportStats {
    return this.sessions.stats();
  }

  gateways(): GatewaysStatus {
    return this.sessions.gateways();
  }

  async warm(): Promise<void> {
    await this.sessions.current();
  }

  /** The profile GET as one more stream on the session in use (authenticated like the tunnels). */
  async fetchProfile(etag: string | undefined): Promise<ProfileFetchResult> {
    return fetchProfileDocument(h2ProfileRequest(await this.sessions.current(), this.credentials), this.options.user, etag);
  }

  setTrust(trust: Trust): void {
    this.options.trust = trust;
  }

  setEndpoints(endpoints: readonly Endpoint[]): void {
    this.sessions.setEndpoints(endpoints);
  }

  /** The network changed: the session is proved now, a dead one replaced (its waiting CONNECTs sent again there). */
  networkChanged(): Promise<void> {
    return this.sessions.networkChanged();
  }

  async open(target: TunnelTarget): Promise<Duplex> {
    // A stream refused unprocessed (it crossed a stopping gateway's GOAWAY), or one left waiting on
    // a session that stopped answering, is sent once more, on a fresh connection.
    for (let attempt = 0; ; attempt++) {
      const stream = await this.request(target);
      try {
        return await this.awaitResponse(stream, authorityOf(target));
      } catch (err) {
        if (attempt > 0 || !this.canResend(stream)) throw err;
      }
    }
  }

  async openEarly(target: TunnelTarget): Promise<EarlyTunnel> {
    const first = await this.request(target);
    const stream = new ReplayableStream(first);
    const answered = this.awaitResponse(first, authorityOf(target)).then(
      () => stream.settle(),
      async (err: unknown) => {
        // Refused unprocessed, or its gateway stopped answering: the same CONNECT and the bytes written so far, again on a fresh connection.
        if (!this.canResend(first) || !stream.canReplay || stream.destroyed) throw err;
        const next = await this.request(target);
        stream.replaceWith(next);
        await this.awaitResponse(next, authorityOf(target));
        stream.settle();
      },
    );
    // The caller may learn of a refusal through the stream closing first; the rejection is theirs.
    answered.catch(() => undefined);
    return { stream, answered };
  }

  /** UDP (issue 14): one CONNECT-UDP stream (RFC 9298) per flow, on the session the TCP tunnels use. */
  async openUdpFlow(target: TunnelTarget): Promise<DatagramChannel> {
    const session = await this.sessions.current();
    return openH2UdpFlow(session, target.host, target.port, {
      authority: this.options.serverName,
      authorization: this.credentials,
      ...(this.options.replyTimeoutMs === undefined ? {} : { timeoutMs: this.options.replyTimeoutMs }),
    });
  }

  close(): Promise<void> {
    return this.sessions.close();
  }

  private canResend(stream: ClientHttp2Stream): boolean {
    const session = this.streamSession.get(stream);
    return wasRefusedUnprocessed(stream) || (session !== undefined && this.sessions.isDead(session));
  }

  /** The CONNECT stream, its HEADERS on their way; DATA written to it follows them. */
  private async request(target: TunnelTarget): Promise<ClientHttp2Stream> {
    const headers = { ':method': 'CONNECT', ':authority': authorityOf(target), 'proxy-authorization': this.credentials, [sensitiveHeaders]: ['proxy-authorization'] };
    // A session can receive GOAWAY between lookup and request: then one fresh session is tried.
    for (let attempt = 0; ; attempt++) {
      const session = await this.sessions.current();
      try {
        const stream = session.request(headers, { endStream: false });
        this.streamSession.set(stream, session);
        leaveSilentEndToGateway(stream);
        return stream;
      } catch (err) {
        this.sessions.forget(session);
        if (attempt > 0) throw new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err });
      }
    }
  }

  private awaitResponse(stream: ClientHttp2Stream, authority: string): Promise<Duplex> {
    const session = this.streamSession.get(stream);
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err?: PinholeError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stopWaiting?.();
        if (err) {
          if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
          reject(err);
        }
      };
      const timer = setTimeout(
        () => settle(new PinholeError('PINHOLE_GATEWAY_TIMEOUT', 'The gateway did not answer CONNECT in time.', { details: { target: authority } })),
        this.options.replyTimeoutMs ?? 20_000,
      );
      // A session that stops answering cancels its waiting tunnels (they may be sent again elsewhere).
      const stopWaiting = session === undefined ? undefined : this.sessions.awaitAnswer(session, settle);
      stream.on('error', (err) => settle(new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err })));
      stream.once('close', () => settle(new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The gateway closed the stream before answering CONNECT.')));
      stream.once('response', (headers) => {
        if (session) this.sessions.answered(session);
        const status = Number(headers[':status']);
        if (status >= 200 && status <= 299) {
          settle();
          resolve(stream);
          return;
        }
        const code = headers['pinhole-error'];
        const reason = headers['pinhole-reason'];
        settle(refusalError(status, typeof code === 'string' ? code : undefined, this.options.user, authority, typeof reason === 'string' ? reason : undefined));
      });
    });
  }
}
