/**
 * Builds an EngineHost from the real engine, profile store and keychain. Those modules are loaded
 * here and adapted to the host's small interfaces (host.ts), so the host never depends on their
 * construction details.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { UiSettingsSchema, type UiSettings, type UiSettingsPatch } from '../../shared/contract.js';
import type { Profile } from '../../shared/profile.js';
import { createAppLookup } from '../apps/index.js';
import { Engine } from '../engine.js';
import { openSecretStore, probeKeychain } from '../keychain/keychain.js';
import { SecretStoreSwitch } from '../keychain/secret-store-switch.js';
import { configDir as defaultConfigDir } from '../profiles/paths.js';
import { ProfileStore } from '../profiles/store.js';
import { applySystemProxy, shellExportLine } from '../sysproxy/index.js';
import { EngineHost, type HostEngine, type HostProfiles, type SystemProxyPort } from './host.js';
import { DEFAULT_UI_SETTINGS } from './memory-deps.js';
import { repoRoot } from './renderer-build.js';

// The store's settings are read field by field (toUiSettings), so they are typed loosely here.
type Loose = Record<string, unknown>;

const call = async <T>(target: Loose, method: string, ...args: unknown[]): Promise<T> => {
  const fn = target[method];
  if (typeof fn !== 'function') throw new PinholeError('PINHOLE_INTERNAL', `The profile store has no ${method}().`);
  return (await (fn as (...a: unknown[]) => unknown).apply(target, args)) as T;
};

/** The store's settings, seen as the UI's settings (unknown keys kept aside and written back untouched). */
export const toUiSettings = (raw: Loose): UiSettings => {
  const pick = <T>(...values: unknown[]): T | undefined => values.find((v) => v !== undefined) as T | undefined;
  const sp = (raw.systemProxy ?? {}) as Loose;
  const bypass = pick<unknown>(raw.bypass, raw.bypassList, sp.bypass);
  const upstream = pick<unknown>(raw.upstreamProxy, raw.upstream);
  const candidate = {
    localPort: pick(raw.localPort, raw.port, DEFAULT_UI_SETTINGS.localPort),
    systemProxyOnConnect: pick(raw.systemProxyOnConnect, raw.setSystemProxy, sp.enabled, DEFAULT_UI_SETTINGS.systemProxyOnConnect),
    proxyMode: pick(raw.proxyMode, raw.systemProxyMode, sp.mode, DEFAULT_UI_SETTINGS.proxyMode),
    bypass: Array.isArray(bypass) ? bypass : typeof bypass === 'string' ? bypass.split(/[\s,]+/).filter(Boolean) : [],
    startAtLogin: pick(raw.startAtLogin, DEFAULT_UI_SETTINGS.startAtLogin),
    connectAtStart: pick(raw.connectAtStart, raw.connectOnStart, DEFAULT_UI_SETTINGS.connectAtStart),
    upstreamProxy: typeof upstream === 'string' ? upstream : typeof upstream === 'object' && upstream ? String((upstream as Loose).endpoint ?? '') : '',
    theme: pick(raw.theme, DEFAULT_UI_SETTINGS.theme),
    language: pick(raw.language, DEFAULT_UI_SETTINGS.language),
  };
  const parsed = UiSettingsSchema.safeParse(candidate);
  return parsed.success ? parsed.data : { ...DEFAULT_UI_SETTINGS };
};

export const adaptProfileStore = (store: Loose): HostProfiles => ({
  list: () => call<Profile[]>(store, 'list'),
  save: (profile) => call(store, 'save', profile),
  remove: (id) => call(store, 'remove', id),
  setDefault: (id) => call(store, 'setDefault', id),
  async defaultId() {
    if (typeof store.getDefault === 'function') return ((await call<Profile | undefined>(store, 'getDefault'))?.id ?? null) as string | null;
    if (typeof store.defaultId === 'function') return call<string | null>(store, 'defaultId');
    const settings = await call<Loose>(store, 'getSettings');
    const value = settings.defaultProfileId ?? settings.defaultProfile;
    return typeof value === 'string' ? value : null;
  },
  getSettings: async () => toUiSettings(await call<Loose>(store, 'getSettings')),
  async updateSettings(patch: UiSettingsPatch) {
    const next = await call<Loose | undefined>(store, 'updateSettings', { ...patch });
    return toUiSettings(next ?? (await call<Loose>(store, 'getSettings')));
  },
});

export interface ComposeOptions {
  logger: Logger;
  configDir?: string;
  /** `--secrets-file FILE`: start on this passphrase-encrypted file (passphrase in PINHOLE_SECRETS_PASSPHRASE). */
  secretsFile?: string;
}

export interface ComposedHost {
  host: EngineHost;
  secretsLocation: string;
}

export const readVersion = async (): Promise<string> => {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
};

export const composeHost = async ({ logger, configDir, secretsFile }: ComposeOptions): Promise<ComposedHost> => {
  // No keychain is not fatal here: the UI explains it and offers a secrets file (main/keychain/secret-store-switch.ts).
  const secrets = await SecretStoreSwitch.start({
    open: () => openSecretStore({ logger, ...(configDir ? { configDir } : {}), ...(secretsFile ? { secretsFile } : {}) }),
    probeKeychain: () => probeKeychain(),
    configDir: configDir ?? defaultConfigDir(),
    logger,
  });
  const store = new ProfileStore({ logger, ...(configDir ? { dir: configDir } : {}) });
  const engine: HostEngine = new Engine({ logger });
  const systemProxy: SystemProxyPort = (options) => applySystemProxy({ ...options, logger });
  const lookup = createAppLookup();
  const host = new EngineHost({
    engine,
    ...(lookup
      ? {
          identifyApp: async (socket) => {
            const app = await lookup.forSocket(socket);
            return app ? { path: app.path, name: app.name } : undefined;
          },
        }
      : {}),
    profiles: adaptProfileStore(store as unknown as Loose),
    secrets,
    secretsControl: secrets,
    version: await readVersion(),
    platform: process.platform,
    shellExportLine,
    systemProxy,
  });
  return { host, secretsLocation: secrets.location };
};
