/**
 * openUdpFlow over HTTP/2: one CONNECT-UDP request (RFC 9298: extended CONNECT, `:protocol
 * connect-udp`, the target in the MASQUE path) per flow on the session the TCP tunnels already
 * use; datagrams travel as DATAGRAM capsules (RFC 9297) in the stream's DATA. The gateway must
 * have announced SETTINGS_ENABLE_CONNECT_PROTOCOL.
 */
import { constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { PinholeError, codeForStatus, isErrorCode } from '../../shared/errors.js';
import { CapsuleReader, encodeDatagramCapsule } from '../../shared/udp/capsule.js';
import { CONNECT_UDP_PROTOCOL, formatConnectUdpPath } from '../../shared/udp/connect-udp-path.js';
import { DatagramChannelBase } from '../../shared/udp/datagram-channel.js';
import { ERROR_HEADER } from '../../shared/ws-tunnel.js';

export interface H2UdpFlowOptions {
  /** :authority of the gateway. */
  readonly authority: string;
  /** Proxy-Authorization value (Basic ...). */
  readonly authorization?: string;
  /** Datagrams are dropped while more than this many bytes wait to be written (default 256 KiB). */
  readonly maxBufferedBytes?: number;
  readonly timeoutMs?: number;
}

class H2DatagramChannel extends DatagramChannelBase {
  constructor(
    private readonly stream: ClientHttp2Stream,
    private readonly maxBuffered: number,
  ) {
    super();
    const reader = new CapsuleReader((payload) => this.deliver(payload));
    stream.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        this.end(err as Error);
      }
    });
    stream.on('end', () => this.end(undefined));
    stream.on('close', () => this.end(undefined));
    stream.on('error', (err) => this.end(err));
  }

  send(payload: Uint8Array): boolean {
    if (this.closed || this.stream.writableLength > this.maxBuffered) return false;
    this.stream.write(encodeDatagramCapsule(payload));
    return true;
  }

  protected release(error: Error | undefined): void {
    if (!this.stream.destroyed) this.stream.close(error ? constants.NGHTTP2_CANCEL : constants.NGHTTP2_NO_ERROR);
  }
}

const refusal = (headers: IncomingHttpHeaders, status: number): PinholeError => {
  const named = headers[ERROR_HEADER.toLowerCase()];
  const code = typeof named === 'string' && isErrorCode(named) ? named : codeForStatus(status);
  return new PinholeError(code, undefined, { details: { status } });
};

export function openH2UdpFlow(session: ClientHttp2Session, host: string, port: number, options: H2UdpFlowOptions): Promise<H2DatagramChannel> {
  const headers: Record<string, string> = {
    ':method': 'CONNECT',
    ':protocol': CONNECT_UDP_PROTOCOL,
    ':scheme': 'https',
    ':authority': options.authority,
    ':path': formatConnectUdpPath({ host, port }),
    'capsule-protocol': '?1',
  };
  if (options.authorization !== undefined) headers['proxy-authorization'] = options.authorization;
  return new Promise((resolve, reject) => {
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: false });
    } catch (err) {
      reject(new PinholeError('PINHOLE_GATEWAY_CLOSED', 'The gateway does not accept CONNECT-UDP (extended CONNECT is off) or the session is closed.', { cause: err }));
      return;
    }
    const timer = setTimeout(() => {
      stream.close(constants.NGHTTP2_CANCEL);
      reject(new PinholeError('PINHOLE_GATEWAY_TIMEOUT'));
    }, options.timeoutMs ?? 10_000);
    stream.once('error', (err) => {
      clearTimeout(timer);
      reject(new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err }));
    });
    stream.once('close', () => {
      clearTimeout(timer);
      reject(new PinholeError('PINHOLE_GATEWAY_CLOSED'));
    });
    stream.once('response', (response) => {
      clearTimeout(timer);
      const status = Number(response[':status']);
      if (status >= 200 && status < 300) {
        stream.removeAllListeners('error');
        stream.removeAllListeners('close');
        resolve(new H2DatagramChannel(stream, options.maxBufferedBytes ?? 256 * 1024));
        return;
      }
      stream.close(constants.NGHTTP2_NO_ERROR);
      reject(refusal(response, status));
    });
  });
}
