/**
 * Noticing that the process was not running for a while: a laptop's sleep (the wall clock jumps,
 * the monotonic clock may not) or a stopped process (SIGSTOP: both clocks move, the timer fires
 * late). A periodic check compares both clocks with the period; a gap well beyond it is a resume,
 * which the engine treats as a network change (the TCP sessions may have died meanwhile).
 */
import { EventEmitter } from 'node:events';

export interface SuspendWatchOptions {
  /** How often the clocks are compared (default 1 s). */
  intervalMs?: number;
  /** A gap this much longer than the period is a resume (default 3 s: a loaded machine's late timer is not one). */
  thresholdMs?: number;
  wallClock?: () => number;
  monotonic?: () => number;
}

export interface SuspendWatchEvents {
  resume: [suspendedMs: number];
}

export class SuspendWatch extends EventEmitter<SuspendWatchEvents> {
  private timer: NodeJS.Timeout | undefined;
  private lastWall = 0;
  private lastMono = 0;
  private readonly wall: () => number;
  private readonly mono: () => number;
  private readonly intervalMs: number;
  private readonly thresholdMs: number;

  constructor(options: SuspendWatchOptions = {}) {
    super();
    this.wall = options.wallClock ?? Date.now;
    this.mono = options.monotonic ?? (() => performance.now());
    this.intervalMs = options.intervalMs ?? 1_000;
    this.thresholdMs = options.thresholdMs ?? 3_000;
  }

  start(): void {
    if (this.timer) return;
    this.lastWall = this.wall();
    this.lastMono = this.mono();
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One comparison (the timer's; tests call it with their own clocks). */
  check(): void {
    const wall = this.wall();
    const mono = this.mono();
    const gap = Math.max(wall - this.lastWall, mono - this.lastMono) - this.intervalMs;
    this.lastWall = wall;
    this.lastMono = mono;
    if (gap > this.thresholdMs) this.emit('resume', Math.round(gap));
  }
}
