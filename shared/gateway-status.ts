/**
 * What the UI shows about a profile's gateways (Home view, tray, console): the endpoint in use and
 * its round trip, every other endpoint's state, and the last switch with its reason. Meant to be
 * added to EngineStatusSchema as `gateways: GatewaysStatusSchema.optional()` (shared/engine-api.ts).
 */
import { z } from 'zod';

export const ENDPOINT_HEALTH = ['unknown', 'up', 'down'] as const;
export const SWITCH_REASONS = ['faster', 'spread', 'recovered', 'failed', 'removed'] as const;

export const GatewayEndpointStatusSchema = z.object({
  /** "host:port". */
  endpoint: z.string().min(1),
  health: z.enum(ENDPOINT_HEALTH),
  /** The smoothed round trip (median of recent samples), null before any answer. */
  rttMs: z.number().nonnegative().nullable(),
  /** New tunnels go here. */
  current: z.boolean(),
  /** Error code of the last failure while it is down. */
  failure: z.string().optional(),
});
export type GatewayEndpointStatus = z.infer<typeof GatewayEndpointStatusSchema>;

export const GatewaySwitchSchema = z.object({
  at: z.number(),
  from: z.string(),
  to: z.string(),
  reason: z.enum(SWITCH_REASONS),
  /** The log's sentence, e.g. "gw1:443 stopped answering (...); new tunnels go to gw2:443 (12 ms)." */
  sentence: z.string(),
});
export type GatewaySwitch = z.infer<typeof GatewaySwitchSchema>;

export const GatewaysStatusSchema = z.object({
  /** The endpoint in use ("host:port"). */
  inUse: z.string().min(1),
  endpoints: z.array(GatewayEndpointStatusSchema).min(1),
  lastSwitch: GatewaySwitchSchema.optional(),
  /** Epoch ms of the last successful profile refresh. */
  profileRefreshedAt: z.number().optional(),
});
export type GatewaysStatus = z.infer<typeof GatewaysStatusSchema>;
