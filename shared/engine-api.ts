/**
 * The engine as the UI sees it: states, live stats, log lines and the events that carry them.
 * `main/engine.ts` implements `EngineApi`; the UI contract (`shared/contract.ts`) and both of its
 * transports (Electron IPC, console WebSocket) carry exactly these shapes.
 */
import { z } from 'zod';
import { ERRORS, type ErrorCode } from './errors.js';
import { GatewaysStatusSchema } from './gateway-status.js';
import { TransportSchema } from './profile.js';

export const ENGINE_STATES = ['disconnected', 'connecting', 'connected', 'reconnecting', 'error'] as const;
export const EngineStateSchema = z.enum(ENGINE_STATES);
export type EngineState = z.infer<typeof EngineStateSchema>;

export const WireErrorSchema = z.object({
  code: z.string().refine((value): value is ErrorCode => Object.prototype.hasOwnProperty.call(ERRORS, value)),
  message: z.string(),
});

/** A device-code sign-in under way (issue 18): what the user types, and where. */
export const SignInPromptSchema = z.object({
  userCode: z.string(),
  verificationUri: z.string(),
  verificationUriComplete: z.string().optional(),
  /** Epoch ms when the code expires. */
  expiresAt: z.number(),
});
export type SignInPrompt = z.infer<typeof SignInPromptSchema>;
/** Why the engine looked at its connection again: an address or route changed, the process resumed, the OS said so (Electron). */
export const NETWORK_CHANGE_REASONS = ['address', 'route', 'resume', 'os'] as const;
export const NetworkChangeReasonSchema = z.enum(NETWORK_CHANGE_REASONS);
export type NetworkChangeReason = z.infer<typeof NetworkChangeReasonSchema>;

/** The last network change: reconnecting after it, reconnected (and how long that took), or waiting for the gateway to be reachable again. */
export const NetworkChangeSchema = z.object({
  state: z.enum(['reconnecting', 'reconnected', 'waiting']),
  reason: NetworkChangeReasonSchema,
  /** Epoch ms of the change. */
  at: z.number(),
  /** From the change to a live session again. */
  tookMs: z.number().nonnegative().optional(),
});
export type NetworkChange = z.infer<typeof NetworkChangeSchema>;

export const EngineStatusSchema = z.object({
  state: EngineStateSchema,
  /** Profile name (or "command line" for ad-hoc connections). */
  profile: z.string().optional(),
  /** The gateway's TLS name, e.g. "gw.example.com". */
  gateway: z.string().optional(),
  /** The transport actually in use once connected (negotiated by ALPN or chosen). */
  transport: TransportSchema.optional(),
  /** Local proxy address, e.g. "127.0.0.1:8080". */
  listen: z.string().optional(),
  /** Epoch ms when the current state began. */
  since: z.number(),
  /** Why we are in `error` or `reconnecting`. */
  error: WireErrorSchema.optional(),
  /** Epoch ms of the next reconnect attempt while `reconnecting`. */
  retryAt: z.number().optional(),
  /** Non-fatal warnings the user should see (e.g. insecure mode, proxy changed outside Pinhole). */
  warnings: z.array(z.string()).default([]),
  /** A profile with several endpoints: the one in use, its round trip, the others' state, the last switch. */
  gateways: GatewaysStatusSchema.optional(),
  /** A sign-in with the identity provider waiting for the user (the device code to type). */
  signIn: SignInPromptSchema.optional(),
  /** A signed-in user's connection: epoch ms until which the current tunnel credential is valid (renewed before). */
  credentialValidUntil: z.number().optional(),
  /** The last network change seen while connected (roaming, sleep and wake). */
  network: NetworkChangeSchema.optional(),
  /** A captive portal holds the network: where it wants the user to sign in (http URL). */
  portal: z.string().optional(),
});
export type EngineStatus = z.infer<typeof EngineStatusSchema>;

export const TerminalCountersSchema = z.object({
  source: z.string(),
  requests: z.number().int().nonnegative(),
  bytesUp: z.number().nonnegative(),
  bytesDown: z.number().nonnegative(),
  refused: z.number().int().nonnegative(),
  firstSeen: z.number(),
  lastSeen: z.number(),
});
export type TerminalCountersWire = z.infer<typeof TerminalCountersSchema>;

export const EngineStatsSchema = z.object({
  openTunnels: z.number().int().nonnegative(),
  totalTunnels: z.number().int().nonnegative(),
  bytesUp: z.number().nonnegative(),
  bytesDown: z.number().nonnegative(),
  /** Round trip to the gateway (h2 PING or TLS handshake), null before the first measurement. */
  rttMs: z.number().nonnegative().nullable(),
  /** TLS connections currently open to the gateway. */
  gatewayConnections: z.number().int().nonnegative(),
  /** LAN box mode (issue 14): counters per terminal (source address), most recently seen first. */
  terminals: z.array(TerminalCountersSchema).optional(),
});
export type EngineStats = z.infer<typeof EngineStatsSchema>;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const LogLineSchema = z.object({
  /** Monotonic sequence number, so a UI can resume a tail without duplicates. */
  seq: z.number().int().nonnegative(),
  time: z.number(),
  level: z.enum(LOG_LEVELS),
  /** A sentence. */
  msg: z.string(),
  code: z.string().optional(),
  /** Structured facts, already redacted. */
  fields: z.record(z.string(), z.unknown()).default({}),
});
export type LogLine = z.infer<typeof LogLineSchema>;

/** An application seen using the local proxy (per-app routing). */
export const SeenAppSchema = z.object({
  /** Executable path: the app's identity. */
  path: z.string(),
  name: z.string(),
  lastSeen: z.number(),
  connections: z.number().int().nonnegative(),
});
export type SeenApp = z.infer<typeof SeenAppSchema>;

export interface EngineEvents {
  status: EngineStatus;
  stats: EngineStats;
  log: LogLine;
  apps: SeenApp[];
}

export type Disposer = () => void;

/** The piece of the engine every front end (CLI, console, Electron) drives. */
export interface EngineApi {
  getStatus(): EngineStatus;
  getStats(): EngineStats;
  /** Recent log lines (bounded ring), oldest first. */
  getLog(): LogLine[];
  getApps(): SeenApp[];
  on<K extends keyof EngineEvents>(event: K, listener: (payload: EngineEvents[K]) => void): Disposer;
}
