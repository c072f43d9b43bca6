/**
 * The native byte path (`native/`, a Node-API addon built by `npm ci`): JavaScript keeps every
 * decision and hands descriptors over; a native thread moves the bytes (TLS records with the OpenSSL
 * that the node binary exports, plain TCP with large buffers) and reports only events.
 *
 * The JavaScript relay (node/relay.ts) stays the reference and the fallback: it runs where the
 * addon is not built or does not load (`require()` fails at once: the addon links with `-z now`),
 * under Electron (BoringSSL exports no OpenSSL symbols, NATIVE.md section 5), and with
 * `--byte-path js` / PINHOLE_BYTE_PATH=js.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { RelayTimeoutError, type RelayTimeouts } from '../relay.js';

export type BytePathKind = 'native' | 'js';

/** The addon's own surface (native/src/addon.cc). */
interface Addon {
  init(onEvent: (kind: number, id: number, first: number, second: number, payload: unknown, text: string) => void): void;
  tlsConnect(fd: number, servername: string, alpn: Buffer): number;
  verified(id: number, head: Buffer): void;
  send(id: number, bytes: Buffer): void;
  attach(id: number, fd: number, toGateway: Buffer | undefined, toApplication: Buffer | undefined, idleMs?: number, halfCloseMs?: number): void;
  relayPlain(fdA: number, fdB: number, toB: Buffer | undefined, toA: Buffer | undefined, copy: boolean, idleMs?: number, halfCloseMs?: number): number;
  destroy(id: number): void;
  counts(id: number): [number, number];
  socketPair(): [number, number];
  openssl(): string;
}

const EVENT_SECURE = 1;
const EVENT_HEAD = 2;
const EVENT_HALF_CLOSE = 3;
const EVENT_CLOSE = 4;

/** Byte counts are what the native path read from each side; bytes handed over with attach() are the owner's to count. */
export interface NativeRelayResult {
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Why the relay ended when it did not end cleanly in both directions. */
  readonly error?: Error;
  /** Of those bytes, how many the kernel moved with splice() (plain relays), never copied to user space. */
  readonly splicedBytes?: number;
}

/** What a relay owner hears; every member optional. */
export interface NativeRelayEvents {
  secure?(certificates: Buffer[], alpn: string, resumed: boolean): void;
  head?(head: Buffer): void;
  halfClose?(direction: 'up' | 'down'): void;
  close?(result: NativeRelayResult): void;
}

/** Thrown when a socket cannot be handed over (no descriptor: destroyed, or not a TCP/pipe socket). */
export class HandoverError extends Error {
  readonly code = 'PINHOLE_NATIVE_HANDOVER';
}

/** The engine's close text for a relay it ended for silence (native/src/engine.cc sweep()). */
const TIMEOUT_PREFIX = 'PINHOLE_RELAY_TIMEOUT ';

/** The relay's timeouts in whole milliseconds for the engine (0: no limit). */
const limitsOf = (timeouts: RelayTimeouts = {}): [number, number] => [Math.max(0, Math.round(timeouts.idleTimeoutMs ?? 0)), Math.max(0, Math.round(timeouts.halfCloseTimeoutMs ?? 0))];

/** The application sockets handed over, with the relay that now carries their bytes (the local proxy's counters). */
const handedOver = new WeakMap<Socket, NativeRelay>();

/** The native relay that took over `socket`, if one did: its counts continue the socket's own, and its close the socket's ('close' came at the handover). */
export const nativeRelayOf = (socket: Socket): NativeRelay | undefined => handedOver.get(socket);

/** A relay whose bytes move on the native thread. */
export class NativeRelay {
  private ended = false;
  private finalCounts: [number, number] | undefined;
  private timeouts: RelayTimeouts = {};
  private settle: ((result: NativeRelayResult) => void) | undefined;
  /** Settles once, with the close event's result. */
  readonly done: Promise<NativeRelayResult>;

