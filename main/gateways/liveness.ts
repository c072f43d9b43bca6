/**
 * Is the HTTP/2 session to the gateway alive? A TCP connection to a frozen gateway (SIGSTOP, a
 * wedged process, a path that black-holes) stays up for minutes while nothing answers, so only an
 * answer proves life: a PING when the session has been quiet for `idleIntervalMs`, and one on
 * demand (`probeNow()`) when a tunnel waits for its CONNECT answer. No answer within `timeoutMs`
 * (about 1.5 s) and the session is declared dead, once ('dead' event), so the caller can mark it,
 * dial the next best endpoint and re-send the tunnels that were waiting.
 *
 * One PING is outstanding at a time: a hundred tunnels waiting share one probe, never a storm.
 * Every answer is also an RTT sample ('rtt' event) for choosing the fastest gateway.
 */
import { EventEmitter } from 'node:events';
import { PinholeError } from '../../shared/errors.js';

export const DEFAULT_LIVENESS_TIMEOUT_MS = 1_500;
export const DEFAULT_IDLE_PING_MS = 10_000;
/** A session that stopped answering keeps its open tunnels until nothing arrived for this long (issue 28). */
export const DEFAULT_SESSION_TIMEOUT_MS = 15_000;

/** What the watcher needs from a ClientHttp2Session (which has all of it). */
export interface PingableSession {
  readonly closed: boolean;
  readonly destroyed: boolean;
  /** True until the HTTP/2 preface is exchanged; a PING sent before it is not reliable. */
  readonly connecting?: boolean;
  ping(callback: (err: Error | null, duration: number, payload: Buffer) => void): boolean;
  once(event: 'close' | 'connect', listener: () => void): unknown;
  removeListener(event: 'close' | 'connect', listener: () => void): unknown;
}

export interface LivenessOptions {
  /** Silence after which the session must answer a PING. */
  timeoutMs?: number;
  /** A PING is sent when nothing was heard for this long. */
  idleIntervalMs?: number;
}

export interface LivenessEvents {
  rtt: [rttMs: number];
  /** A PING has waited half the timeout: time to get the next best endpoint ready, just in case. */
  slow: [];
  dead: [error: PinholeError];
}

export class SessionLiveness extends EventEmitter<LivenessEvents> {
  private readonly timeoutMs: number;
  private readonly idleIntervalMs: number;
  private outstanding: Promise<number> | undefined;
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private halfway: ReturnType<typeof setTimeout> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private lastHeard = Date.now();
  private lastRtt: number | null = null;
  private failure: PinholeError | undefined;
  private stopped = false;
  private readonly onClose = (): void => this.declareDead(new PinholeError('PINHOLE_GATEWAY_CLOSED'));

  constructor(
    private readonly session: PingableSession,
    options: LivenessOptions = {},
  ) {
    super();
    this.timeoutMs = options.timeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS;
    this.idleIntervalMs = options.idleIntervalMs ?? DEFAULT_IDLE_PING_MS;
    if (session.closed || session.destroyed) {
      this.failure = new PinholeError('PINHOLE_GATEWAY_CLOSED');
      return;
    }
    session.once('close', this.onClose);
    this.armIdle(this.idleIntervalMs);
  }

  /** The last PING round trip, null before the first answer. */
  get rttMs(): number | null {
    return this.lastRtt;
  }

  /** False once the session was declared dead (or closed). */
  get alive(): boolean {
    return this.failure === undefined && !this.stopped;
  }

  /** Something arrived from the gateway (a CONNECT answer, DATA): the idle clock starts again. */
  noteActivity(): void {
    this.lastHeard = Date.now();
  }

