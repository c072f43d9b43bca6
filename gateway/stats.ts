/** The gateway's counters for SIGUSR2 and the stop lines (the fleet's /metrics has its own, metrics.ts). */
import type { AuthEvents } from './auth/events.js';
import type { Doors } from './doors.js';
import type { GatewayMetrics } from './metrics.js';
import type { SniffResult } from './sniff/index.js';
import type { TunnelRegistry } from './tunnel-registry.js';

export interface GatewayStats {
  tlsConnections: number;
  activeTlsConnections: number;
  activeTunnels: number;
  totalTunnels: number;
  h2Sessions: number;
  rejectedNotTls: number;
  authFailures: number;
  authPenalties: number;
  /** Requests refused by a limit: the check queue full (503) or too many tunnels (429). */
  limitRefusals: number;
}

/** Counts what the front door, the authenticator and the limits report, in the stats and in the metrics. */
export class GatewayCounters {
  rejectedNotTls = 0;
  authFailures = 0;
  authPenalties = 0;
  limitRefusals = 0;

  constructor(
    events: AuthEvents,
    private readonly metrics: GatewayMetrics,
  ) {
    events.on('failure', () => {
      this.authFailures++;
      metrics.authFailures.inc();
    });
    events.on('penalty', () => {
      this.authPenalties++;
      metrics.authPenalties.inc();
    });
    events.on('refusal', () => this.limitRefusals++);
  }

  /** The front door's route decision for one connection. */
  routed(route: string, sniffed: SniffResult): void {
    this.metrics.connections.inc({ route });
    if (route === 'closed' && sniffed.result === 'none') this.rejectedNotTls++;
  }

  stats(doors: Doors, tunnels: TunnelRegistry): GatewayStats {
    return {
      tlsConnections: doors.tlsConnections,
      activeTlsConnections: doors.openTlsConnections,
      activeTunnels: tunnels.size,
      totalTunnels: tunnels.total,
      h2Sessions: doors.h2.sessions.size,
      rejectedNotTls: this.rejectedNotTls,
      authFailures: this.authFailures,
      authPenalties: this.authPenalties,
      limitRefusals: this.limitRefusals,
    };
  }
}
