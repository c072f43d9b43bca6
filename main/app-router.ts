/**
 * The engine's router for the local proxy: each request's calling app is identified (when it can
 * be told) and recorded as seen, then the routing (main/routing.ts) decides. Without a decision
 * (no routing given), the local proxy's one default applies: the tunnel.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { SeenApp } from '../shared/engine-api.js';
import type { RouteRequest, Router } from './proxy/context.js';
import type { CallingApp, RouteDecision, RouteQuery } from './routing.js';

/** The applications seen behind the local proxy's connections, most recent first; 'apps' when a new one appears. */
export class SeenApps extends EventEmitter {
  private readonly apps = new Map<string, SeenApp>();

  list(): SeenApp[] {
    return [...this.apps.values()].sort((a, b) => b.lastSeen - a.lastSeen);
  }

  saw(app: CallingApp): void {
    const seen = this.apps.get(app.path);
    this.apps.set(app.path, { path: app.path, name: app.name, lastSeen: Date.now(), connections: (seen?.connections ?? 0) + 1 });
    if (!seen) this.emit('apps', this.list());
  }
}

export interface AppRouterOptions {
  decide?: (query: RouteQuery) => RouteDecision;
  identifyApp?: (socket: Socket) => Promise<CallingApp | undefined>;
}

export class AppRouter implements Router {
  constructor(
    private readonly options: AppRouterOptions,
    private readonly seen: SeenApps,
  ) {}

  /** The calling app (when it can be told, and recorded as seen), then the routing's decision. */
  async route({ host, port, socket }: RouteRequest): Promise<RouteDecision | undefined> {
    const { decide, identifyApp } = this.options;
    const app = identifyApp ? await identifyApp(socket).catch(() => undefined) : undefined;
    if (app) this.seen.saw(app);
    return decide?.({ host, port, ...(app ? { app } : {}) });
  }
}
