/**
 * What an in-process peer reports (access records, datagrams received) kept in a list a test can
 * wait on: each `push` wakes the waiters whose condition now holds, so a test waits for the record
 * it means instead of polling on a timer. Free of test-framework imports so bench/ can use it too.
 */
export class RecordList<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<() => void>();

  /** Adds a record; bound, so it can be passed as a callback (`accessLog: list.push`). */
  readonly push = (item: T): void => {
    this.items.push(item);
    for (const waiter of [...this.waiters]) waiter();
  };

  /** Resolves with the records once `check(records)` holds (now or after a later push); rejects after `timeoutMs`. */
  until(check: (items: readonly T[]) => boolean, what: string, timeoutMs = 15_000): Promise<readonly T[]> {
    if (check(this.items)) return Promise.resolve(this.items);
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        if (!check(this.items)) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(this.items);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.items.length} records: ${JSON.stringify(this.items.slice(-3))})`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Resolves with the first record (already pushed or later) that matches. */
  async first(match: (item: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
    const items = await this.until((all) => all.some(match), what, timeoutMs);
    return items.find(match) as T;
  }
}

/** A pino destination (`createLogger({ destination })`) whose JSON lines a test can wait on. */
export const recordingDestination = <T extends Record<string, unknown> = Record<string, unknown>>(): { destination: { write: (line: string) => void }; lines: RecordList<T> } => {
  const lines = new RecordList<T>();
  return { destination: { write: (line) => lines.push(JSON.parse(line) as T) }, lines };
};
