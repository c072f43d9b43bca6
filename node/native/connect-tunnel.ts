/**
 * An HTTP/1.1 CONNECT tunnel to the gateway on the native byte path (what stunnel + Squid and the
 * Pinhole gateway accept): the TLS handshake runs natively, JavaScript judges the certificate before
 * a single byte of ours is written, the CONNECT head is built and its answer parsed by the same code
 * as the JavaScript path (node/connect-client.ts, node/connect-reply.ts), and on 2xx the
 * application's socket is handed over. The same hygiene as the JavaScript path: no application byte
 * after a non-2xx answer, the tunnel's first bytes after the head kept for the application.
 */
import type { Socket } from 'node:net';
import { ConnectFailure, connectRequestHead, type ConnectAnswer, type ConnectRequest } from '../connect-client.js';
import { parseConnectReply } from '../connect-reply.js';
import type { RelayTimeouts } from '../relay.js';
import type { NativeBytePath, NativeRelay, NativeRelayEvents, NativeRelayResult } from './byte-path.js';

export interface NativeConnectOptions {
  /** TCP to the gateway: connected, and paused before a byte was read (the handshake is native). */
  readonly socket: Socket;
  /** SNI: the gateway's name; empty for an IP literal (no SNI, as connectTlsOptions does). */
  readonly servername: string;
  /** Judges the gateway's certificates (leaf first), resumed sessions included; throws to refuse. */
  readonly verify: (certificates: readonly Buffer[], resumed: boolean) => void;
  readonly request: ConnectRequest;
}

/** An answered CONNECT. On 2xx, `attach` hands the application over; otherwise it is already closed. */
export interface NativeConnectTunnel {
  readonly answer: ConnectAnswer;
  /** Relay `application` through the tunnel; `toApplication` goes first (a 200 for the application). */
  attach(application: Socket, options?: NativeAttachOptions): Promise<NativeRelayResult>;
  destroy(): void;
}

export interface NativeAttachOptions {
  readonly toGateway?: Buffer;
  readonly toApplication?: Buffer;
  readonly halfClose?: NativeRelayEvents['halfClose'];
  /** --idle-timeout / --half-close-timeout, kept by the engine as node/relay.ts keeps them. */
  readonly timeouts?: RelayTimeouts;
}

/** Dial-level failures carry the same codes as the JavaScript path's ConnectFailure. */
export function connectNative(path: NativeBytePath, options: NativeConnectOptions): Promise<NativeConnectTunnel> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let relay: NativeRelay | undefined;
    let closeResult: NativeRelayResult | undefined;
    let onClosed: ((result: NativeRelayResult) => void) | undefined;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      relay?.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new ConnectFailure('CONNECT_TIMEOUT', 'CONNECT was not answered in time.')), options.request.timeoutMs);
    const events: NativeRelayEvents = {
      secure: (certificates, _alpn, resumed) => {
        try {
          options.verify(certificates, resumed);
        } catch (err) {
          fail(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        relay?.verified(Buffer.from(connectRequestHead(options.request), 'latin1'));
      },
      head: (head) => {
        const reply = parseConnectReply(head);
        if (reply.kind !== 'reply') {
          fail(new ConnectFailure('CONNECT_REPLY_INVALID', `The answer to CONNECT is not HTTP: ${reply.kind === 'invalid' ? reply.why : 'it is incomplete'}.`));
          return;
        }
        settled = true;
        clearTimeout(timer);
        const answer: ConnectAnswer = { status: reply.status, headers: reply.headers };
        const tunnel = relay;
        if (tunnel === undefined) return;
        if (reply.status < 200 || reply.status > 299) tunnel.destroy();
        resolve({
          answer,
          attach: (application, attachOptions = {}) =>
            new Promise<NativeRelayResult>((resolveRelay) => {
              if (attachOptions.halfClose !== undefined) events.halfClose = attachOptions.halfClose;
              if (closeResult !== undefined) {
                application.destroy();
                resolveRelay(closeResult);
                return;
              }
              onClosed = resolveRelay;
              if (attachOptions.timeouts !== undefined) tunnel.setTimeouts(attachOptions.timeouts);
              tunnel.attach(application, attachOptions.toGateway, attachOptions.toApplication);
            }),
          destroy: () => tunnel.destroy(),
        });
      },
      close: (result) => {
        closeResult = result;
        if (onClosed !== undefined) onClosed(result);
        else if (!settled) fail(new ConnectFailure('CONNECT_CLOSED', 'The connection closed before CONNECT was answered.', { cause: result.error }));
      },
    };
    try {
      relay = path.tlsConnect(options.socket, options.servername, ['http/1.1'], events);
    } catch (err) {
      fail(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
