/**
 * The stream of a WebSocket tunnel started early (issue 24): the application's bytes travel as
 * masked BINARY frames (RFC 6455 5.2) right behind the upgrade request, before the gateway's 101,
 * which a Pinhole gateway reads as the tunnel's first bytes (shared/early-data.ts); `ws` itself
 * sends nothing before its 'open'. Bytes written before the request is on the connection wait for
 * it (`requestSent`). Once the gateway accepted (`accepted`), the WebSocket's own stream
 * (node/ws-duplex.ts) carries both directions; nothing is read before that. Ending the writable
 * side before the answer is held until then (the half-close `end` message is the WebSocket's to send).
 */
import { randomFillSync } from 'node:crypto';
import { Duplex } from 'node:stream';

const BINARY = 0x82; // FIN + opcode 2

/** One masked BINARY frame carrying `payload`, as a client sends it (RFC 6455 5.2). */
export const maskedBinaryFrame = (payload: Buffer): Buffer => {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + lengthBytes + 4 + length);
  frame[0] = BINARY;
  frame[1] = 0x80 | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) frame.writeUInt16BE(length, 2);
  else if (lengthBytes === 8) frame.writeBigUInt64BE(BigInt(length), 2);
  const maskAt = 2 + lengthBytes;
  randomFillSync(frame, maskAt, 4);
  const dataAt = maskAt + 4;
  for (let i = 0; i < length; i++) frame[dataAt + i] = payload[i]! ^ frame[maskAt + (i & 3)]!;
  return frame;
};

type WriteDone = (err?: Error | null) => void;

export class EarlyWsStream extends Duplex {
  private inner: Duplex | undefined;
  private sent = false;
  private waiting: { chunk: Buffer; done: WriteDone }[] = [];
  private endWaiting: WriteDone | undefined;

  /** `connection`: the TLS connection the upgrade request goes on. */
  constructor(private readonly connection: Duplex) {
    super({ allowHalfOpen: true });
  }

  /** The upgrade request is on the connection: frames may follow it. */
  requestSent(): void {
    if (this.sent || this.destroyed) return;
    this.sent = true;
    for (const { chunk, done } of this.waiting.splice(0)) this.connection.write(maskedBinaryFrame(chunk), done);
  }

  /** The gateway accepted: the WebSocket's stream carries the bytes from now on. */
  accepted(inner: Duplex): void {
    if (this.destroyed) {
      inner.destroy();
      return;
    }
    this.inner = inner;
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('error', (err: Error) => this.destroy(err));
    inner.once('close', () => {
      if (!inner.readableEnded && !this.destroyed) this.destroy(new Error('The tunnel stream closed before its end.'));
    });
    const ended = this.endWaiting;
    this.endWaiting = undefined;
    if (ended !== undefined) {
      inner.end();
      ended();
    }
    if (this.readableFlowing === true) inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: WriteDone): void {
    if (this.inner !== undefined) this.inner.write(chunk, (err) => done(err));
    else if (this.sent) this.connection.write(maskedBinaryFrame(chunk), done);
    else this.waiting.push({ chunk, done });
  }

  override _final(done: WriteDone): void {
    if (this.inner === undefined) this.endWaiting = done;
    else {
      this.inner.end();
      done();
    }
  }

  override _read(): void {
    this.inner?.resume();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.waiting = [];
    // Before the answer the connection is this stream's; after it, the WebSocket's, which closes
    // it itself (1000) once both directions ended cleanly.
    if (this.inner === undefined) this.connection.destroy();
    else if (err !== null || !(this.inner.readableEnded && this.inner.writableEnded)) this.inner.destroy(err ?? undefined);
    done(err);
  }
}
