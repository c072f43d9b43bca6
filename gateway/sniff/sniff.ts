/**
 * The socket side of the sniffer: read a connection's first bytes until the probe table decides,
 * a timeout fires (sslh's on-timeout: clients like ssh-keyscan wait for the server to speak), or
 * the byte budget runs out, then put the bytes back (`socket.unshift`) so the chosen route, or a
 * TLSSocket wrapped around this socket, reads them as if nothing had happened.
 *
 * Cost: in the common case the first chunk decides and nothing is copied; chunks are joined only
 * when a second one is needed. The socket is never held longer than `timeoutMs`.
 */
import type { Socket } from 'node:net';
import type { ClientHello } from './client-hello.js';
import type { Probe } from './probe.js';
import { classify, tableMaxBytes, type Classification } from './probes.js';
import { PROXY_V2_MAX, parseProxyHeader, type ProxyHeader } from './proxy-protocol.js';

export interface SniffOptions {
  readonly probes: readonly Probe[];
  /** Give up waiting after this long and answer 'timeout' with whatever arrived. */
  readonly timeoutMs: number;
  /** Byte budget; defaults to the most any probe in the table needs. */
  readonly maxBytes?: number;
  /** Put the bytes back into the socket before resolving (default true). */
  readonly replay?: boolean;
}

export type SniffResult =
  | { readonly result: 'match'; readonly name: string; readonly hello?: ClientHello; readonly head: Buffer }
  | { readonly result: 'timeout'; readonly head: Buffer }
  | { readonly result: 'none'; readonly head: Buffer }
  | { readonly result: 'closed'; readonly head: Buffer };

/** How reading ends when `decide` never answered. */
export type ReadEnd =
  | { readonly result: 'timeout'; readonly head: Buffer }
  | { readonly result: 'closed'; readonly head: Buffer }
  | { readonly result: 'limit'; readonly head: Buffer };

/** Read until `decide` answers something other than undefined; the generic half of sniff(). */
export function readHead<T>(
  socket: Socket,
  decide: (head: Buffer) => T | undefined,
  options: { timeoutMs: number; maxBytes: number; replay?: boolean },
): Promise<T | ReadEnd> {
  return new Promise((resolve) => {
    if (socket.destroyed || socket.readableEnded) {
      resolve({ result: 'closed', head: Buffer.alloc(0) });
      return;
    }
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish({ result: 'timeout', head }, true), options.timeoutMs);
    function finish(value: T | ReadEnd, replay: boolean): void {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onClosed);
      socket.off('close', onClosed);
      socket.off('error', onClosed);
      if (replay && head.length > 0 && options.replay !== false) socket.unshift(head);
      resolve(value);
    }
    function onData(chunk: Buffer): void {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const decided = decide(head);
      if (decided !== undefined) finish(decided, true);
      else if (head.length >= options.maxBytes) finish({ result: 'limit', head }, true);
    }
    function onClosed(): void {
      finish({ result: 'closed', head }, false);
    }
    socket.on('data', onData);
    socket.on('end', onClosed);
    socket.on('close', onClosed);
    socket.on('error', onClosed);
    socket.resume();
  });
}

/** Sniff the protocol a fresh connection speaks; see the module comment. */
export async function sniff(socket: Socket, options: SniffOptions): Promise<SniffResult> {
  const maxBytes = options.maxBytes ?? tableMaxBytes(options.probes);
  const toResult = (c: Classification, head: Buffer): SniffResult | undefined => {
    if (c.kind === 'again') return undefined;
    if (c.kind === 'none') return { result: 'none', head };
    return c.hello === undefined ? { result: 'match', name: c.name, head } : { result: 'match', name: c.name, hello: c.hello, head };
  };
  const outcome = await readHead(socket, (head) => toResult(classify(head, options.probes), head), {
    timeoutMs: options.timeoutMs,
    maxBytes,
    ...(options.replay === undefined ? {} : { replay: options.replay }),
  });
  return outcome.result === 'limit' ? { result: 'none', head: outcome.head } : outcome;
}

export type ProxyHeaderRead =
  | { readonly result: 'header'; readonly header: ProxyHeader }
  | { readonly result: 'invalid'; readonly reason: string; readonly head: Buffer }
  | { readonly result: 'timeout'; readonly head: Buffer }
  | { readonly result: 'closed'; readonly head: Buffer };

/**
 * Read a PROXY v1/v2 header from a connection accepted from a trusted balancer. On success the
 * header is consumed and any bytes after it are put back, so `sniff` can run next; on failure the
 * bytes are put back too (the caller will usually close the socket).
 */
export async function readProxyHeader(socket: Socket, options: { timeoutMs: number }): Promise<ProxyHeaderRead> {
  type Decided = { result: 'header'; header: ProxyHeader; rest: Buffer } | { result: 'invalid'; reason: string; head: Buffer };
  const outcome = await readHead<Decided>(
    socket,
    (head) => {
      const parsed = parseProxyHeader(head);
      if (parsed.kind === 'again') return undefined;
      if (parsed.kind === 'invalid') return { result: 'invalid', reason: parsed.reason, head };
      return { result: 'header', header: parsed.header, rest: head.subarray(parsed.header.length) };
    },
    { timeoutMs: options.timeoutMs, maxBytes: PROXY_V2_MAX, replay: false },
  );
  switch (outcome.result) {
    case 'header':
      if (outcome.rest.length > 0) socket.unshift(outcome.rest);
      return { result: 'header', header: outcome.header };
    case 'limit':
      socket.unshift(outcome.head);
      return { result: 'invalid', reason: 'PROXY header too long', head: outcome.head };
    case 'closed':
      return outcome;
    default:
      if (outcome.head.length > 0) socket.unshift(outcome.head);
      return outcome;
  }
}
