/**
 * openUdpFlow over the WebSocket transport: one WebSocket per flow on the UDP path
 * (shared/udp/ws-frame.ts), one datagram per BINARY message. A refusal is the HTTP status with
 * Pinhole-Error, as for TCP tunnels.
 */
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { PinholeError, codeForStatus, isErrorCode } from '../../shared/errors.js';
import { DatagramChannelBase } from '../../shared/udp/datagram-channel.js';
import { UDP_WS_CLOSE, UDP_WS_MAX_PAYLOAD, datagramOfMessage } from '../../shared/udp/ws-frame.js';
import { ERROR_HEADER, TARGET_HEADER } from '../../shared/ws-tunnel.js';

export interface WsUdpFlowOptions {
  /** ws:// or wss:// URL of the gateway's UDP path. */
  readonly url: string;
  readonly authorization?: string;
  /** Extra `ws` client options (TLS trust, agent). */
  readonly clientOptions?: WebSocket.ClientOptions;
  /** Datagrams are dropped while more than this many bytes wait to be sent (default 256 KiB). */
  readonly maxBufferedBytes?: number;
}

class WsDatagramChannel extends DatagramChannelBase {
  constructor(
    private readonly ws: WebSocket,
    private readonly maxBuffered: number,
  ) {
    super();
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        this.deliver(datagramOfMessage(data, isBinary));
      } catch (err) {
        this.end(err as Error);
      }
    });
    ws.on('close', () => this.end(undefined));
    ws.on('error', (err) => this.end(err));
  }

  send(payload: Uint8Array): boolean {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN || this.ws.bufferedAmount > this.maxBuffered) return false;
    this.ws.send(payload, { binary: true });
    return true;
  }

  protected release(error: Error | undefined): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(error instanceof PinholeError ? UDP_WS_CLOSE.protocolError : UDP_WS_CLOSE.normal);
    else this.ws.terminate();
  }
}

const targetHeader = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

export function openWsUdpFlow(host: string, port: number, options: WsUdpFlowOptions): Promise<WsDatagramChannel> {
  const headers: Record<string, string> = { [TARGET_HEADER]: targetHeader(host, port) };
  if (options.authorization !== undefined) headers.Authorization = options.authorization;
  const ws = new WebSocket(options.url, { ...options.clientOptions, headers, perMessageDeflate: false, maxPayload: UDP_WS_MAX_PAYLOAD });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.removeAllListeners('error');
      resolve(new WsDatagramChannel(ws, options.maxBufferedBytes ?? 256 * 1024));
    });
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      const named = res.headers[ERROR_HEADER.toLowerCase()];
      const status = res.statusCode ?? 502;
      const code = typeof named === 'string' && isErrorCode(named) ? named : codeForStatus(status);
      res.resume();
      ws.terminate();
      reject(new PinholeError(code, undefined, { details: { status } }));
    });
    ws.once('error', (err) => reject(new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: err })));
  });
}