  /**
   * Prove the session alive now: resolves with the round trip, rejects with the reason it is dead.
   * Joins the PING already in flight, if any.
   */
  probeNow(): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.stopped) return Promise.reject(new PinholeError('PINHOLE_NOT_CONNECTED', 'The session is no longer watched.'));
    this.outstanding ??= this.sendPing().finally(() => {
      this.outstanding = undefined;
    });
    return this.outstanding;
  }

  /** Stop watching (the session is being closed on purpose): no more PINGs, no events. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimers();
    this.session.removeListener('close', this.onClose);
  }

  private sendPing(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      // The deadline covers the wait for the preface too: a gateway that never finishes it is dead as well.
      this.deadline = setTimeout(() => {
        const error = new PinholeError('PINHOLE_GATEWAY_UNRESPONSIVE', `The gateway did not answer a PING within ${this.timeoutMs} ms.`, { details: { timeoutMs: this.timeoutMs } });
        this.declareDead(error);
        reject(error);
      }, this.timeoutMs);
      this.deadline.unref?.();
      this.halfway = setTimeout(() => this.emit('slow'), this.timeoutMs / 2);
      this.halfway.unref?.();
      const send = (): void => {
        if (this.failure || this.stopped) {
          reject(this.failure ?? new PinholeError('PINHOLE_NOT_CONNECTED'));
          return;
        }
        let sent: boolean;
        try {
          sent = this.session.ping((err, duration) => {
            clearTimeout(this.deadline);
            clearTimeout(this.halfway);
            if (this.failure || this.stopped) {
              reject(this.failure ?? new PinholeError('PINHOLE_NOT_CONNECTED'));
              return;
            }
            if (err) {
              const error = new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err });
              this.declareDead(error);
              reject(error);
              return;
            }
            this.lastRtt = Math.round(duration * 10) / 10;
            this.lastHeard = Date.now();
            this.armIdle(this.idleIntervalMs);
            this.emit('rtt', this.lastRtt);
            resolve(this.lastRtt);
          });
        } catch (err) {
          sent = false;
          this.declareDead(new PinholeError('PINHOLE_GATEWAY_CLOSED', undefined, { cause: err }));
        }
        if (!sent) {
          clearTimeout(this.deadline);
          clearTimeout(this.halfway);
          const error = this.failure ?? new PinholeError('PINHOLE_GATEWAY_CLOSED', 'A PING could not be sent on the session.');
          this.declareDead(error);
          reject(error);
        }
      };
      if (this.session.connecting) this.session.once('connect', send);
      else send();
    });
  }

  private armIdle(delayMs: number): void {
    clearTimeout(this.idleTimer);
    if (this.failure || this.stopped) return;
    this.idleTimer = setTimeout(() => {
      const quietFor = Date.now() - this.lastHeard;
      if (quietFor < this.idleIntervalMs) {
        this.armIdle(this.idleIntervalMs - quietFor);
        return;
      }
      // The rejection is reported through 'dead'; nobody else awaits an idle probe.
      this.probeNow().catch(() => undefined);
    }, delayMs);
    this.idleTimer.unref?.();
  }

  private clearTimers(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.deadline);
    clearTimeout(this.halfway);
  }

  private declareDead(error: PinholeError): void {
    if (this.failure || this.stopped) return;
    this.failure = error;
    this.clearTimers();
    this.session.removeListener('close', this.onClose);
    this.emit('dead', error);
  }
}

/** What the deadline needs from a ClientHttp2Session: its PING and the bytes its socket has read. */
export interface DrainingSession {
  readonly closed: boolean;
  readonly destroyed: boolean;
  readonly socket: { readonly bytesRead: number } | null | undefined;
  ping(callback: (err: Error | null, duration: number, payload: Buffer) => void): boolean;
  once(event: 'close', listener: () => void): unknown;
  removeListener(event: 'close', listener: () => void): unknown;
}

export interface SessionDeadlineOptions {
  /** Nothing heard (no byte, no PING answer) for this long and the session is gone (default 15 s). */
  deadlineMs?: number;
  /** When the silence began (the unanswered PING left then); default now. */
  silentSince?: number;
}

export interface SessionDeadlineEvents {
  gone: [error: PinholeError];
}

/**
 * The second, longer verdict (issue 28): a session that stopped answering PINGs takes no new
 * tunnels at once (SessionLiveness), but a stall of a few seconds on a congested path must not end
 * the tunnels already open on it. This watches such a session: any byte read from its socket or any
 * PING answer is a sign of life; `deadlineMs` of silence and it is 'gone' (once), and the caller
 * resets its tunnels. A PING goes out when the session has been quiet for a third of the deadline,
 * one at a time. `endNow()` is the stronger signal (a network change): gone at once.
 */
export class SessionDeadline extends EventEmitter<SessionDeadlineEvents> {
  private readonly deadlineMs: number;
  private heardAt: number;
  private bytesSeen: number;
  private pinging = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private over = false;
  private readonly onClose = (): void => this.stop();

  constructor(
    private readonly session: DrainingSession,
    options: SessionDeadlineOptions = {},
  ) {
    super();
    this.deadlineMs = options.deadlineMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.heardAt = options.silentSince ?? Date.now();
    this.bytesSeen = session.socket?.bytesRead ?? 0;
    if (session.closed || session.destroyed) {
      this.over = true;
      return;
    }
    session.once('close', this.onClose);
    this.timer = setInterval(() => this.check(), Math.max(10, Math.min(1_000, this.deadlineMs / 4)));
    this.timer.unref?.();
  }

  /** Silence so far, in ms (0 right after a sign of life). */
  get silentForMs(): number {
    return Date.now() - this.heardAt;
  }

  /** A stronger signal than silence (the network changed): the session is gone now. */
  endNow(error: PinholeError): void {
    this.declareGone(error);
  }

  stop(): void {
    if (this.over) return;
    this.over = true;
    clearInterval(this.timer);
    this.session.removeListener('close', this.onClose);
  }

  private check(): void {
    if (this.over) return;
    const bytes = this.session.socket?.bytesRead ?? this.bytesSeen;
    if (bytes !== this.bytesSeen) {
      this.bytesSeen = bytes;
      this.heardAt = Date.now();
    }
    const silent = this.silentForMs;
    if (silent >= this.deadlineMs) {
      this.declareGone(
        new PinholeError('PINHOLE_GATEWAY_UNRESPONSIVE', `Nothing arrived from the gateway for ${(silent / 1000).toFixed(1)} s; its tunnels are reset.`, {
          details: { deadlineMs: this.deadlineMs },
        }),
      );
      return;
    }
    if (!this.pinging && silent >= this.deadlineMs / 3) this.ping();
  }

  private ping(): void {
    this.pinging = true;
    let sent: boolean;
    try {
      sent = this.session.ping((err) => {
        this.pinging = false;
        if (!err && !this.over) this.heardAt = Date.now();
      });
    } catch {
      sent = false;
    }
    if (!sent) this.pinging = false;
  }

  private declareGone(error: PinholeError): void {
    if (this.over) return;
    this.stop();
    this.emit('gone', error);
  }
}
