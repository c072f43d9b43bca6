/**
 * Per-terminal counters for LAN box mode, keyed by source address (IPv4-mapped forms folded into
 * IPv4): requests, bytes each way, refusals, first and last seen. Bounded: past `maxTerminals`
 * the terminal seen least recently is forgotten, so a scan of the LAN cannot grow memory.
 */
import { normaliseAddress } from './allow-list.js';

export interface TerminalCounters {
  readonly source: string;
  requests: number;
  bytesUp: number;
  bytesDown: number;
  /** Connections refused (auth, rules, policy) for this terminal. */
  refused: number;
  firstSeen: number;
  lastSeen: number;
}

export interface TerminalStatsOptions {
  /** Terminals remembered at most (default 256). */
  readonly maxTerminals?: number;
  readonly now?: () => number;
}

export class TerminalStats {
  /** In least-recently-seen-first order: touching a terminal moves it to the end. */
  private readonly terminals = new Map<string, TerminalCounters>();
  private readonly maxTerminals: number;
  private readonly now: () => number;
  /** Terminals forgotten to stay within the bound. */
  evicted = 0;

  constructor(options: TerminalStatsOptions = {}) {
    this.maxTerminals = options.maxTerminals ?? 256;
    this.now = options.now ?? Date.now;
  }

  /** One request (an HTTP request, a CONNECT, a SOCKS command) from `source`. */
  request(source: string): void {
    this.touch(source).requests++;
  }

  /** Bytes moved for `source`: up = from the terminal, down = to it. */
  bytes(source: string, up: number, down: number): void {
    const t = this.touch(source);
    t.bytesUp += up;
    t.bytesDown += down;
  }

  refusal(source: string): void {
    this.touch(source).refused++;
  }

  get(source: string): Readonly<TerminalCounters> | undefined {
    return this.terminals.get(normaliseAddress(source));
  }

  get size(): number {
    return this.terminals.size;
  }

  /** Copies, most recently seen first (for the status, the console and logs). */
  snapshot(): TerminalCounters[] {
    return [...this.terminals.values()].reverse().map((t) => ({ ...t }));
  }

  private touch(raw: string): TerminalCounters {
    const source = normaliseAddress(raw);
    const now = this.now();
    let t = this.terminals.get(source);
    if (t !== undefined) this.terminals.delete(source);
    else {
      t = { source, requests: 0, bytesUp: 0, bytesDown: 0, refused: 0, firstSeen: now, lastSeen: now };
      if (this.terminals.size >= this.maxTerminals) {
        this.terminals.delete(this.terminals.keys().next().value as string);
        this.evicted++;
      }
    }
    t.lastSeen = now;
    this.terminals.set(source, t);
    return t;
  }
}
