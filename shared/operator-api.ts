/**
 * What the operator's console (`pinhole-gateway console`) and its page say to each other over
 * JSON, declared once: the server answers these shapes, the page reads them. Also the shape the
 * console reads from each gateway's `GET /sessions` (the sessions registry on the admin listener),
 * kept tolerant: fields a gateway does not send are simply absent.
 */
import { z } from 'zod';

/** One live session as a gateway's admin listener reports it (GET /sessions). */
export const GatewaySessionSchema = z.object({
  id: z.string(),
  user: z.string(),
  client: z.string().optional(),
  transport: z.string().optional(),
  tunnels: z.number().nonnegative().optional(),
  bytesUp: z.number().nonnegative().optional(),
  bytesDown: z.number().nonnegative().optional(),
  /** ISO time or epoch milliseconds. */
  since: z.union([z.string(), z.number()]).optional(),
  lastSeen: z.union([z.string(), z.number()]).optional(),
});
export type GatewaySession = z.infer<typeof GatewaySessionSchema>;

/** GET /sessions: `{ sessions: [...] }` or a bare list. */
export const SessionsReplySchema = z.union([z.object({ sessions: z.array(GatewaySessionSchema) }).transform((r) => r.sessions), z.array(GatewaySessionSchema)]);

export interface UserRow {
  name: string;
  disabled: boolean;
  /** Across the fleet's live sessions (undefined when no gateway reports sessions). */
  tunnels?: number;
  bytes?: number;
  /** Epoch ms of the latest activity a gateway reported. */
  lastSeen?: number;
  sessions?: number;
}

export interface UsersReply {
  users: UserRow[];
  /** True when at least one gateway reported its sessions (per-user figures are meaningful). */
  sessionsKnown: boolean;
}

/** One point of a gateway's last hour. */
export interface FleetPoint {
  at: number;
  tunnels: number;
  /** Bytes per second since the previous point, both directions (tunnels that ended in between). */
  bytesPerSecond: number;
  authFailures: number;
  penalties: number;
}

export interface GatewayView {
  name: string;
  admin: string;
  /** Did the last poll get an answer? */
  answering: boolean;
  ready: boolean | undefined;
  version: string | undefined;
  uptimeSeconds: number | undefined;
  tunnels: number | undefined;
  /** Bytes carried by tunnels that ended, since the gateway started (pinhole_tunnel_bytes_total, both directions). */
  bytesTotal: number | undefined;
  /** Why the last poll failed, in a sentence. */
  problem: string | undefined;
  lastAnswer: number | undefined;
  history: FleetPoint[];
  /** Whether this gateway serves GET /sessions. */
  sessions: 'yes' | 'no' | 'unknown';
}

export interface FleetReply {
  gateways: GatewayView[];
  polledAt: number | undefined;
}

export interface SessionRow extends GatewaySession {
  gateway: string;
}

export interface SessionsPageReply {
  sessions: SessionRow[];
  /** Gateways whose sessions could not be read (not answering, or no /sessions). */
  missing: Array<{ gateway: string; why: 'down' | 'unsupported' }>;
}

export const AddUserSchema = z.object({ name: z.string().min(1).max(128) });
export const DisableUserSchema = z.object({ disabled: z.boolean() });
export const IssueLinkSchema = z.object({ transport: z.enum(['h2', 'h1', 'wss']).default('h2') });

/** A change sent to the fleet (gateway/control/fleet-control.ts): sent through Redis, Redis not answering, or no Redis configured. */
export interface ControlReply {
  fleet: 'sent' | 'unreachable' | 'no-state';
  reason?: string;
  /** A revocation: when it lapses (ISO 8601). */
  until?: string;
}

export interface DisableReply {
  name: string;
  disabled: boolean;
  /** How the fleet heard of it beside the users file (absent when the console has no fleet control). */
  control?: ControlReply;
}

export interface LinkReply {
  link: string;
  user: string;
}

export interface OperatorSessionReply {
  /** Sent back in `x-pinhole-csrf` on every change. */
  csrf: string;
  version: string;
}

export interface ApiError {
  code: string;
  message: string;
}

export const CSRF_HEADER = 'x-pinhole-csrf';
