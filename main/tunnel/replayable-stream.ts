/**
 * An early tunnel's stream that can move to a new HTTP/2 stream (or, on HTTP/1.1, a new TLS
 * connection) before the gateway answers.
 *
 * An early tunnel sends the application's first bytes with its CONNECT. When a gateway stops
 * (rolling restart), a CONNECT that crossed its GOAWAY, or one nghttp2 had queued when the GOAWAY
 * came in, ends with REFUSED_STREAM: the gateway never processed it (RFC 9113 8.7), so it is safe
 * to send again on a fresh connection - but the caller already wrote bytes to the first stream.
 * This Duplex keeps what was written until `settle()` (the gateway said 2xx) so `replaceWith`
 * can replay it on the new stream. Past `REPLAY_LIMIT` bytes nothing more is kept and no replay
 * is possible (the caller then sees the refusal, as before).
 */
import { Duplex } from 'node:stream';

export const REPLAY_LIMIT = 256 * 1024;

export class ReplayableStream extends Duplex {
  private inner: Duplex;
  private kept: Buffer[] | undefined = [];
  private keptBytes = 0;
  private writeDone: ((err?: Error | null) => void) | undefined;
  private innerEnded = false;
  private settled = false;
  /** The application's end, held until the answer (holdUntilAnswer). */
  private finalHeld: ((err?: Error | null) => void) | undefined;
  /** The inner stream ended before the answer (its session died): held, since a replay may follow. */
  private endHeld = false;
  private readonly onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.inner.pause();
  };
  private readonly onEnd = (): void => {
    this.innerEnded = true;
    if (this.settled) this.push(null);
    else this.endHeld = true;
  };

  /**
   * `holdUntilAnswer`: the inner stream is a whole connection (HTTP/1.1, WebSocket) carrying the
   * gateway's answer head before the tunnel's bytes: nothing is read from it, and the
   * application's end is not passed on (a half-closed connection could not be answered), until
   * `settle()`.
   */
  constructor(
    first: Duplex,
    private readonly options: { holdUntilAnswer?: boolean } = {},
  ) {
    super({ allowHalfOpen: true });
    this.inner = first;
    this.wire();
  }

  /** Whether everything written so far can still be replayed. */
  get canReplay(): boolean {
    return this.kept !== undefined;
  }

  /** The gateway accepted: stop keeping bytes, and from now on the inner stream's failures are this stream's. */
  settle(): void {
    this.kept = undefined;
    this.settled = true;
    if (this.options.holdUntilAnswer === true) {
      this.wire();
      if (this.readableFlowing === true) this.inner.resume();
      const ended = this.finalHeld;
      this.finalHeld = undefined;
      if (ended !== undefined) {
        this.inner.end();
        ended();
      }
    }
    if (this.endHeld) {
      this.endHeld = false;
      this.push(null);
    }
    this.inner.once('error', (err: Error) => this.destroy(err));
    this.inner.once('close', () => {
      if (!this.innerEnded && !this.destroyed) this.destroy(new Error('The tunnel stream closed before its end.'));
    });
  }

  /** Continue on `next`: what was written so far is written to it again. */
  replaceWith(next: Duplex): void {
    if (this.kept === undefined) throw new Error('Nothing to replay: too much was written, or the tunnel was already answered.');
    this.inner.off('data', this.onData);
    this.inner.off('end', this.onEnd);
    this.inner.destroy();
    this.inner = next;
    this.innerEnded = false;
    this.endHeld = false;
    for (const chunk of this.kept) next.write(chunk);
    // Held until the answer instead (settle), on a whole connection.
    if (this.options.holdUntilAnswer !== true && (this.writableFinished || this.writableEnded)) next.end();
    this.wire();
    const done = this.writeDone;
    this.writeDone = undefined;
    done?.();
  }

  private wire(): void {
    if (this.options.holdUntilAnswer === true && !this.settled) return;
    this.inner.on('data', this.onData);
    this.inner.on('end', this.onEnd);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.kept !== undefined) {
      this.keptBytes += chunk.length;
      if (this.keptBytes > REPLAY_LIMIT) this.kept = undefined;
      else this.kept.push(chunk);
    }
    if (this.inner.write(chunk)) {
      callback();
      return;
    }
    // Held until the inner stream drains, or until replaceWith moves on to the next one.
    this.writeDone = callback;
    const inner = this.inner;
    inner.once('drain', () => {
      if (this.inner !== inner || this.writeDone !== callback) return;
      this.writeDone = undefined;
      callback();
    });
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.options.holdUntilAnswer === true && !this.settled) {
      this.finalHeld = callback;
      return;
    }
    this.inner.end();
    callback();
  }

  override _read(): void {
    if (this.options.holdUntilAnswer === true && !this.settled) return;
    this.inner.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.inner.off('data', this.onData);
    // A tunnel that ended cleanly both ways is left to close on its own: an h2 stream destroyed
    // before nghttp2 closed it sends RST_STREAM (NO_ERROR) after its END_STREAM, and a gateway's
    // nghttp2 answers more than ~1,000 of those at over 33/s with GOAWAY (CVE-2023-44487's limit),
    // ending every tunnel on the session. Otherwise the error goes on: an h2 stream destroyed with
    // one sends its RST at once (node/relay.ts).
    if (err === null && this.innerEnded && this.inner.writableEnded) {
      callback(null);
      return;
    }
    this.inner.destroy(err ?? undefined);
    callback(err);
  }
}
