/**
 * The bounded queue of pending password checks. At most `concurrency` run at once (bcrypt in
 * libuv's thread pool, so one core stays for the event loop and DNS still gets a pool thread);
 * at most `maxPending` wait or run. Beyond that the answer is PINHOLE_AUTH_BUSY (503 with
 * Retry-After), never an unbounded queue.
 */
import { PinholeError } from '../../shared/errors.js';

export const BUSY_RETRY_AFTER_SECONDS = 1;

export class CheckQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxPending: number,
  ) {}

  /** Checks waiting or running now. */
  get pending(): number {
    return this.running + this.waiting.length;
  }

  async run<T>(check: () => Promise<T>): Promise<T> {
    if (this.pending >= this.maxPending) throw new PinholeError('PINHOLE_AUTH_BUSY', undefined, { details: { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS } });
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await check();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }
}
