/**
 * The one byte relay both sides use: every tunnel, forward and pass-through moves its bytes here.
 *
 * One close semantics, everywhere:
 *   - each direction ends on its own: when `a` ends, `b`'s writable side is ended (a FIN,
 *     END_STREAM, or the WebSocket `end` message) and the other direction keeps flowing;
 *   - an error on either side, or either side closing before both of its directions are done,
 *     tears both down at once;
 *   - bytes are counted both ways; `done` runs once, when both sides have closed;
 *   - a tunnel nobody uses ends (issue 28): with no byte either way for `idleTimeoutMs` (stunnel's
 *     TIMEOUTidle, HAProxy's `timeout tunnel`), or, once one direction has ended, for
 *     `halfCloseTimeoutMs` (HAProxy's `timeout client-fin` / `server-fin`; Squid closes a
 *     half-closed client at once), both sides are torn down with a RelayTimeoutError.
 *
 * The timeouts cost nothing per chunk: the byte counters the relay keeps anyway are the activity
 * mark. One coarse timer per relay (a quarter of the timeout) compares them, and the bytes queued
 * at each side, with what it saw last; four quiet ticks in a row end the tunnel, so a tunnel ends
 * between 1 and 1.25 timeouts after its last byte. A per-chunk `Date.now()` or a socket's
 * `setTimeout` (re-armed on every read and write, and absent on h2 streams and WebSockets) would
 * put work on the hot path for a deadline that is minutes away.
 *
 * The hot path is one 'data' listener per direction that counts and writes: no allocation, no
 * logging and no promise per chunk. Backpressure: the source pauses once RELAY_HIGH_WATER bytes are
 * queued at the destination and resumes on its 'drain'.
 */
import type { Duplex } from 'node:stream';

export interface RelayResult {
  /** Bytes read from `a` and written to `b`. */
  readonly bytesUp: number;
  /** Bytes read from `b` and written to `a`. */
  readonly bytesDown: number;
  /** The first error on either side, or a premature close; absent when both directions ended cleanly. */
  readonly error?: Error;
  /** Set when the relay ended it for silence: 'idle' (no byte either way) or 'half-close' (one direction ended, then silence). */
  readonly timedOut?: RelayTimeoutReason;
}

export type RelayTimeoutReason = 'idle' | 'half-close';

/** How long a tunnel may stay silent; absent or 0: no limit. Both sides pass the same pair to every relay. */
export interface RelayTimeouts {
  /** No byte either way for this long ends the tunnel (stunnel's TIMEOUTidle, HAProxy's `timeout tunnel`). */
  readonly idleTimeoutMs?: number;
  /** Once one direction has ended, this long without a byte ends the tunnel (HAProxy's `timeout client-fin` / `server-fin`). */
  readonly halfCloseTimeoutMs?: number;
}

export interface RelayOptions extends RelayTimeouts {
  /** Runs once, after both sides have closed. */
  readonly done?: (result: RelayResult) => void;
  /**
   * Hold the `b` -> `a` direction until this settles (an early-started tunnel: `a` gets nothing
   * of a refusal). A rejection tears both down with its error.
   */
  readonly holdDown?: Promise<unknown>;
}

/** A live relay: byte counts so far, and a way to tear it down (a drain that ran out, a shutdown). */
export interface Relay {
  readonly bytesUp: number;
  readonly bytesDown: number;
  destroy(err?: Error): void;
}

type HalfOpenable = Duplex & { allowHalfOpen?: boolean };

/**
 * Bytes a destination may hold queued before its source is paused. Node's writable default
 * (16 KiB) is smaller than one socket read (64 KiB), so every read would pause and resume the
 * source (a readStop/readStart pair each); this lets a few reads queue instead.
 */
export const RELAY_HIGH_WATER = 256 * 1024;

/** Set when a side closed before both of its directions were done. */
export class PrematureCloseError extends Error {
  readonly code = 'ERR_STREAM_PREMATURE_CLOSE';
  constructor() {
    super('One side of the relay closed before both directions had ended.');
  }
}

/** The relay ended a silent tunnel (see RelayTimeouts). */
export class RelayTimeoutError extends Error {
  readonly code = 'ERR_RELAY_TIMEOUT';
  constructor(
    readonly reason: RelayTimeoutReason,
    readonly timeoutMs: number,
  ) {
    super(reason === 'idle' ? `No byte moved either way for ${timeoutMs} ms.` : `One direction had ended and no byte moved for ${timeoutMs} ms.`);
  }
}

/** Quiet timer ticks in a row that end a tunnel: the timer runs at a quarter of the timeout. */
const QUIET_TICKS = 4;

const cleanlyDone = (s: Duplex): boolean => s.readableEnded && s.writableFinished;

/**
 * `then` once `s` has ended: at its 'end', or at once when it already had. A stream can end before
 * the relay starts: an HTTP/2 stream whose END_STREAM came without data while the gateway was still
 * checking its CONNECT has emitted 'end' already (Node ends an empty readable without a reader), and
 * waiting for a second one would never forward the FIN nor start the half-close timeout.
 */
