/**
 * What a failure means to the client, decided by its code and nowhere else: whether the gateway
 * is gone (reconnect with backoff), whether retrying cannot help (the user must change a setting),
 * and which status an application sees when the local proxy refuses on its behalf. Callers branch
 * on these answers, never on an error's message.
 */
import { ERRORS, PinholeError, type ErrorCode } from '../shared/errors.js';

/** The connection to the gateway failed or broke: reconnect with backoff. */
const GATEWAY_LOST: ReadonlySet<ErrorCode> = new Set(['PINHOLE_GATEWAY_UNREACHABLE', 'PINHOLE_GATEWAY_TIMEOUT', 'PINHOLE_GATEWAY_CLOSED', 'PINHOLE_TLS_FAILED', 'PINHOLE_UPSTREAM_PROXY_FAILED']);

/** Retrying cannot help: the user has to change a setting (the pin, a CA, the corporate proxy's sign-in) or sign in again (a revoked credential). */
const FATAL: ReadonlySet<ErrorCode> = new Set(['PINHOLE_CREDENTIAL_REVOKED', 'PINHOLE_SIGNIN_REQUIRED', 'PINHOLE_TLS_PIN_MISMATCH', 'PINHOLE_TLS_UNTRUSTED', 'PINHOLE_UPSTREAM_AUTH_REQUIRED', 'PINHOLE_UPSTREAM_AUTH_REJECTED', 'PINHOLE_UPSTREAM_AUTH_UNSUPPORTED']);

/** The gateway is gone, but may come back: worth reconnecting. */
export const isRetryable = (code: ErrorCode): boolean => GATEWAY_LOST.has(code);

/** Nothing will work until a setting changes: stop and say so. */
export const isFatal = (code: ErrorCode): boolean => FATAL.has(code);

/** Either way the tunnel's trouble is the connection's, not one destination's. */
export const isConnectionFailure = (err: unknown): err is PinholeError => err instanceof PinholeError && (isRetryable(err.code) || isFatal(err.code));

/**
 * The status an application sees for a failure the local proxy answers. A gateway 407 is not the
 * application's to answer (it has no credentials to give): it becomes 502 with the code.
 */
export const statusForApplication = (code: ErrorCode): number => (ERRORS[code].status === 407 && !code.startsWith('PINHOLE_LOCAL_') ? 502 : ERRORS[code].status);
