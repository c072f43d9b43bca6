/**
 * `run` flags for the defences against hostile clients (penalties, the check queue, limits) and
 * `--state`: each maps to one gateway.yaml field, so the one schema in config.ts checks both.
 */
import type { GatewayFile } from '../config.js';
import { usage } from './common.js';

interface GuardFlag {
  readonly field: keyof GatewayFile;
  /** How the value reads: a count, seconds (fractions allowed where the schema allows), or text. */
  readonly kind: 'count' | 'seconds' | 'text';
  readonly help: string;
  /** How the value is shown in --help, when not N or S. */
  readonly value?: string;
}

export const GUARD_FLAGS: Readonly<Record<string, GuardFlag>> = {
  'auth-max-failures': { field: 'authMaxFailures', kind: 'count', help: 'wrong passwords per (source address, user) before 429 (default 10)' },
  'auth-max-source-failures': { field: 'authMaxSourceFailures', kind: 'count', help: 'wrong passwords per source address, all users, before 429 (default 50)' },
  'auth-delay-after': { field: 'authDelayAfter', kind: 'count', help: 'failures per (source, user) answered without delay (default 3)' },
  'auth-delay': { field: 'authDelaySeconds', kind: 'seconds', help: 'first delay, doubling per further failure (default 0.25)' },
  'auth-delay-max': { field: 'authDelayMaxSeconds', kind: 'seconds', help: 'longest delay; refusals are held this long too (default 4)' },
  'auth-window': { field: 'authWindowSeconds', kind: 'seconds', help: 'failures are forgotten this long after the first (default 600)' },
  'auth-block': { field: 'authBlockSeconds', kind: 'seconds', help: 'first refusal (Retry-After), doubling per repeat (default 60)' },
  'auth-block-max': { field: 'authBlockMaxSeconds', kind: 'seconds', help: 'longest refusal (default 3600)' },
  'auth-negative-cache': { field: 'authNegativeCacheSeconds', kind: 'seconds', help: 'the same wrong credential is answered without bcrypt for this long (default 60)' },
  'auth-max-pending': { field: 'authMaxPending', kind: 'count', help: 'password checks queued or running before 503 (default 64)' },
  'auth-concurrency': { field: 'authConcurrency', kind: 'count', help: 'password checks at once (default: CPUs - 1, 1 to 3)' },
  'max-tunnels-per-user': { field: 'maxTunnelsPerUser', kind: 'count', help: 'open tunnels one user may hold (default 20000)' },
  'max-tunnels-per-source': { field: 'maxTunnelsPerSource', kind: 'count', help: 'open tunnels one source address may hold (default 50000)' },
  'max-streams-per-session': { field: 'maxStreamsPerSession', kind: 'count', help: 'concurrent HTTP/2 streams per connection (default 20000)' },
  'max-header-bytes': { field: 'maxHeaderBytes', kind: 'count', help: 'largest request head, HTTP/1.1 and HTTP/2 (default 16384)' },
  'half-close-timeout': { field: 'halfCloseTimeout', kind: 'seconds', help: 'a tunnel one side has closed ends after this long without a byte (default 15, 0 = never)' },
  'idle-timeout': { field: 'idleTimeout', kind: 'seconds', help: 'a tunnel ends after this long without a byte either way (default 3600, 0 = never)' },
  'max-connections': { field: 'maxConnections', kind: 'count', help: 'connections held before new requests get 503 (default: the descriptor limit less a tenth)' },
  'byte-path': { field: 'bytePath', kind: 'text', value: 'js|native|auto', help: 'which code moves the bytes of pass-through routes: native (splice) where the addon loads, or js (default auto)' },
  state: { field: 'state', kind: 'text', value: 'URL', help: 'redis://HOST:PORT: share penalties between gateways (local counting while it is away)' },
  'state-timeout': { field: 'stateTimeoutSeconds', kind: 'seconds', help: 'a Redis call unanswered this long: count locally until Redis answers (default 0.25)' },
  'tls-profile': { field: 'tlsProfile', kind: 'text', value: 'NAME', help: 'the TLS offer: intermediate (TLS 1.2 AEAD suites and 1.3, default) or modern (TLS 1.3 only)' },
};

/** parseArgs options for every guard flag. */
export const GUARD_FLAG_OPTIONS = Object.fromEntries(Object.keys(GUARD_FLAGS).map((flag) => [flag, { type: 'string' as const }])) as Record<
  keyof typeof GUARD_FLAGS,
  { type: 'string' }
>;

/** The --help lines. */
export const GUARD_FLAG_HELP = Object.entries(GUARD_FLAGS)
  .map(([flag, { help, kind, value }]) => `  --${`${flag} ${value ?? (kind === 'seconds' ? 'S' : 'N')}`.padEnd(30)} ${help}`)
  .join('\n');

/** The config overrides the given flags ask for (numbers checked here, ranges by the schema). */
export function guardOverrides(values: Record<string, unknown>): Partial<GatewayFile> {
  const out: Record<string, unknown> = {};
  for (const [flag, { field, kind }] of Object.entries(GUARD_FLAGS)) {
    const text = values[flag];
    if (typeof text !== 'string') continue;
    if (kind === 'text') {
      out[field] = text;
      continue;
    }
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < 0) usage(`--${flag} ${text} is not a number.`);
    out[field] = n;
  }
  return out as Partial<GatewayFile>;
}
