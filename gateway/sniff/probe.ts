/**
 * The sniffer's vocabulary, after sslh's probe.c: a probe is a small pure function over the bytes
 * a connection has sent so far. It answers 'match', 'no', or 'again' (cannot tell yet, needs more
 * bytes). A probe never answers 'again' once it has seen `maxBytes` bytes, so sniffing is bounded.
 */
import type { ClientHello } from './client-hello.js';

export type ProbeResult = 'match' | 'no' | 'again';

/** What a probe may answer: the TLS probe also hands back the ClientHello it parsed. */
export type ProbeAnswer = ProbeResult | { readonly result: 'match'; readonly hello: ClientHello };

export interface Probe {
  readonly name: string;
  /** After this many bytes the probe always decides ('match' or 'no'). */
  readonly maxBytes: number;
  probe(bytes: Uint8Array): ProbeAnswer;
}
