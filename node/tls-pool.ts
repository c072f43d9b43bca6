/**
 * One pool of warm connections to the gateway, for the transports that use one TLS connection per
 * tunnel (HTTP/1.1 CONNECT and WebSocket). A new tunnel takes a connection that already finished
 * its handshake; the pool tops itself up behind it (a moment later while one is still warm).
 *
 * - warming is single-flight: however many callers ask at once, one dial runs;
 * - one idle age: a connection idle longer than POOL_MAX_IDLE_MS is not trusted (NAT and proxy
 *   idle timeouts on the path) and is dropped instead of used;
 * - an idle connection the server talks on, ends or resets is dropped, and a replacement is dialled
 *   at once, so a gateway that went away is noticed before the next request needs it;
 * - `use` retries once on a fresh connection when a pooled one turns out stale, or, given
 *   `answerWithinMs`, when a pooled one has not answered within that time (a frozen gateway keeps
 *   the TCP connection up): the fresh one runs alongside, the first answer wins, the other is dropped;
 * - events: 'refill-failed' (err) whenever a dial for the pool fails; 'parked' when a connection is ready.
 */
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';

/**
 * What the pool needs of a connection: a socket, or a native byte path session
 * (node/native/connect-tunnel.ts) that reports the same way whether it is still open, and emits
 * 'close' (a socket also 'end', 'error', 'data') when the gateway hangs up or talks while it is idle.
 */
export interface PoolConnection {
  readonly destroyed: boolean;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly readableEnded: boolean;
  on(event: (typeof IDLE_EVENTS)[number], listener: () => void): unknown;
  off(event: (typeof IDLE_EVENTS)[number], listener: () => void): unknown;
  destroy(): void;
}

/**
 * A pooled connection idle longer than this is dropped rather than used: under the Pinhole
 * gateway's default header timeout (10 s, when it closes a connection that sent no request), so a
 * tunnel never takes a connection the gateway is closing at that moment.
 */
export const POOL_MAX_IDLE_MS = 8_000;

/**
 * After a take that leaves a warm connection behind, the refill waits this long (issue 24 (c)):
 * its TLS handshake would otherwise take the CPU, here and on the gateway, while the tunnel just
 * taken carries the application's own handshake. A take that empties the pool refills at once.
 */
export const POOL_REFILL_DELAY_MS = 100;

export interface TlsPoolOptions<S extends PoolConnection = TLSSocket> {
  /** Opens one verified connection to the gateway. */
  readonly dial: () => Promise<S>;
  /** Connections kept warm (0 turns the pool off: every take dials). */
  readonly size: number;
  readonly maxIdleMs?: number;
  /** See POOL_REFILL_DELAY_MS. */
  readonly refillDelayMs?: number;
}

interface Idle<S> {
  readonly socket: S;
  readonly since: number;
  readonly drop: () => void;
}

const IDLE_EVENTS = ['close', 'end', 'error', 'data'] as const;

export interface TlsPoolEvents {
  'refill-failed': [err: unknown];
  /** A connection was parked, ready for a tunnel. */
  parked: [];
}

