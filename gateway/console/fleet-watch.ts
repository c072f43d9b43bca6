/**
 * The console's view of the fleet: every `--gateway` admin address is asked, every poll, for
 * /readyz, /metrics and /sessions, with a short deadline each. The last hour of each gateway's
 * figures is kept in memory (one point per poll). A gateway that does not answer is reported as
 * such with the reason; the others are unaffected. Nothing here counts bytes itself: it reads the
 * counters the gateways already export.
 */
import type { Logger } from '../../shared/log.js';
import { SessionsReplySchema, type FleetPoint, type GatewaySession, type GatewayView } from '../../shared/operator-api.js';
import { labelOf, parsePrometheusText, type Samples } from './prometheus-text.js';

export interface GatewayTarget {
  readonly name: string;
  /** http://HOST:PORT of its admin listener. */
  readonly admin: string;
}

export interface FleetWatchOptions {
  readonly targets: readonly GatewayTarget[];
  readonly intervalMs: number;
  /** Per request. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** How much history to keep. */
  readonly keepMs?: number;
}

const WANTED = new Set([
  'pinhole_tunnels_active',
  'pinhole_tunnel_bytes_total',
  'pinhole_auth_failures_total',
  'pinhole_auth_penalties_total',
  'pinhole_build_info',
  'process_start_time_seconds',
]);

interface Counters {
  at: number;
  bytes: number;
  authFailures: number;
  penalties: number;
}

interface GatewayState {
  view: GatewayView;
  previous: Counters | undefined;
  sessions: GatewaySession[] | undefined;
  /** The silence was logged (once per outage). */
  silenceLogged: boolean;
}

const HOUR_MS = 3_600_000;

const sum = (samples: Samples, name: string): number => {
  let total = 0;
  for (const [key, value] of samples) if (key === name || key.startsWith(`${name}{`)) total += value;
  return total;
};

/** "HOST:PORT" or "NAME=HOST:PORT" (a --gateway value) to a target. */
export function parseGatewayFlag(text: string): GatewayTarget | undefined {
  const eq = text.indexOf('=');
  const name = eq > 0 ? text.slice(0, eq) : undefined;
  const address = eq > 0 ? text.slice(eq + 1) : text;
  const url = /^https?:\/\//.test(address) ? address : `http://${address}`;
  try {
    const parsed = new URL(url);
    if (parsed.port === '' || parsed.pathname !== '/') return undefined;
    return { name: name ?? parsed.host, admin: parsed.origin };
  } catch {
    return undefined;
  }
}

const why = (err: unknown): string => {
  const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'did not answer in time';
  if (e.cause?.code === 'ECONNREFUSED') return 'refused the connection (not running?)';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
};

export class FleetWatch {
  private readonly states: GatewayState[];
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  polledAt: number | undefined;

  constructor(private readonly options: FleetWatchOptions) {
    this.states = options.targets.map((target) => ({
      view: {
        name: target.name,
        admin: target.admin,
        answering: false,
        ready: undefined,
        version: undefined,
        uptimeSeconds: undefined,
        tunnels: undefined,
        bytesTotal: undefined,
        problem: 'not asked yet',
        lastAnswer: undefined,
        history: [],
        sessions: 'unknown',
      },
      previous: undefined,
      sessions: undefined,
      silenceLogged: false,
    }));
  }

  start(): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Ask every gateway now (a poll already running is joined, not doubled). */
  poll(): Promise<void> {
    this.polling ??= Promise.all(this.states.map((state) => this.pollOne(state))).then(() => {
      this.polledAt = Date.now();
      this.polling = undefined;
    });
    return this.polling;
  }

  gateways(): GatewayView[] {
    return this.states.map((s) => s.view);
  }

