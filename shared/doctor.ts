/**
 * What `pinhole doctor` and the UI's "Check my connection" report: the hops from this machine to
 * a destination behind the gateway, in the order a connection takes them, each with a verdict
 * sentence and what to do, and the one line a firewall admin needs. One schema for the CLI's
 * --json, the diagnostics bundle and the UI contract.
 */
import { z } from 'zod';

/** The hops, in the order they are checked; the check stops at the first that fails. */
export const DOCTOR_HOPS = ['resolve', 'tcp', 'tls', 'credential', 'destination', 'system-proxy'] as const;
export const DoctorHopIdSchema = z.enum(DOCTOR_HOPS);
export type DoctorHopId = z.infer<typeof DoctorHopIdSchema>;

/** pass; fail (the check stops here); skip (not checked: an earlier hop failed, or it does not apply). */
export const DoctorHopStatusSchema = z.enum(['pass', 'fail', 'skip']);
export type DoctorHopStatus = z.infer<typeof DoctorHopStatusSchema>;

export const DoctorHopSchema = z.object({
  hop: DoctorHopIdSchema,
  status: DoctorHopStatusSchema,
  /** One sentence: what was found. */
  verdict: z.string(),
  /** What to do about it (absent when nothing needs doing). */
  action: z.string().optional(),
  /** The stable code behind a failure (the gateway's Pinhole-Error code when it sent one). */
  code: z.string().optional(),
  /** Facts for scripts: addresses, the proxy used, the presented certificate, ... (never a secret). */
  facts: z.record(z.string(), z.union([z.string(), z.array(z.string())])).default({}),
});
export type DoctorHop = z.output<typeof DoctorHopSchema>;
export type DoctorHopInput = z.input<typeof DoctorHopSchema>;

export const FirewallRuleSchema = z.object({ host: z.string(), port: z.number().int(), addresses: z.array(z.string()) });

export const DoctorReportSchema = z.object({
  /** True only when no hop failed. */
  ok: z.boolean(),
  profile: z.string(),
  gateway: z.string(),
  checkedAt: z.string(),
  hops: z.array(DoctorHopSchema),
  /** What the firewall must allow: the gateway's name(s) and port(s), with their current addresses. */
  firewall: z.array(FirewallRuleSchema),
  /** The last line: that rule as one sentence. */
  firewallSentence: z.string(),
});
export type DoctorReport = z.output<typeof DoctorReportSchema>;

/** Each hop's title, as the text report and the UI (English; the UI translates by hop id). */
export const HOP_TITLES: Record<DoctorHopId, string> = {
  resolve: 'The gateway name resolves',
  tcp: 'TCP to the gateway opens',
  tls: "TLS handshake and the gateway's certificate",
  credential: 'The credential is accepted',
  destination: 'A request through the tunnel reaches a destination',
  'system-proxy': 'The system proxy points at Pinhole',
};

/** "Allow TCP to gw.example.com port 443 (now 203.0.113.7)." */
export const firewallSentence = (rules: readonly z.output<typeof FirewallRuleSchema>[]): string =>
  `For the firewall admin: allow outgoing TCP to ${rules
    .map((r) => `${r.host} port ${r.port}${r.addresses.length > 0 && !r.addresses.includes(r.host) ? ` (its current addresses: ${r.addresses.join(', ')})` : ''}`)
    .join(' and ')}, and nothing else.`;
