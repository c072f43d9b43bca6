/**
 * How the client decides it is talking to its gateway: a pinned certificate SHA-256 (from the
 * link), a CA file, the OS store, or nothing at all (`--insecure`, for the seed's `verify=0`).
 * The pin is checked on the leaf certificate's DER bytes in constant time, before a single byte
 * of ours (and so the password) is written.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity as tlsCheckServerIdentity, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { PinholeError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Trust } from '../../shared/profile.js';
import { readStartupFile } from '../../node/startup-files.js';

export const INSECURE_WARNING = 'TLS verification is off: anyone on the path can read your traffic and password.';

/** SHA-256 of a certificate's DER bytes as 64 upper-case hex digits. */
export const certificateSha256 = (der: Buffer): string => createHash('sha256').update(der).digest('hex').toUpperCase();

export const pinMatches = (der: Buffer, pin: string): boolean => {
  const want = Buffer.from(pin.replace(/[:\s]/g, ''), 'hex');
  const got = createHash('sha256').update(der).digest();
  return want.length === got.length && timingSafeEqual(want, got);
};

/** TLS options for the gateway connection: SNI is the gateway's name (never an IP literal, never a target). */
export const tlsOptionsFor = (trust: Trust, serverName: string): ConnectionOptions => {
  const sni = isIP(serverName) === 0 ? { servername: serverName } : {};
  switch (trust.kind) {
    case 'pin':
      // The chain is not checked against any store: the pin is the trust (checked in verifyPeer).
      return { ...sni, rejectUnauthorized: false, checkServerIdentity: () => undefined };
    case 'ca':
      return { ...sni, ca: readCa(trust.caFile), rejectUnauthorized: true, checkServerIdentity: identityCheck(serverName) };
    case 'system':
      return { ...sni, rejectUnauthorized: true, checkServerIdentity: identityCheck(serverName) };
    case 'insecure':
      return { ...sni, rejectUnauthorized: false, checkServerIdentity: () => undefined };
  }
};

const readCa = (file: string): Buffer => readStartupFile(file, 'the CA file (--ca)');

// The certificate must name the gateway (serverName), whatever address we dialled.
const identityCheck =
  (serverName: string): ConnectionOptions['checkServerIdentity'] =>
  (_host, cert) =>
    tlsCheckServerIdentity(serverName, cert);

/** Called on secureConnect, before anything is written. Throws PINHOLE_TLS_PIN_MISMATCH. */
export const verifyPeer = (socket: TLSSocket, trust: Trust): void => {
  if (trust.kind !== 'pin') return;
  const cert = socket.getPeerCertificate(false);
  verifyLeaf(cert && 'raw' in cert ? cert.raw : undefined, socket.isSessionReused(), trust);
};

/**
 * The pin check on the leaf's DER bytes (a TLS session of the native byte path reports them).
 * A resumed session was kept only after its full handshake passed this check (dial.ts, the engine).
 */
export const verifyLeaf = (der: Buffer | undefined, resumed: boolean, trust: Trust): void => {
  if (trust.kind !== 'pin' || resumed) return;
  if (!der || ![trust.pin, ...(trust.nextPins ?? [])].some((pin) => pinMatches(der, pin))) {
    throw new PinholeError('PINHOLE_TLS_PIN_MISMATCH', undefined, {
      details: { expected: trust.pin, presented: der ? certificateSha256(der) : 'none' },
    });
  }
};

const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const CLOSED = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Any failure while reaching the gateway, as a PinholeError with the right code. */
export const gatewayError = (err: unknown, phase: 'tcp' | 'tls' = 'tls'): PinholeError => {
  if (err instanceof PinholeError) return err;
  const code = (err as { code?: string } | undefined)?.code ?? '';
  let mapped: ErrorCode;
  if (UNTRUSTED.has(code)) mapped = 'PINHOLE_TLS_UNTRUSTED';
  else if (UNREACHABLE.has(code)) mapped = 'PINHOLE_GATEWAY_UNREACHABLE';
  else if (code === 'ETIMEDOUT') mapped = 'PINHOLE_GATEWAY_TIMEOUT';
  else if (CLOSED.has(code)) mapped = phase === 'tcp' ? 'PINHOLE_GATEWAY_UNREACHABLE' : 'PINHOLE_TLS_FAILED';
  else mapped = phase === 'tcp' ? 'PINHOLE_GATEWAY_UNREACHABLE' : 'PINHOLE_TLS_FAILED';
  return new PinholeError(mapped, undefined, { cause: err, details: { reason: (err as Error | undefined)?.message ?? String(err), errno: code || undefined } });
};

export const warnIfInsecure = (trust: Trust, logger: Logger): void => {
  if (trust.kind === 'insecure') logger.warn({ code: 'PINHOLE_TLS_INSECURE' }, INSECURE_WARNING);
};
