/**
 * One WebSocket as a byte stream, with Pinhole's half-close protocol (documented in
 * gateway/ws-tunnel.ts), used by the client (main/tunnel/wss-transport.ts) and the gateway alike:
 *
 *   - BINARY messages are bytes; the TEXT message END_OF_STREAM ends the readable side, and ending
 *     the writable side sends it ("no more bytes in this direction");
 *   - once it has gone both ways the WebSocket closes with 1000;
 *   - a close before that, BINARY after the end, or any other TEXT destroys the stream with an error.
 *
 * Without half-close (an old peer that did not offer or echo `Pinhole-Half-Close: 1`), ending the
 * writable side closes the WebSocket and a close from the peer ends the readable side: one
 * direction ending ends both, as protocol version 1 always did.
 *
 * Backpressure: writes complete while the WebSocket holds less than HIGH_WATER unsent bytes; reads
 * pause the WebSocket when the consumer does not keep up.
 */
import { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { PinholeError, type ErrorCode } from '../shared/errors.js';
import { END_OF_STREAM } from '../shared/ws-tunnel.js';

/** Unsent bytes the WebSocket may hold before a write waits. */
export const WS_HIGH_WATER = 256 * 1024;
const END_BYTES = Buffer.from(END_OF_STREAM);

export interface WsDuplexOptions {
  /** Both sides agreed on half-close (`Pinhole-Half-Close: 1` offered and echoed). */
  readonly halfClose: boolean;
  /** The code of the error a broken tunnel is destroyed with (the peer's name differs by side). */
  readonly brokenCode?: ErrorCode;
}

const SEND_BINARY = { binary: true } as const;
const SEND_TEXT = { binary: false } as const;

export function wsDuplex(ws: WebSocket, options: WsDuplexOptions): Duplex {
  const brokenCode = options.brokenCode ?? 'PINHOLE_GATEWAY_CLOSED';
  const broken = (sentence: string): PinholeError => new PinholeError(brokenCode, sentence);
  let sentEnd = false;
  let gotEnd = false;
  const clean = (): boolean => sentEnd && gotEnd;
  const closeWhenDone = (): void => {
    if (clean() && ws.readyState === ws.OPEN) ws.close(1000);
  };
  // The one write waiting for the WebSocket's buffer to drain below HIGH_WATER.
  let waiting: ((err?: Error | null) => void) | undefined;
  const sent = (err?: Error): void => {
    if (waiting === undefined) return;
    if (err || ws.bufferedAmount < WS_HIGH_WATER) {
      const callback = waiting;
      waiting = undefined;
      callback(err ?? null);
    }
  };

  const stream = new Duplex({
    allowHalfOpen: true,
    read() {
      if (ws.isPaused) ws.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (ws.readyState !== ws.OPEN) {
        callback(broken('The WebSocket tunnel is closed.'));
        return;
      }
      ws.send(chunk, SEND_BINARY, sent);
      if (ws.bufferedAmount < WS_HIGH_WATER) callback();
      else waiting = callback;
    },
    final(callback) {
      if (!options.halfClose) {
        sentEnd = true;
        if (ws.readyState === ws.OPEN) ws.close(1000);
        callback();
        return;
      }
      ws.send(END_OF_STREAM, SEND_TEXT, (err) => {
        if (!err) sentEnd = true;
        callback(err);
        closeWhenDone();
      });
    },
    destroy(err, callback) {
      if (waiting !== undefined) sent(err ?? broken('The WebSocket tunnel was closed.'));
      if (ws.readyState === ws.CLOSED) {
        callback(err);
        return;
      }
      ws.once('close', () => callback(err));
      if (err === null && clean()) ws.close(1000);
      else ws.terminate();
    },
  });

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary && !gotEnd) {
      if (!stream.push(data)) ws.pause();
    } else if (options.halfClose && !isBinary && !gotEnd && END_BYTES.equals(data)) {
      gotEnd = true;
      stream.push(null);
      ws.resume(); // read() is not called after the end; only the close frame can follow now
      closeWhenDone();
    } else {
      stream.destroy(broken('The WebSocket peer sent bytes after the end of the stream, or an unknown message.'));
    }
  });
  ws.on('error', (err) => stream.destroy(err));
  ws.once('close', () => {
    if (options.halfClose) {
      if (!clean()) stream.destroy(broken('The WebSocket tunnel closed before both directions had ended.'));
      return;
    }
    // Version 1: the peer's close ends what it sent; a later write fails, which tears the relay down.
    gotEnd = true;
    stream.push(null);
  });
  return stream;
}
