/**
 * What per-app routing decides, and which apps have been seen. Rules are keyed by executable path
 * (profile.appRules); apps without a rule, and connections whose app cannot be told, get the
 * profile's defaultAppAction.
 */
import type { SeenApp } from '../../shared/engine-api.js';
import type { AppAction, Profile } from '../../shared/profile.js';
import type { AppIdentity } from './types.js';

export class AppRules {
  private readonly rules: ReadonlyMap<string, AppAction>;
  readonly defaultAction: AppAction;

  constructor({ appRules = {}, defaultAppAction = 'tunnel' }: Partial<Pick<Profile, 'appRules' | 'defaultAppAction'>> = {}) {
    this.rules = new Map(Object.entries(appRules));
    this.defaultAction = defaultAppAction;
  }

  decide(app: Pick<AppIdentity, 'path'> | undefined): AppAction {
    return (app && this.rules.get(app.path)) ?? this.defaultAction;
  }

  /** Whether the app has a rule of its own (the UI shows "default" otherwise). */
  has(path: string): boolean {
    return this.rules.has(path);
  }
}

export type SeenAppsListener = (apps: SeenApp[]) => void;

/** Apps that used the local proxy: path, name, last seen, connection count; listeners hear about changes once per tick. */
export class SeenApps {
  private readonly apps = new Map<string, SeenApp>();
  private readonly listeners = new Set<SeenAppsListener>();
  private pending = false;

  constructor(private readonly limit = 500) {}

  record(app: Pick<AppIdentity, 'path' | 'name'>, now: number = Date.now()): SeenApp {
    const previous = this.apps.get(app.path);
    const seen: SeenApp = { path: app.path, name: app.name, lastSeen: now, connections: (previous?.connections ?? 0) + 1 };
    this.apps.delete(app.path);
    this.apps.set(app.path, seen);
    if (this.apps.size > this.limit) {
      const oldest = this.apps.keys().next().value;
      if (oldest !== undefined) this.apps.delete(oldest);
    }
    this.schedule();
    return seen;
  }

  /** Most recently seen first. */
  list(): SeenApp[] {
    return [...this.apps.values()].reverse();
  }

  /** Returns a disposer. */
  onChange(listener: SeenAppsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private schedule(): void {
    if (this.pending || this.listeners.size === 0) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      const apps = this.list();
      for (const listener of this.listeners) listener(apps);
    });
  }
}
