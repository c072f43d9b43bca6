/**
 * Linux network changes as one event: `ip -o monitor address route` (iproute2, on every desktop
 * Linux; no maintained netlink library exists for Node) prints a line per address or route that
 * appears or goes; a burst of lines (a Wi-Fi join adds an address, a local route, a default route)
 * is one 'change' after a short quiet spell. The child process is the watch's own: `stop()` ends it.
 * A system without `ip` is said once in the log and simply not watched.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from '../../shared/log.js';
import type { NetworkChangeReason } from '../../shared/engine-api.js';

/** What the watch needs of a child process (node:child_process's has it; tests pass a fake). */
export interface MonitorProcess {
  readonly stdout: Readable | null;
  kill(signal?: NodeJS.Signals): boolean;
  once(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'exit', listener: (code: number | null) => void): unknown;
}

export interface NetworkWatchOptions {
  logger: Logger;
  /** Starts the monitor; default `ip -o monitor address route`. */
  start?: () => MonitorProcess;
  /** Lines closer together than this are one change (default 100 ms). */
  quietMs?: number;
}

export interface NetworkWatchEvents {
  change: [reason: NetworkChangeReason];
}

/** Which kind of change an `ip -o monitor` line is: an address (with `inet`/`inet6`) or a route. */
export const monitorLineReason = (line: string): NetworkChangeReason | undefined => {
  const text = line.replace(/^\[[A-Z]+\]\s*/, '').trim();
  if (text === '') return undefined;
  return /^(Deleted\s+)?\d+:\s+\S+\s+inet6?\s/.test(text) ? 'address' : 'route';
};

const startIpMonitor = (): MonitorProcess => spawn('ip', ['-o', 'monitor', 'address', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });

export class NetworkWatch extends EventEmitter<NetworkWatchEvents> {
  private child: MonitorProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending: NetworkChangeReason | undefined;
  private stopped = false;

  constructor(private readonly options: NetworkWatchOptions) {
    super();
  }

  start(): void {
    if (this.child || this.stopped) return;
    let child: MonitorProcess;
    try {
      child = (this.options.start ?? startIpMonitor)();
    } catch (err) {
      this.unwatched(err);
      return;
    }
    this.child = child;
    child.once('error', (err) => this.unwatched(err));
    child.once('exit', (code) => {
      if (!this.stopped) this.unwatched(new Error(`ip monitor exited with code ${code ?? 'none'}`));
    });
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => this.line(line));
    this.options.logger.debug('Network changes are watched (ip monitor address route).');
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const child = this.child;
    this.child = undefined;
    child?.kill('SIGTERM');
  }

  private line(line: string): void {
    const reason = monitorLineReason(line);
    if (reason === undefined || this.stopped) return;
    // An address change explains the route changes that come with it.
    if (this.pending !== 'address') this.pending = reason;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const pending = this.pending;
      this.pending = undefined;
      if (pending !== undefined && !this.stopped) this.emit('change', pending);
    }, this.options.quietMs ?? 100);
  }

  private unwatched(err: unknown): void {
    if (this.stopped || this.child === undefined) return;
    this.child = undefined;
    this.options.logger.warn({ reason: err instanceof Error ? err.message : String(err) }, 'Network changes cannot be watched here (ip monitor is not available); a lost network is noticed by the gateway PINGs instead.');
  }
}