const onceEnded = (s: Duplex, then: () => void): void => {
  if (s.readableEnded) process.nextTick(then);
  else s.once('end', then);
};

/** Relay bytes between `a` and `b` both ways; see the module comment for the close semantics. */
export function relay(a: Duplex, b: Duplex, options: RelayOptions = {}): Relay {
  let bytesUp = 0;
  let bytesDown = 0;
  let error: Error | undefined;
  let closedA = false;
  let closedB = false;
  let finished = false;
  // Half-close needs sockets that stay writable after their readable side ended.
  (a as HalfOpenable).allowHalfOpen = true;
  (b as HalfOpenable).allowHalfOpen = true;

  const tearDown = (err: Error): void => {
    error ??= err;
    stopWatch();
    // Destroyed with the error: an HTTP/2 stream destroyed without one defers its RST_STREAM
    // until its own END_STREAM is flushed, which for a stream half-closed before its answer never
    // happens, and the peer would hold the tunnel forever.
    if (!a.destroyed) a.destroy(err);
    if (!b.destroyed) b.destroy(err);
  };
  const onClose = (side: Duplex): void => {
    if (side === a) closedA = true;
    else closedB = true;
    if (!cleanlyDone(side)) tearDown(new PrematureCloseError());
    if (closedA && closedB && !finished) {
      finished = true;
      stopWatch();
      const timedOut = error instanceof RelayTimeoutError ? { timedOut: error.reason } : {};
      options.done?.(error === undefined ? { bytesUp, bytesDown } : { bytesUp, bytesDown, error, ...timedOut });
    }
  };

  const up = (chunk: Buffer): void => {
    bytesUp += chunk.length;
    if (!b.write(chunk) && b.writableLength >= RELAY_HIGH_WATER) a.pause();
  };
  const down = (chunk: Buffer): void => {
    bytesDown += chunk.length;
    if (!a.write(chunk) && a.writableLength >= RELAY_HIGH_WATER) b.pause();
  };
  const resumeA = (): void => {
    a.resume();
  };
  const resumeB = (): void => {
    b.resume();
  };
  const endB = (): void => {
    watchHalfClosed();
    if (!b.writableEnded) b.end();
  };
  const endA = (): void => {
    watchHalfClosed();
    if (!a.writableEnded) a.end();
  };

  // The silence watch: one timer, re-armed each tick; see the module comment.
  let timer: NodeJS.Timeout | undefined;
  let limitMs = 0;
  let reason: RelayTimeoutReason = 'idle';
  let quiet = 0;
  let moved = 0;
  let queued = 0;
  const stopWatch = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const tick = (): void => {
    const nowMoved = bytesUp + bytesDown;
    const nowQueued = a.writableLength + b.writableLength;
    if (nowMoved !== moved || nowQueued !== queued) quiet = 0;
    else quiet += 1;
    moved = nowMoved;
    queued = nowQueued;
    if (quiet >= QUIET_TICKS) tearDown(new RelayTimeoutError(reason, limitMs));
    else arm();
  };
  const arm = (): void => {
    timer = setTimeout(tick, limitMs / QUIET_TICKS);
    timer.unref();
  };
  const watch = (ms: number | undefined, why: RelayTimeoutReason): void => {
    // A shorter limit already running stays; the half-close limit is set once.
    if (ms === undefined || !(ms > 0) || finished || (limitMs > 0 && (limitMs < ms || reason === why))) return;
    stopWatch();
    limitMs = ms;
    reason = why;
    quiet = 0;
    moved = bytesUp + bytesDown;
    queued = a.writableLength + b.writableLength;
    arm();
  };
  const watchHalfClosed = (): void => watch(options.halfCloseTimeoutMs, 'half-close');
  watch(options.idleTimeoutMs, 'idle');

  a.on('error', tearDown);
  b.on('error', tearDown);
  a.once('close', () => onClose(a));
  b.once('close', () => onClose(b));

  a.on('data', up);
  b.on('drain', resumeA);
  onceEnded(a, endB);
  a.resume();

  const startDown = (): void => {
    if (b.destroyed && !b.readableEnded) return;
    b.on('data', down);
    a.on('drain', resumeB);
    onceEnded(b, endA);
    b.resume();
  };
  if (options.holdDown === undefined) startDown();
  else
    options.holdDown.then(startDown, (err: unknown) => tearDown(err instanceof Error ? err : new Error(String(err))));

  // A side that was already finished or gone before the relay started.
  for (const s of [a, b]) if (s.destroyed) process.nextTick(() => s.closed && onClose(s));

  return {
    get bytesUp() {
      return bytesUp;
    },
    get bytesDown() {
      return bytesDown;
    },
    destroy: (err?: Error) => tearDown(err ?? new PrematureCloseError()),
  };
}
