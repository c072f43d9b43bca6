/**
 * A password guesser, as an attacker would run one: TLS to the gateway, HTTP/1.1 `CONNECT` with
 * wrong Basic credentials, a new connection per guess, `concurrency` at once. Bounded by a count
 * and a deadline. Free of test-framework imports so bench/ uses it too.
 */
import type { ConnectionOptions } from 'node:tls';
import { openTunnel } from './proxy-requests.js';

export interface Guess {
  status: number;
  /** The Pinhole-Error header. */
  code: string | undefined;
  retryAfter: string | undefined;
  /** When the answer arrived (Date.now()) and how long it took. */
  at: number;
  ms: number;
  /** The whole answer (status line, headers, body) for byte comparisons. */
  raw: string;
}

export interface GuessTarget {
  port: number;
  hostname: string;
  /** The CONNECT target (an allowed destination, so only auth decides). */
  target: string;
  user: string;
  /** Connect from this loopback address (e.g. 127.0.0.2): a guesser the gateway can tell from the real user. */
  localAddress?: string;
}

/** One guess on a fresh TLS connection. Errors (a reset, a timeout) come back as status 0. */
export const guessOnce = async ({ port, hostname, target, user, localAddress }: GuessTarget, password: string, timeoutMs = 20_000): Promise<Guess> => {
  const started = Date.now();
  try {
    // tls.connect passes socket.connect() options (localAddress) through.
    const tls = { servername: hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(localAddress === undefined ? {} : { localAddress }) } as ConnectionOptions;
    const reply = await openTunnel({
      proxy: { port, tls, auth: { user, password } },
      target,
      timeoutMs,
    });
    reply.socket.destroy();
    const raw = `${reply.status} ${reply.reason}\n${Object.entries(reply.headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n')}\n\n${reply.body.toString('utf8')}`;
    return { status: reply.status, code: reply.headers['pinhole-error'], retryAfter: reply.headers['retry-after'], at: Date.now(), ms: Date.now() - started, raw };
  } catch (err) {
    return { status: 0, code: (err as Error).message, retryAfter: undefined, at: Date.now(), ms: Date.now() - started, raw: '' };
  }
};

export interface FloodOptions extends GuessTarget {
  concurrency: number;
  /** Stop after this many guesses in all. */
  maxGuesses: number;
  /** Stop at this time (Date.now()). */
  until: number;
  /** Stop early when this says so (checked before each guess). */
  stop?: (guesses: readonly Guess[]) => boolean;
}

/** `concurrency` guessers, each guessing again as soon as it has an answer; every answer, in order. */
export const guessFlood = async (options: FloodOptions): Promise<Guess[]> => {
  const guesses: Guess[] = [];
  let started = 0;
  const lane = async (lane: number): Promise<void> => {
    while (started < options.maxGuesses && Date.now() < options.until && !(options.stop?.(guesses) ?? false)) {
      const n = started++;
      guesses.push(await guessOnce(options, `wrong-${lane}-${n}-${Math.random().toString(36).slice(2)}`, Math.max(1_000, options.until - Date.now() + 5_000)));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => lane(i)));
  return guesses;
};
