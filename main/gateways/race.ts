/**
 * The racing dial (Happy Eyeballs, RFC 8305, over gateway endpoints instead of address families):
 * the preferred endpoint starts first, the next one starts when `staggerMs` pass without a
 * verified TLS handshake, or at once when an attempt fails. The first attempt that verifies wins;
 * every other attempt is aborted, and one that still completes later is destroyed. A hung
 * endpoint (accepts TCP, never answers) therefore costs the stagger, not the connect timeout.
 *
 * `dialOne` does TCP + TLS + verification for one endpoint and must give up when its signal aborts
 * (today's main/tunnel/dial.ts does the same steps for one endpoint).
 */
import { PinholeError, type ErrorCode } from '../../shared/errors.js';
import { formatEndpoint, type Endpoint } from '../../shared/profile.js';

export const DEFAULT_STAGGER_MS = 250;
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 10_000;

export type DialOne<T> = (endpoint: Endpoint, signal: AbortSignal) => Promise<T>;

export interface RaceOptions<T> {
  /** Head start of each endpoint over the next one. */
  staggerMs?: number;
  /** Budget of one attempt (TCP + TLS + verify); the attempt is aborted after it. */
  attemptTimeoutMs?: number;
  /** Aborting it stops every attempt; the race rejects with the signal's reason (or NOT_CONNECTED). */
  signal?: AbortSignal;
  /** Disposes of a connection that lost the race (default: its `destroy()`, when it has one). */
  discard?: (connection: T) => void;
  /** Told when each attempt starts (for logs and tests). */
  onAttempt?: (endpoint: Endpoint, index: number) => void;
}

export interface EndpointFailure {
  endpoint: string;
  code: ErrorCode;
  message: string;
  /** Milliseconds from the start of the race to this failure. */
  afterMs: number;
}

export interface RaceWinner<T> {
  connection: T;
  endpoint: Endpoint;
  /** Position of the winner in the list given. */
  index: number;
  /** Milliseconds from the start of the race to the verified handshake. */
  elapsedMs: number;
  /** Milliseconds from the start of the winner's own attempt (a handshake-time RTT sample). */
  handshakeMs: number;
  /** Endpoints that failed before the winner verified. */
  failures: EndpointFailure[];
}

/**
 * Which failure names the whole race when every endpoint failed: a certificate problem first (it
 * is what a user must act on, and what a TLS-inspecting firewall looks like), then the rest.
 */
const PRECEDENCE: readonly ErrorCode[] = [
  'PINHOLE_TLS_PIN_MISMATCH',
  'PINHOLE_TLS_UNTRUSTED',
  'PINHOLE_UPSTREAM_AUTH_REQUIRED',
  'PINHOLE_UPSTREAM_AUTH_REJECTED',
  'PINHOLE_UPSTREAM_AUTH_UNSUPPORTED',
  'PINHOLE_UPSTREAM_PROXY_FAILED',
  'PINHOLE_TLS_FAILED',
  'PINHOLE_GATEWAY_TIMEOUT',
  'PINHOLE_GATEWAY_UNREACHABLE',
];

const asPinholeError = (err: unknown): PinholeError =>
  err instanceof PinholeError ? err : new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', undefined, { cause: err, details: { reason: (err as Error | undefined)?.message ?? String(err) } });

/** One PinholeError for a race that every endpoint lost, naming each endpoint's failure. */
export const aggregateFailure = (failures: readonly EndpointFailure[]): PinholeError => {
  const codes = new Set(failures.map((f) => f.code));
  const code = PRECEDENCE.find((c) => codes.has(c)) ?? failures[0]?.code ?? 'PINHOLE_GATEWAY_UNREACHABLE';
  const each = failures.map((f) => `${f.endpoint}: ${f.message.replace(/\.$/, '')}`).join('; ');
  const message = failures.length === 0 ? 'There is no gateway endpoint to dial.' : `No gateway endpoint could be used (${each}).`;
  return new PinholeError(code, message, { details: { failures: failures.map(({ endpoint, code: c, afterMs }) => ({ endpoint, code: c, afterMs })) } });
};

