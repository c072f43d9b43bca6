/**
 * The gateway's Prometheus metrics (the names are a contract: dashboards and alerts use them).
 * Fed only through the gateway's seams - the access log (one record per tunnel, at its end), the
 * tunnel tracker, the upstream dial, the TLS server and the multiplexer's route decision - so the
 * proxies' byte paths stay untouched. Labels are low-cardinality: never a user or a destination.
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccessRecord } from './access-log.js';
import { packageRoot } from '../node/package-root.js';

/** The installed Pinhole's version (package.json), for pinhole_build_info. */
export const PINHOLE_VERSION: string = (JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'package.json'), 'utf8')) as { version: string }).version;

/** The transports' names as the client and the links spell them. */
const TRANSPORT_OF: Record<AccessRecord['proto'], string> = { h2: 'h2', 'http/1.1': 'h1', wss: 'wss' };

/** ok: the destination answered; refused: the gateway said no (auth, policy, bad request); failed: the destination could not be reached. */
export const resultOf = (status: number): 'ok' | 'refused' | 'failed' => (status < 400 ? 'ok' : status < 500 ? 'refused' : 'failed');

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly tunnelsOpened: Counter<'transport' | 'result'>;
  readonly tunnelsActive: Gauge;
  readonly tunnelBytes: Counter<'direction'>;
  readonly tunnelOpenSeconds: Histogram<'result'>;
  readonly authFailures: Counter;
  readonly authPenalties: Counter;
  readonly tlsHandshakes: Counter<'resumed'>;
  readonly connections: Counter<'route'>;
  readonly tunnelsTimedOut: Counter<'reason'>;
  readonly connectionsOpen: Gauge;
  readonly capRefusals: Counter<'refused'>;
  readonly buildInfo: Gauge<'version'>;

  constructor({ defaultMetrics = true }: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.tunnelsOpened = new Counter({
      name: 'pinhole_tunnels_opened_total',
      help: 'Tunnels and proxied requests, counted when they end, by transport (h2, h1, wss) and result (ok, refused, failed).',
      labelNames: ['transport', 'result'],
      registers,
    });
    this.tunnelsActive = new Gauge({ name: 'pinhole_tunnels_active', help: 'Tunnels open now.', registers });
    this.tunnelBytes = new Counter({
      name: 'pinhole_tunnel_bytes_total',
      help: 'Bytes carried by tunnels that ended: up = client to destination, down = destination to client.',
      labelNames: ['direction'],
      registers,
    });
    this.tunnelOpenSeconds = new Histogram({
      name: 'pinhole_tunnel_open_seconds',
      help: "Seconds from a tunnel request to the destination's connect (policy, DNS and TCP connect), by result.",
      labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.authFailures = new Counter({ name: 'pinhole_auth_failures_total', help: 'Requests refused for a missing or wrong user name or password.', registers });
    this.authPenalties = new Counter({ name: 'pinhole_auth_penalties_total', help: 'Requests delayed or refused by an authentication penalty.', registers });
    this.tlsHandshakes = new Counter({ name: 'pinhole_tls_handshakes_total', help: 'TLS handshakes completed, by whether a session was resumed.', labelNames: ['resumed'], registers });
    this.connections = new Counter({ name: 'pinhole_connections_total', help: 'Accepted connections by the route the sniffer chose.', labelNames: ['route'], registers });
    this.tunnelsTimedOut = new Counter({
      name: 'pinhole_tunnels_timed_out_total',
      help: 'Tunnels the gateway ended for silence, by reason: idle (no byte either way for --idle-timeout) or half-close (one side closed, then --half-close-timeout without a byte).',
      labelNames: ['reason'],
      registers,
    });
    this.connectionsOpen = new Gauge({ name: 'pinhole_connections_open', help: 'Connections the gateway holds now, accepted and dialled, counted against --max-connections.', registers });
    this.capRefusals = new Counter({
      name: 'pinhole_connection_cap_refusals_total',
      help: 'Refusals by the connection cap (--max-connections): request = a tunnel or request answered 503, connection = a connection closed at accept.',
      labelNames: ['refused'],
      registers,
    });
    // Always 1; the label carries the version (the console's fleet page and Grafana read it). One per process, not summed over workers.
    this.buildInfo = new Gauge({ name: 'pinhole_build_info', help: 'The Pinhole version this gateway runs, as the version label (the value is always 1).', labelNames: ['version'], aggregator: 'first', registers });
    this.buildInfo.set({ version: PINHOLE_VERSION }, 1);
    for (const reason of ['idle', 'half-close']) this.tunnelsTimedOut.inc({ reason }, 0);
    for (const refused of ['request', 'connection']) this.capRefusals.inc({ refused }, 0);
    for (const direction of ['up', 'down']) this.tunnelBytes.inc({ direction }, 0);
    for (const resumed of ['true', 'false']) this.tlsHandshakes.inc({ resumed }, 0);
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** One access record: a tunnel or request that ended. */
  tunnelEnded(record: AccessRecord): void {
    this.tunnelsOpened.inc({ transport: TRANSPORT_OF[record.proto], result: resultOf(record.status) });
    if (record.bytesUp > 0) this.tunnelBytes.inc({ direction: 'up' }, record.bytesUp);
    if (record.bytesDown > 0) this.tunnelBytes.inc({ direction: 'down' }, record.bytesDown);
    if (record.end === 'idle-timeout') this.tunnelsTimedOut.inc({ reason: 'idle' });
    else if (record.end === 'half-close-timeout') this.tunnelsTimedOut.inc({ reason: 'half-close' });
  }

  /** Times a dial to the destination; the dial's own result (or error) passes through. */
  async timeOpen<T>(open: () => Promise<T>): Promise<T> {
    const end = this.tunnelOpenSeconds.startTimer();
    try {
      const socket = await open();
      end({ result: 'ok' });
      return socket;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      end({ result: code === 'PINHOLE_DEST_FORBIDDEN' || code === 'PINHOLE_PORT_FORBIDDEN' ? 'refused' : 'failed' });
      throw err;
    }
  }

  /** Serve this registry to a cluster primary's AggregatorRegistry (call in each worker). */
  shareWithClusterPrimary(): void {
    // Constructing one is what installs a worker's answer to the primary's requests.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([this.registry]);
  }
}

/** The Prometheus text of a registry, or of every worker summed (the cluster primary). */
export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export const registrySource = (registry: Registry): MetricsSource => ({ contentType: registry.contentType, text: () => registry.metrics() });

export const clusterSource = (): MetricsSource => {
  const aggregator = new AggregatorRegistry();
  return { contentType: aggregator.contentType, text: () => aggregator.clusterMetrics() };
};
