/**
 * Background probes of the gateway's endpoints (main/gateways/chooser.ts says which is due and
 * when): the endpoint in use is measured by a PING on its session, any other by a verified TLS
 * connection and one PING round trip, closed after. One timer, one probe in flight at a time; each
 * outcome goes back to the chooser, whose decision the sessions apply.
 */
import { connect as h2Connect, type ClientHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { PinholeError } from '../../shared/errors.js';
import { parseEndpoint, type Endpoint } from '../../shared/profile.js';
import type { GatewayChooser, SwitchDecision } from '../gateways/chooser.js';
import { SessionLiveness } from '../gateways/liveness.js';
import { dialOneEndpoint, type TlsSessionCache } from './dial.js';
import type { GatewayDialOptions } from './transport.js';

/** Budget of a background probe of an endpoint not in use (TCP + TLS + one PING). */
const PROBE_TIMEOUT_MS = 3_000;

/** What the probes need from the sessions they measure beside (main/tunnel/h2-sessions.ts). */
export interface ProbedSessions {
  /** The session in use when it goes to `endpoint`, with its PING watcher. */
  inUseOn(endpoint: string): { session: ClientHttp2Session; watcher: SessionLiveness } | undefined;
  /** The session stopped answering (its watcher's 'dead' already recorded the outcome). */
  isDead(session: ClientHttp2Session): boolean;
  /** The chooser's decision after a measurement: a switch, or nothing. */
  apply(decision: SwitchDecision | undefined): void;
  /** An endpoint's health may have changed. */
  changed(): void;
}

export class EndpointProbes {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private stopped = false;

  constructor(
    private readonly chooser: GatewayChooser,
    private readonly sessions: ProbedSessions,
    private readonly dial: GatewayDialOptions,
    private readonly tlsSessions: TlsSessionCache,
  ) {}

  /** A probe is in flight (its end re-arms the timer). */
  get busy(): boolean {
    return this.inFlight;
  }

  /** One timer for the background probes, at the chooser's next due time. */
  arm(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const at = this.chooser.nextProbeAt();
    if (at === undefined) return;
    this.timer = setTimeout(() => this.probe(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private probe(): void {
    const endpoint = this.chooser.dueProbe();
    if (endpoint === undefined) {
      this.arm();
      return;
    }
    this.inFlight = true;
    const done = (): void => {
      this.inFlight = false;
      this.sessions.changed();
      this.arm();
    };
    const measured = (): void => {
      this.measure(endpoint)
        .then(
          (rttMs) => this.sessions.apply(this.chooser.record(endpoint, rttMs, 'probe')),
          (err: unknown) => this.sessions.apply(this.chooser.fail(endpoint, err instanceof PinholeError ? err.code : 'PINHOLE_GATEWAY_UNREACHABLE')),
        )
        .finally(done);
    };
    const inUse = this.sessions.inUseOn(endpoint);
    if (inUse) {
      // The 'rtt' and 'dead' handlers record the outcome; a watcher stopped meanwhile (a switch) leaves it to a probe dial.
      inUse.watcher.probeNow().then(done, () => (this.sessions.isDead(inUse.session) ? done() : measured()));
      return;
    }
    measured();
  }

  /** An endpoint not in use: a verified TLS connection, one PING round trip (comparable with the session's), closed. */
  private async measure(endpoint: string): Promise<number> {
    const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
    const socket: TLSSocket = await dialOneEndpoint(parseEndpoint(endpoint) as Endpoint, { ...this.dial, connectTimeoutMs: PROBE_TIMEOUT_MS }, ['h2'], this.tlsSessions, signal);
    const session = h2Connect(`https://${this.dial.serverName}`, { createConnection: () => socket, settings: { enablePush: false } });
    session.on('error', () => undefined);
    session.unref();
    const watcher = new SessionLiveness(session, { timeoutMs: PROBE_TIMEOUT_MS, idleIntervalMs: 60_000 });
    try {
      return await watcher.probeNow();
    } finally {
      watcher.stop();
      session.destroy();
    }
  }
}
