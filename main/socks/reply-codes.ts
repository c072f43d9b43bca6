/**
 * The SOCKS5 reply code for each Pinhole failure, so a SOCKS application sees the same refusal an
 * HTTP application sees as 403/502/504 (RFC 1928 section 6 has no "timed out": TTL expired, which
 * curl prints as "TTL expired", is the closest and what several servers use).
 */
import { PinholeError, type ErrorCode } from '../../shared/errors.js';
import { REPLY, type ReplyCode } from './codec.js';

const BY_CODE: Partial<Record<ErrorCode, ReplyCode>> = {
  PINHOLE_DEST_FORBIDDEN: REPLY.notAllowed,
  PINHOLE_PORT_FORBIDDEN: REPLY.notAllowed,
  PINHOLE_APP_BLOCKED: REPLY.notAllowed,
  PINHOLE_DOMAIN_BLOCKED: REPLY.notAllowed,
  PINHOLE_LOCAL_AUTH_MISSING: REPLY.notAllowed,
  PINHOLE_LOCAL_AUTH_REJECTED: REPLY.notAllowed,
  PINHOLE_CONNECT_FAILED: REPLY.connectionRefused,
  PINHOLE_DNS_FAILED: REPLY.hostUnreachable,
  PINHOLE_CONNECT_TIMEOUT: REPLY.ttlExpired,
  PINHOLE_GATEWAY_TIMEOUT: REPLY.ttlExpired,
  PINHOLE_GATEWAY_UNREACHABLE: REPLY.networkUnreachable,
  PINHOLE_GATEWAY_CLOSED: REPLY.networkUnreachable,
  PINHOLE_NOT_CONNECTED: REPLY.networkUnreachable,
  PINHOLE_TLS_PIN_MISMATCH: REPLY.networkUnreachable,
  PINHOLE_TLS_UNTRUSTED: REPLY.networkUnreachable,
  PINHOLE_CAPTIVE_PORTAL: REPLY.networkUnreachable,
  PINHOLE_TLS_FAILED: REPLY.networkUnreachable,
  PINHOLE_UPSTREAM_PROXY_FAILED: REPLY.networkUnreachable,
  PINHOLE_UPSTREAM_AUTH_REQUIRED: REPLY.networkUnreachable,
  PINHOLE_UPSTREAM_AUTH_REJECTED: REPLY.networkUnreachable,
  PINHOLE_UPSTREAM_AUTH_UNSUPPORTED: REPLY.networkUnreachable,
  PINHOLE_SOCKS_UNSUPPORTED: REPLY.commandNotSupported,
};

/** The reply for a failure; anything unknown (the gateway rejecting our own credentials included) is a general failure. */
export function socksReplyFor(err: unknown): ReplyCode {
  if (err instanceof PinholeError) return BY_CODE[err.code] ?? REPLY.generalFailure;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ECONNREFUSED') return REPLY.connectionRefused;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH') return REPLY.hostUnreachable;
  if (code === 'ENETUNREACH') return REPLY.networkUnreachable;
  if (code === 'ETIMEDOUT') return REPLY.ttlExpired;
  return REPLY.generalFailure;
}

/** Does a connection's first byte say SOCKS5? (HTTP methods start with a letter, TLS with 0x16.) */
export const isSocks5FirstByte = (byte: number): boolean => byte === 0x05;