export class TlsPool<S extends PoolConnection = TLSSocket> extends EventEmitter<TlsPoolEvents> {
  private readonly idle: Idle<S>[] = [];
  private filling = 0;
  private warming: Promise<void> | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: TlsPoolOptions<S>) {
    super();
  }

  /** Connections ready for a tunnel right now. */
  get idleConnections(): number {
    const now = Date.now();
    return this.idle.filter((w) => this.usable(w, now)).length;
  }

  /** Make sure one warm connection exists (one dial however many ask); rejects with the dial's error. */
  async warm(): Promise<void> {
    if (this.idleConnections > 0) return;
    this.warming ??= this.options
      .dial()
      .then((socket) => this.park(socket))
      .finally(() => {
        this.warming = undefined;
      });
    await this.warming;
    this.refill();
  }

  /** Keep a connection that was opened elsewhere (e.g. by ALPN negotiation). */
  add(socket: S): void {
    this.park(socket);
  }

  /** A warm connection, or a fresh one; the pool refills behind it. */
  async take(): Promise<{ socket: S; pooled: boolean }> {
    const pooled = this.takeIdle();
    if (pooled !== undefined && this.idle.length > 0) this.refillSoon();
    else this.refill();
    if (pooled !== undefined) return { socket: pooled, pooled: true };
    return { socket: await this.options.dial(), pooled: false };
  }

  /**
   * Run `start` on a connection; when a pooled one fails with an error `isStale` recognises (the
   * path closed it while idle), run it once more on a fresh connection.
   */
  async use<T>(start: (socket: S) => Promise<T>, isStale: (err: unknown) => boolean, answerWithinMs?: number): Promise<T> {
    const { socket, pooled } = await this.take();
    if (!pooled) return start(socket);
    return new Promise<T>((resolve, reject) => {
      const sockets: S[] = [socket];
      let settled = false;
      let running = 1;
      let retried = false;
      let lastError: unknown;
      const finish = (err: unknown, value?: T, winner?: S): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        for (const other of sockets) if (other !== winner) other.destroy();
        if (winner) resolve(value as T);
        else reject(err);
      };
      const failed = (err: unknown): void => {
        running -= 1;
        lastError = err;
        // A refusal or timeout is the answer; a stale connection waits for (or starts) the fresh one.
        if (!isStale(err)) finish(err);
        else if (!retried && !this.closed) retryOnFresh();
        else if (running === 0) finish(lastError);
      };
      const run = (on: S): void => {
        start(on).then(
          (value) => {
            if (settled) on.destroy();
            else finish(undefined, value, on);
          },
          (err: unknown) => {
            if (!settled) failed(err);
          },
        );
      };
      const retryOnFresh = (): void => {
        if (retried || settled) return;
        retried = true;
        running += 1;
        this.options.dial().then(
          (fresh) => {
            if (settled) {
              fresh.destroy();
              return;
            }
            sockets.push(fresh);
            run(fresh);
          },
          (err: unknown) => {
            running -= 1;
            if (!settled && running === 0) finish(err);
          },
        );
      };
      const timer = answerWithinMs === undefined ? undefined : setTimeout(retryOnFresh, answerWithinMs);
      run(socket);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.refillTimer);
    for (const w of this.idle.splice(0)) {
      this.unwatch(w);
      w.socket.destroy();
    }
  }

  private usable(w: Idle<S>, now: number): boolean {
    const { socket } = w;
    return !socket.destroyed && socket.readable && socket.writable && !socket.readableEnded && now - w.since < (this.options.maxIdleMs ?? POOL_MAX_IDLE_MS);
  }

  private park(socket: S): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const entry: Idle<S> = {
      socket,
      since: Date.now(),
      drop: () => {
        const at = this.idle.indexOf(entry);
        if (at === -1) return;
        this.idle.splice(at, 1);
        this.unwatch(entry);
        socket.destroy();
        // The gateway hung up an idle connection (a restart, an idle timeout): replace it now.
        this.refill();
      },
    };
    // Nothing should arrive on an idle connection; if the server talks or hangs up, drop it.
    for (const event of IDLE_EVENTS) socket.on(event, entry.drop);
    this.idle.push(entry);
    this.emit('parked');
  }

  private unwatch(w: Idle<S>): void {
    for (const event of IDLE_EVENTS) w.socket.off(event, w.drop);
  }

  private takeIdle(): S | undefined {
    const now = Date.now();
    while (this.idle.length > 0) {
      const w = this.idle.shift()!;
      this.unwatch(w);
      if (this.usable(w, now)) return w.socket;
      w.socket.destroy();
    }
    return undefined;
  }

  private refillSoon(): void {
    if (this.refillTimer !== undefined) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, this.options.refillDelayMs ?? POOL_REFILL_DELAY_MS);
    this.refillTimer.unref();
  }

  private refill(): void {
    while (!this.closed && this.idle.length + this.filling < this.options.size) {
      this.filling += 1;
      this.options.dial().then(
        (socket) => {
          this.filling -= 1;
          this.park(socket);
        },
        (err: unknown) => {
          this.filling -= 1;
          if (!this.closed) this.emit('refill-failed', err);
        },
      );
    }
  }
}
