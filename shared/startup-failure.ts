/**
 * What a command (or the desktop app) says when it cannot start: one line with the sentence and
 * the code, the exit status, and the dialog's text. A PinholeError says its own cause; anything
 * else is a bug (PINHOLE_INTERNAL), and then the line asks for a report and says where the log is.
 * Pure: both CLIs and app/ (its dialog) use it.
 */
import { ERRORS, PinholeError, isErrorCode, type ErrorCode } from './errors.js';

/** Codes that mean "the start was refused; the sentence says what to change": exit status 2. */
export const STARTUP_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'PINHOLE_USAGE',
  'PINHOLE_CONFIG_INVALID',
  'PINHOLE_ADDRESS_IN_USE',
  'PINHOLE_PORT_PRIVILEGED',
  'PINHOLE_ADDRESS_NOT_LOCAL',
  'PINHOLE_FILE_UNREADABLE',
  'PINHOLE_FILE_INVALID',
  'PINHOLE_ADMIN_ON_PUBLIC_ADDRESS',
  'PINHOLE_LAN_ALLOW_LIST_REQUIRED',
  'PINHOLE_PASSPHRASE_WRONG',
  'PINHOLE_PROFILE_NOT_FOUND',
  'PINHOLE_AUTH_REJECTED',
  'PINHOLE_MANAGED_INVALID',
  'PINHOLE_MANAGED_LOCKED',
  'PINHOLE_LINK_INVALID',
  'PINHOLE_LINK_TRUNCATED',
  'PINHOLE_LINK_VERSION',
]);

export interface StartupFailure {
  readonly code: ErrorCode;
  /** The sentence, with what to do; for a bug, also where the log is. */
  readonly message: string;
  /** 2: the start was refused for a reason the user fixes; 1: anything else. */
  readonly exitCode: number;
}

/** `logWhere` completes "The log is ..." for a bug, e.g. "the JSON lines above on stderr". */
export function startupFailure(err: unknown, logWhere: string): StartupFailure {
  const wireCode = err instanceof PinholeError ? err.code : (err as { code?: unknown } | undefined)?.code;
  const code: ErrorCode = err instanceof PinholeError && isErrorCode(wireCode) ? wireCode : 'PINHOLE_INTERNAL';
  if (code === 'PINHOLE_INTERNAL') {
    const cause = err instanceof PinholeError ? err.cause : err;
    const what = cause instanceof Error ? cause.message : cause === undefined ? '' : String(cause);
    return { code, message: `${ERRORS.PINHOLE_INTERNAL.sentence} The log is ${logWhere}.${what === '' ? '' : ` (${what})`}`, exitCode: 1 };
  }
  return { code, message: (err as PinholeError).message, exitCode: STARTUP_CODES.has(code) ? 2 : 1 };
}

/** "pinhole console: SENTENCE (PINHOLE_CODE)", the line a command prints on stderr (a usage mistake's line needs no code). */
export const startupLine = (program: string, failure: StartupFailure): string =>
  failure.code === 'PINHOLE_USAGE' ? `${program}: ${failure.message}` : `${program}: ${failure.message} (${failure.code})`;

/** The desktop app's error dialog for a start that failed: the same sentence and code as the CLIs print. */
export const startupDialog = (err: unknown, logWhere: string): { title: string; message: string; exitCode: number } => {
  const failure = startupFailure(err, logWhere);
  return { title: 'Pinhole could not start', message: `${failure.message}\n\n(${failure.code})`, exitCode: failure.exitCode };
};
