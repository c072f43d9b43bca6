/**
 * In-memory stand-ins for the profile store and the keychain, and a scripted engine, used by the
 * contract and console tests (which are about the contract's gatekeeping, not about tunnels) and
 * by the demo console (test/ui/support/demo-console.ts). The real console composes the real
 * modules (main/console/compose.ts).
 */
import type { Disposer, EngineEvents, EngineStats, EngineStatus, LogLine, SeenApp } from '../../shared/engine-api.js';
import { UiSettingsSchema, type UiSettings, type UiSettingsPatch } from '../../shared/contract.js';
import type { GatewayTarget, Profile } from '../../shared/profile.js';
import { DEFAULT_UI_SETTINGS } from '../../shared/settings.js';
import type { ConnectOptions, HostEngine, HostProfiles, HostSecrets } from '../../main/console/host.js';

export class MemoryProfiles implements HostProfiles {
  readonly profiles = new Map<string, Profile>();
  settings: UiSettings = { ...DEFAULT_UI_SETTINGS };
  private defaultProfile: string | null = null;
  list(): Profile[] {
    return [...this.profiles.values()];
  }
  save(profile: Profile): void {
    this.profiles.set(profile.id, structuredClone(profile));
  }
  remove(id: string): void {
    this.profiles.delete(id);
    if (this.defaultProfile === id) this.defaultProfile = null;
  }
  defaultId(): string | null {
    return this.defaultProfile;
  }
  setDefault(id: string): void {
    this.defaultProfile = id;
  }
  getSettings(): UiSettings {
    return { ...this.settings };
  }
  updateSettings(patch: UiSettingsPatch): UiSettings {
    this.settings = UiSettingsSchema.parse({ ...this.settings, ...patch });
    return this.getSettings();
  }
}

export class MemorySecrets implements HostSecrets {
  readonly kind = 'memory';
  readonly location = 'in memory only (test mode; nothing is written anywhere)';
  readonly secrets = new Map<string, string>();
  get(ref: string): string | undefined {
    return this.secrets.get(ref);
  }
  set(ref: string, secret: string): void {
    this.secrets.set(ref, secret);
  }
  delete(ref: string): void {
    this.secrets.delete(ref);
  }
}

type Listeners = { [K in keyof EngineEvents]: Set<(payload: EngineEvents[K]) => void> };

/** An engine that connects to nothing: it records calls and emits whatever a test tells it to. */
export class ScriptedEngine implements HostEngine {
  status: EngineStatus = { state: 'disconnected', since: 0, warnings: [] };
  stats: EngineStats = { openTunnels: 0, totalTunnels: 0, bytesUp: 0, bytesDown: 0, rttMs: null, gatewayConnections: 0 };
  log: LogLine[] = [];
  apps: SeenApp[] = [];
  readonly connects: { target: GatewayTarget; password: string; options: ConnectOptions }[] = [];
  private readonly listeners: Listeners = { status: new Set(), stats: new Set(), log: new Set(), apps: new Set() };

  getStatus(): EngineStatus {
    return this.status;
  }
  getStats(): EngineStats {
    return this.stats;
  }
  getLog(): LogLine[] {
    return this.log;
  }
  getApps(): SeenApp[] {
    return this.apps;
  }
  on<K extends keyof EngineEvents>(event: K, listener: (payload: EngineEvents[K]) => void): Disposer {
    const set = this.listeners[event] as Set<(payload: EngineEvents[K]) => void>;
    set.add(listener);
    return () => set.delete(listener);
  }
  emit<K extends keyof EngineEvents>(event: K, payload: EngineEvents[K]): void {
    for (const listener of this.listeners[event] as Set<(payload: EngineEvents[K]) => void>) listener(payload);
  }
  setStatus(status: Partial<EngineStatus> & Pick<EngineStatus, 'state'>): void {
    this.status = { since: Date.now(), warnings: [], ...status };
    this.emit('status', this.status);
  }
  addLog(level: LogLine['level'], msg: string, fields: Record<string, unknown> = {}): void {
    const line: LogLine = { seq: this.log.length + 1, time: Date.now(), level, msg, fields };
    this.log.push(line);
    this.emit('log', line);
  }
  async connect(target: GatewayTarget, password: string, options: ConnectOptions): Promise<{ listen: string }> {
    this.connects.push({ target, password, options });
    const listen = '127.0.0.1:18080';
    this.setStatus({ state: 'connected', profile: options.profileName, gateway: target.serverName, transport: target.transport, listen });
    this.addLog('info', 'Connected to the gateway.', { gateway: target.serverName });
    return { listen };
  }
  async disconnect(): Promise<void> {
    this.setStatus({ state: 'disconnected' });
    this.addLog('info', 'Disconnected.');
  }
}
