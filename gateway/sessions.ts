/**
 * Who is connected (issue 18's sessions view): one session per user and source address (an office
 * behind one NAT is one source, as penalties count it), from its first open tunnel to its last.
 * Each session knows its tunnels (to end them: a revocation, the operator's disconnect), since
 * when, the transports they came through, and bytes each way (ended tunnels' plus open ones' so
 * far). Never a destination. `GET /sessions` on the admin listener serves `list()`.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Principal, PrincipalKind } from './auth/principal.js';
import { sourceOf } from './auth/source.js';

/** What `GET /sessions` answers for each session (the JSON contract; the console and the CLI read it). */
export interface SessionView {
  /** Unique across the fleet: this process's id, a dot, a counter. */
  readonly id: string;
  readonly user: string;
  readonly kind: PrincipalKind;
  readonly subject?: string;
  readonly email?: string;
  /** The address penalties count against (IPv4, or the IPv6 /64). */
  readonly source: string;
  /** Which gateway: the machine's host name and the process id. */
  readonly gateway: string;
  /** ISO 8601: when its first open tunnel was answered. */
  readonly since: string;
  readonly tunnels: number;
  /** Bytes client to destination, and back. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** h2, h1, wss: the doors its tunnels came through. */
  readonly transports: string[];
}

/** Live byte counts of an open tunnel (the relay's). */
export interface TunnelMeter {
  readonly bytesUp: number;
  readonly bytesDown: number;
}

/** Why the gateway ended a tunnel (the access line's `end`): its user's access was revoked, or the operator ended its session. */
export type EndReason = 'revoked' | 'disconnected';

export interface SessionTunnelInfo {
  readonly principal: Principal;
  readonly client: string | undefined;
  readonly transport?: string | undefined;
}

interface OpenTunnel {
  readonly abort: (reason: EndReason) => void;
  readonly meter: TunnelMeter | undefined;
}

interface Session {
  readonly id: string;
  readonly principal: Principal;
  readonly source: string;
  readonly since: number;
  readonly tunnels: Set<OpenTunnel>;
  readonly transports: Set<string>;
  bytesUp: number;
  bytesDown: number;
}

/** This process's part of every session id. */
const INSTANCE = randomBytes(4).toString('hex');
const GATEWAY = `${hostname()}:${process.pid}`;

const TRANSPORT_NAMES: Record<string, string> = { h2: 'h2', 'http/1.1': 'h1', wss: 'wss' };

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly byId = new Map<string, Session>();
  private counter = 0;

  /** Count one open tunnel in its session; the returned function (once) ends it there, with its final bytes. */
  open(info: SessionTunnelInfo, abort: (reason: EndReason) => void, meter?: TunnelMeter): (final?: TunnelMeter) => void {
    const source = sourceOf(info.client);
    const key = `${info.principal.key}\0${source}`;
    let session = this.sessions.get(key);
    if (session === undefined) {
      session = { id: `${INSTANCE}.${++this.counter}`, principal: info.principal, source, since: Date.now(), tunnels: new Set(), transports: new Set(), bytesUp: 0, bytesDown: 0 };
      this.sessions.set(key, session);
      this.byId.set(session.id, session);
    }
    if (info.transport !== undefined) session.transports.add(TRANSPORT_NAMES[info.transport] ?? info.transport);
    const tunnel: OpenTunnel = { abort, meter };
    session.tunnels.add(tunnel);
    const owner = session;
    let done = false;
    return (final = meter) => {
      if (done) return;
      done = true;
      owner.bytesUp += final?.bytesUp ?? 0;
      owner.bytesDown += final?.bytesDown ?? 0;
      owner.tunnels.delete(tunnel);
      if (owner.tunnels.size === 0) {
        this.sessions.delete(key);
        this.byId.delete(owner.id);
      }
    };
  }

  get size(): number {
    return this.sessions.size;
  }

  list(): SessionView[] {
    return [...this.sessions.values()].map((s) => {
      let bytesUp = s.bytesUp;
      let bytesDown = s.bytesDown;
      for (const t of s.tunnels) {
        bytesUp += t.meter?.bytesUp ?? 0;
        bytesDown += t.meter?.bytesDown ?? 0;
      }
      const { principal } = s;
      return {
        id: s.id,
        user: principal.name,
        kind: principal.kind,
        ...(principal.subject === undefined ? {} : { subject: principal.subject }),
        ...(principal.email === undefined ? {} : { email: principal.email }),
        source: s.source,
        gateway: GATEWAY,
        since: new Date(s.since).toISOString(),
        tunnels: s.tunnels.size,
        bytesUp,
        bytesDown,
        transports: [...s.transports].sort(),
      };
    });
  }

  /** End one session's tunnels; false when this gateway has no such session. */
  end(id: string): boolean {
    const session = this.byId.get(id);
    if (session === undefined) return false;
    for (const t of [...session.tunnels]) t.abort('disconnected');
    return true;
  }

  /** End the tunnels of every session whose principal `matches`; the number of tunnels ended. */
  endWhere(matches: (principal: Principal) => boolean): number {
    let ended = 0;
    for (const session of [...this.sessions.values()]) {
      if (!matches(session.principal)) continue;
      for (const t of [...session.tunnels]) {
        t.abort('revoked');
        ended++;
      }
    }
    return ended;
  }
}
