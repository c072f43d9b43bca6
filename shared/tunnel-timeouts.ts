/**
 * How long a silent tunnel lives (issue 28), the same on both sides: after one direction has ended
 * (HAProxy's `timeout client-fin` / `server-fin`) and with no byte either way (stunnel's
 * TIMEOUTidle, HAProxy's `timeout tunnel`). One schema for the flags (`--half-close-timeout S`,
 * `--idle-timeout S` on `pinhole connect`, `pinhole forward` and `pinhole-gateway run`) and
 * gateway.yaml's `halfCloseTimeout` / `idleTimeout`; 0 means never.
 */
import { z } from 'zod';
import { PinholeError } from './errors.js';

export const DEFAULT_HALF_CLOSE_TIMEOUT_SECONDS = 15;
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 3600;

/** Seconds, 0 = never; at most a week (a timer's range is about 24.8 days). */
export const TimeoutSecondsSchema = z.number().min(0).max(7 * 86_400);

/** The relay's options (node/relay.ts RelayTimeouts), in milliseconds. */
export interface TunnelTimeouts {
  readonly halfCloseTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

export const DEFAULT_TUNNEL_TIMEOUTS: TunnelTimeouts = {
  halfCloseTimeoutMs: DEFAULT_HALF_CLOSE_TIMEOUT_SECONDS * 1000,
  idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_SECONDS * 1000,
};

export const tunnelTimeoutsOf = (seconds: { halfCloseTimeout: number; idleTimeout: number }): TunnelTimeouts => ({
  halfCloseTimeoutMs: seconds.halfCloseTimeout * 1000,
  idleTimeoutMs: seconds.idleTimeout * 1000,
});

/** parseArgs options for the client's two flags. */
export const TIMEOUT_FLAG_OPTIONS = { 'half-close-timeout': { type: 'string' }, 'idle-timeout': { type: 'string' } } as const;

/** The two flags' values (strings from parseArgs, absent = default); throws PINHOLE_USAGE for a value that is not seconds. */
export function tunnelTimeoutsFromFlags(values: { 'half-close-timeout'?: string | undefined; 'idle-timeout'?: string | undefined }): TunnelTimeouts {
  const seconds = (flag: 'half-close-timeout' | 'idle-timeout', fallback: number): number => {
    const text = values[flag];
    if (text === undefined) return fallback;
    const parsed = TimeoutSecondsSchema.safeParse(text.trim() === '' ? Number.NaN : Number(text));
    if (!parsed.success) throw new PinholeError('PINHOLE_USAGE', `--${flag} ${text} is not a number of seconds between 0 and ${7 * 86_400}.`);
    return parsed.data;
  };
  return tunnelTimeoutsOf({ halfCloseTimeout: seconds('half-close-timeout', DEFAULT_HALF_CLOSE_TIMEOUT_SECONDS), idleTimeout: seconds('idle-timeout', DEFAULT_IDLE_TIMEOUT_SECONDS) });
}