  constructor(
    private readonly addon: Addon,
    readonly id: number,
    private readonly events: NativeRelayEvents,
  ) {
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  /** Bytes read from the application (up) and from the gateway (down) so far: live, no event needed. */
  get bytesUp(): number {
    return this.finalCounts?.[0] ?? this.addon.counts(this.id)[0];
  }

  get bytesDown(): number {
    return this.finalCounts?.[1] ?? this.addon.counts(this.id)[1];
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Limits for relays started from here on (attach), the JavaScript relay's --idle-timeout / --half-close-timeout. */
  setTimeouts(timeouts: RelayTimeouts): void {
    this.timeouts = timeouts;
  }

  /** The gateway's certificate was accepted: send the CONNECT head and read the answer's head. */
  verified(head: Buffer): void {
    this.addon.verified(this.id, head);
  }

  /**
   * The gateway's certificate was accepted, and the session waits for its CONNECT head (a warm
   * pool's): the engine watches it meanwhile and closes it if the gateway talks or hangs up.
   */
  accept(): void {
    this.addon.verified(this.id, Buffer.alloc(0));
  }

  /**
   * Bytes for the gateway before its answer: an accepted session's CONNECT head, then a tunnel's early
   * bytes. Once the answer is in they wait in the engine and go only if `attach` follows (a 2xx).
   */
  send(bytes: Buffer): void {
    this.addon.send(this.id, bytes);
  }

  /**
   * Relay between `application` and the TLS session. `toGateway`: bytes the application already sent
   * (read by JavaScript with its request head); `toApplication`: bytes to give it first (the 200).
   */
  attach(application: Socket, toGateway?: Buffer, toApplication?: Buffer): void {
    const fd = descriptorOf(application);
    const pending = takeReadable(application);
    const up = pending === undefined ? toGateway : toGateway === undefined ? pending : Buffer.concat([toGateway, pending]);
    this.addon.attach(this.id, fd, up, toApplication, ...limitsOf(this.timeouts));
    handedOver.set(application, this);
    application.destroy();
  }

  destroy(): void {
    if (!this.ended) this.addon.destroy(this.id);
  }

  /** An event from the addon for this relay (NativeBytePath routes them by id). */
  dispatch(kind: number, first: number, second: number, payload: unknown, text: string): void {
    switch (kind) {
      case EVENT_SECURE:
        this.events.secure?.(payload as Buffer[], text, first === 1);
        return;
      case EVENT_HEAD:
        this.events.head?.(payload as Buffer);
        return;
      case EVENT_HALF_CLOSE:
        this.events.halfClose?.(first === 0 ? 'up' : 'down');
        return;
      case EVENT_CLOSE: {
        this.ended = true;
        this.finalCounts = [first, second];
        const counts = { bytesUp: first, bytesDown: second, splicedBytes: typeof payload === 'number' ? payload : 0 };
        const result: NativeRelayResult = text === '' ? counts : { ...counts, error: closeError(text, this.timeouts) };
        this.settle?.(result);
        this.events.close?.(result);
        return;
      }
    }
  }
}

/** The engine's close text as an error: its silence timeouts become the JavaScript relay's RelayTimeoutError. */
const closeError = (text: string, timeouts: RelayTimeouts): Error => {
  if (!text.startsWith(TIMEOUT_PREFIX)) return new Error(text);
  const reason = text.slice(TIMEOUT_PREFIX.length) === 'half-close' ? 'half-close' : 'idle';
  const ms = reason === 'half-close' ? Math.min(timeouts.halfCloseTimeoutMs || Infinity, timeouts.idleTimeoutMs || Infinity) : (timeouts.idleTimeoutMs ?? 0);
  return new RelayTimeoutError(reason, Number.isFinite(ms) ? ms : 0);
};

// libuv's stream handle exposes its descriptor (NATIVE.md section 2); undocumented, so read with care.
const descriptorOf = (socket: Socket): number => {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new HandoverError('This connection has no descriptor to hand to the native byte path.');
  if (socket.writableLength > 0) throw new HandoverError('This connection still has bytes queued to write; hand it over once they are written.');
  return fd;
};

/** Bytes Node already read from the socket (a socket not paused in time): they go first. */
const takeReadable = (socket: Socket): Buffer | undefined => {
  const chunks: Buffer[] = [];
  let chunk: unknown;
  while ((chunk = socket.read()) !== null) chunks.push(chunk as Buffer);
  return chunks.length === 0 ? undefined : Buffer.concat(chunks);
};

/** ALPN protocol names in TLS wire format (each prefixed by its length). */
export const alpnWire = (protocols: readonly string[]): Buffer =>
  Buffer.concat(protocols.map((p) => Buffer.concat([Buffer.from([Buffer.byteLength(p)]), Buffer.from(p)])));

/** The loaded addon, one per process (or per worker thread). */
export class NativeBytePath {
  readonly kind = 'native' as const;
  private readonly relays = new Map<number, NativeRelay>();

  constructor(private readonly addon: Addon) {
    addon.init((kind, id, first, second, payload, text) => {
      const relay = this.relays.get(id);
      if (relay === undefined) return;
      if (kind === EVENT_CLOSE) this.relays.delete(id);
      relay.dispatch(kind, first, second, payload, text);
    });
  }

  /** The OpenSSL the addon runs with (the node binary's own). */
  get openssl(): string {
    return this.addon.openssl();
  }

  get activeRelays(): number {
    return this.relays.size;
  }

  /**
   * A TLS client session on `socket` (connected to the gateway, paused before any byte was read):
   * the handshake runs natively; `secure` reports the peer's certificates for JavaScript to judge.
   */
  tlsConnect(socket: Socket, servername: string, alpn: readonly string[], events: NativeRelayEvents): NativeRelay {
    const fd = descriptorOf(socket);
    if (socket.readableLength > 0) throw new HandoverError('The gateway connection was read before the handover; pause it before it connects.');
    const id = this.addon.tlsConnect(fd, servername, alpnWire(alpn));
    socket.destroy();
    return this.track(id, events);
  }

  /** Relay between two plain sockets (pass-through routes, a plain hop). */
  /**
   * Relay two plain sockets. Each direction splices through a pipe from a bounded pool (copying when
   * none is free or splice() is not supported); `copy: true` always copies (to compare, and tests).
   */
  relayPlain(a: Socket, b: Socket, events: NativeRelayEvents, options: { copy?: boolean; timeouts?: RelayTimeouts } = {}): NativeRelay {
    const fdA = descriptorOf(a);
    const fdB = descriptorOf(b);
    const toB = takeReadable(a);
    const toA = takeReadable(b);
    const id = this.addon.relayPlain(fdA, fdB, toB, toA, options.copy === true, ...limitsOf(options.timeouts));
    const relay = this.track(id, events);
    if (options.timeouts !== undefined) relay.setTimeouts(options.timeouts);
    handedOver.set(a, relay);
    handedOver.set(b, relay);
    a.destroy();
    b.destroy();
    return relay;
  }

  /** A connected pair of AF_UNIX stream descriptors (close-on-exec, non-blocking), both the caller's. */
  socketPair(): [number, number] {
    return this.addon.socketPair();
  }

  private track(id: number, events: NativeRelayEvents): NativeRelay {
    const relay = new NativeRelay(this.addon, id, events);
    this.relays.set(id, relay);
    return relay;
  }
}

/** Why the JavaScript path runs instead, as a sentence for the start-up log line. */
export type BytePathChoice = { readonly kind: 'native'; readonly path: NativeBytePath } | { readonly kind: 'js'; readonly reason: string };

const ADDON_FILE = join('native', 'build', 'Release', 'pinhole_native.node');

/** The addon file: beside the sources (`node/native/`) or the compiled output (`dist/node/native/`). */
const findAddon = (): string | undefined => {
  // A sanitizer build elsewhere (the AddressSanitizer test) is named explicitly.
  const named = process.env.PINHOLE_NATIVE_ADDON;
  if (named !== undefined && named !== '') return named;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
};

let loaded: BytePathChoice | undefined;

/** Loads the native byte path once, or says why the JavaScript one runs. */
export const chooseBytePath = (wanted: BytePathKind | 'auto' = 'auto'): BytePathChoice => {
  if (wanted === 'js') return { kind: 'js', reason: 'the JavaScript byte path was asked for (--byte-path js)' };
  if (process.env.PINHOLE_BYTE_PATH === 'js') return { kind: 'js', reason: 'the JavaScript byte path was asked for (PINHOLE_BYTE_PATH=js)' };
  if (process.versions.electron !== undefined) return { kind: 'js', reason: 'under Electron the native byte path cannot use OpenSSL (Electron ships BoringSSL)' };
  if (loaded !== undefined) return loaded;
  const file = findAddon();
  if (file === undefined) return (loaded = { kind: 'js', reason: 'the native byte path is not built (npm ci builds it on Linux with a C++ compiler)' });
  try {
    const addon = createRequire(import.meta.url)(file) as Addon;
    loaded = { kind: 'native', path: new NativeBytePath(addon) };
  } catch (err) {
    loaded = { kind: 'js', reason: `the native byte path did not load: ${err instanceof Error ? err.message : String(err)}` };
  }
  return loaded;
};
