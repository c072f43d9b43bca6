/**
 * The WebSocket tunnel protocol's names, shared by the gateway (gateway/ws-tunnel.ts, which
 * documents the protocol) and the client (main/tunnel/wss-transport.ts).
 */
import { ERRORS, PinholeError, codeForStatus, type ErrorCode } from './errors.js';

export const DEFAULT_WS_PATH = '/pinhole/ws';
/** Request header naming the destination, `host:port` (IPv6 literals bracketed). */
export const TARGET_HEADER = 'Pinhole-Target';
/** Response header carrying the error code of a refused tunnel. */
export const ERROR_HEADER = 'Pinhole-Error';

/** The error a client reports for a refusal response (status, `Pinhole-Error`, body sentence). */
export function errorFromRefusal(status: number, codeHeader: string | undefined, body: string): PinholeError {
  const sentence = body.trim() === '' ? undefined : body.trim().slice(0, 300);
  const code = codeHeader !== undefined && Object.prototype.hasOwnProperty.call(ERRORS, codeHeader) ? (codeHeader as ErrorCode) : codeForStatus(status);
  return new PinholeError(code, sentence, { details: { status } });
}