  /** Live sessions by gateway; `undefined` for a gateway that is down or has no /sessions. */
  sessions(): Array<{ gateway: string; sessions: GatewaySession[] | undefined; why: 'down' | 'unsupported' | undefined }> {
    return this.states.map((s) => ({
      gateway: s.view.name,
      sessions: s.view.answering ? s.sessions : undefined,
      why: !s.view.answering ? 'down' : s.sessions === undefined ? 'unsupported' : undefined,
    }));
  }

  private get(state: GatewayState, path: string): Promise<Response> {
    return fetch(`${state.view.admin}${path}`, { signal: AbortSignal.timeout(this.options.timeoutMs), headers: { accept: path === '/sessions' ? 'application/json' : 'text/plain' } });
  }

  private async pollOne(state: GatewayState): Promise<void> {
    const view = state.view;
    const at = Date.now();
    try {
      const [readyz, metrics, sessions] = await Promise.all([
        this.get(state, '/readyz'),
        this.get(state, '/metrics'),
        this.get(state, '/sessions').catch(() => undefined),
      ]);
      await readyz.body?.cancel();
      if (metrics.status !== 200) throw new Error(`/metrics answered ${metrics.status}`);
      const samples = parsePrometheusText(await metrics.text(), WANTED);
      state.sessions = await this.readSessions(sessions);
      view.sessions = state.sessions === undefined ? 'no' : 'yes';
      const counters: Counters = {
        at,
        bytes: sum(samples, 'pinhole_tunnel_bytes_total'),
        authFailures: sum(samples, 'pinhole_auth_failures_total'),
        penalties: sum(samples, 'pinhole_auth_penalties_total'),
      };
      const tunnels = sum(samples, 'pinhole_tunnels_active');
      const started = samples.get('process_start_time_seconds');
      if (state.silenceLogged) this.options.logger.info({ gateway: view.name }, 'A gateway of the fleet answers again.');
      state.silenceLogged = false;
      Object.assign(view, {
        answering: true,
        ready: readyz.status === 200,
        version: labelOf(samples, 'pinhole_build_info', 'version'),
        uptimeSeconds: started === undefined ? undefined : Math.max(0, Math.round(at / 1000 - started)),
        tunnels,
        bytesTotal: counters.bytes,
        problem: undefined,
        lastAnswer: at,
      });
      const previous = state.previous;
      // A counter that went down is a restarted gateway: that point starts again from zero.
      const delta = (now: number, before: number | undefined): number => (before === undefined ? 0 : now >= before ? now - before : now);
      const seconds = previous === undefined ? 1 : Math.max(0.001, (at - previous.at) / 1000);
      const point: FleetPoint = {
        at,
        tunnels,
        bytesPerSecond: Math.round(delta(counters.bytes, previous?.bytes) / seconds),
        authFailures: delta(counters.authFailures, previous?.authFailures),
        penalties: delta(counters.penalties, previous?.penalties),
      };
      state.previous = counters;
      this.record(view, point);
    } catch (err) {
      if (!state.silenceLogged) this.options.logger.warn({ gateway: view.name, admin: view.admin, reason: why(err) }, 'A gateway of the fleet does not answer on its admin address.');
      state.silenceLogged = true;
      Object.assign(view, { answering: false, ready: undefined, tunnels: undefined, problem: why(err) });
      state.sessions = undefined;
    }
  }

  private async readSessions(reply: Response | undefined): Promise<GatewaySession[] | undefined> {
    if (reply === undefined) return undefined;
    if (reply.status !== 200) {
      await reply.body?.cancel();
      return undefined;
    }
    const parsed = SessionsReplySchema.safeParse(await reply.json().catch(() => undefined));
    return parsed.success ? parsed.data : undefined;
  }

  private record(view: GatewayView, point: FleetPoint): void {
    view.history.push(point);
    const oldest = point.at - (this.options.keepMs ?? HOUR_MS);
    let drop = 0;
    while (drop < view.history.length && view.history[drop]!.at < oldest) drop++;
    if (drop > 0) view.history.splice(0, drop);
  }
}
