/**
 * A proxy's refusal (status + Pinhole-Error header, or Squid's bare status) as a PinholeError.
 * Pure, so the same mapping serves HTTP/1.1 replies and HTTP/2 response headers.
 */
import { codeForStatus, isErrorCode, PinholeError, type ErrorCode } from '../../shared/errors.js';

export const refusalError = (status: number, pinholeError: string | undefined, user: string, target: string): PinholeError => {
  let code: ErrorCode = isErrorCode(pinholeError) ? pinholeError : status === 503 ? 'PINHOLE_CONNECT_FAILED' : codeForStatus(status);
  // We always send credentials, so "missing" from the gateway's point of view means "not accepted".
  if (status === 407) code = 'PINHOLE_AUTH_REJECTED';
  const message = code === 'PINHOLE_AUTH_REJECTED' ? `The gateway rejected the user name or password for ${user}.` : undefined;
  return new PinholeError(code, message, { details: { status, target, user } });
};
