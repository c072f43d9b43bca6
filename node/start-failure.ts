/**
 * How a command of either CLI ends when it cannot start: the cause in one line on stderr (the
 * sentence and its code, shared/startup-failure.ts), the exit status it returns, and, for a bug,
 * the stack first (through the command's logger when it has one), since the line asks for a
 * report with the log.
 */
import { PinholeError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { startupFailure, startupLine } from '../shared/startup-failure.js';

export interface StartFailureOptions {
  /** Completes "The log is ..." for a bug, e.g. "on standard error, just above this line". */
  readonly logWhere: string;
  /** The command's logger: a bug's stack goes there; without one, to stderr. */
  readonly logger?: Logger;
  readonly stderr?: (text: string) => void;
}

/** Prints the line and returns the exit status (2: the start was refused for a reason to fix; 1: anything else). */
export function reportStartFailure(program: string, err: unknown, options: StartFailureOptions): number {
  const write = options.stderr ?? ((text: string) => void process.stderr.write(text));
  const failure = startupFailure(err, options.logWhere);
  if (failure.code === 'PINHOLE_INTERNAL') {
    // A bug wrapped on its way up (the engine's PINHOLE_INTERNAL) is reported by its cause's stack.
    const bug = err instanceof PinholeError && err.cause !== undefined ? err.cause : err;
    if (options.logger !== undefined) options.logger.error({ code: failure.code, err: bug }, 'A command failed inside Pinhole.');
    else write(`${bug instanceof Error ? (bug.stack ?? bug.message) : String(bug)}\n`);
  }
  write(`${startupLine(program, failure)}\n`);
  return failure.exitCode;
}