const defaultDiscard = (connection: unknown): void => {
  const destroy = (connection as { destroy?: unknown } | null)?.destroy;
  if (typeof destroy === 'function') (destroy as () => void).call(connection);
};

export const raceDial = <T>(endpoints: readonly Endpoint[], dialOne: DialOne<T>, options: RaceOptions<T> = {}): Promise<RaceWinner<T>> => {
  const staggerMs = options.staggerMs ?? DEFAULT_STAGGER_MS;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  const discard = options.discard ?? defaultDiscard;
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;

  return new Promise<RaceWinner<T>>((resolve, reject) => {
    const attempts: Array<{ controller: AbortController; timer: ReturnType<typeof setTimeout> }> = [];
    const failures: EndpointFailure[] = [];
    let next = 0;
    let settled = false;
    let staggerTimer: ReturnType<typeof setTimeout> | undefined;

    /** Ends the race; every attempt but the winner's is aborted (the winner's signal never fires). */
    const cleanup = (winner?: AbortController): void => {
      settled = true;
      clearTimeout(staggerTimer);
      options.signal?.removeEventListener('abort', onAbort);
      for (const attempt of attempts) {
        clearTimeout(attempt.timer);
        if (attempt.controller === winner) continue;
        attempt.controller.abort(new PinholeError('PINHOLE_GATEWAY_UNREACHABLE', 'Another gateway endpoint answered first.'));
      }
    };
    const onAbort = (): void => {
      if (settled) return;
      cleanup();
      const reason: unknown = options.signal?.reason;
      reject(reason instanceof PinholeError ? reason : new PinholeError('PINHOLE_NOT_CONNECTED', 'The dial was cancelled.', { cause: reason }));
    };

    const startNext = (): void => {
      clearTimeout(staggerTimer);
      if (settled) return;
      if (next >= endpoints.length) {
        if (failures.length === endpoints.length) {
          cleanup();
          reject(aggregateFailure(failures));
        }
        return;
      }
      const index = next++;
      const endpoint = endpoints[index] as Endpoint;
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new PinholeError('PINHOLE_GATEWAY_TIMEOUT', undefined, { details: { endpoint: formatEndpoint(endpoint), timeoutMs: attemptTimeoutMs } })),
        attemptTimeoutMs,
      );
      attempts.push({ controller, timer });
      const attemptStarted = performance.now();
      options.onAttempt?.(endpoint, index);
      let done = false;
      const fail = (err: unknown): void => {
        clearTimeout(timer);
        if (done || settled) return;
        done = true;
        const error = asPinholeError(err);
        failures.push({ endpoint: formatEndpoint(endpoint), code: error.code, message: error.message, afterMs: elapsed() });
        // A failure hands the turn to the next endpoint at once.
        startNext();
      };
      // An attempt that ignores its signal still loses when it is aborted (its timeout).
      controller.signal.addEventListener('abort', () => fail(controller.signal.reason), { once: true });
      let dialing: Promise<T>;
      try {
        dialing = dialOne(endpoint, controller.signal);
      } catch (err) {
        dialing = Promise.reject(err);
      }
      dialing.then(
        (connection) => {
          clearTimeout(timer);
          // A connection that verifies after the race is over (or after its own timeout) is closed, never leaked.
          if (done || settled) {
            discard(connection);
            return;
          }
          done = true;
          cleanup(controller);
          resolve({ connection, endpoint, index, elapsedMs: elapsed(), handshakeMs: Math.round((performance.now() - attemptStarted) * 10) / 10, failures: [...failures] });
        },
        fail,
      );
      // An infinite stagger is the old serial dial: the next endpoint only after a failure.
      if (next < endpoints.length && Number.isFinite(staggerMs)) staggerTimer = setTimeout(startNext, staggerMs);
    };

    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    startNext();
  });
};
