/**
 * The profile store's on-disk shape, its version and its migrations, shared by the headless `conf`
 * store (main/profiles/store.ts) and the desktop app's electron-store (same options, same file).
 * Profiles hold `secretRef`, never a secret.
 */
import type { Profile } from '../../shared/profile.js';
import { DEFAULT_SETTINGS, type Settings } from '../../shared/settings.js';

/** Bump with a new entry in `storeMigrations`. conf/electron-store track it as a semver "projectVersion". */
export const STORE_SCHEMA_VERSION = 2;
export const STORE_PROJECT_VERSION = `${STORE_SCHEMA_VERSION}.0.0`;
export const STORE_PROJECT_NAME = 'pinhole';
export const STORE_CONFIG_NAME = 'config';

export interface StoreData extends Record<string, unknown> {
  profiles: Profile[];
  settings: Settings;
}

export const storeDefaults = (): StoreData => ({ profiles: [], settings: { ...DEFAULT_SETTINGS } });

/** The part of conf/electron-store a migration touches. */
export interface MigrationStore {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  has(key: string): boolean;
  delete(key: string): void;
}

type Loose = Record<string, unknown>;
const isObject = (value: unknown): value is Loose => typeof value === 'object' && value !== null && !Array.isArray(value);

export const storeMigrations: Record<string, (store: MigrationStore) => void> = {
  /** 1: the first versioned layout: `profiles` is a list and `settings` an object. */
  '1.0.0': (store) => {
    if (!Array.isArray(store.get('profiles'))) store.set('profiles', isObject(store.get('profiles')) ? Object.values(store.get('profiles') as Loose) : []);
    if (!isObject(store.get('settings'))) store.set('settings', { ...DEFAULT_SETTINGS });
  },
  /**
   * 2: settings moved from a nested `systemProxy: { enabled, mode, bypass }` and a top-level
   * `defaultProfile` to flat fields (`systemProxyOnConnect`, `proxyMode`, `bypass`, `defaultProfileId`).
   */
  '2.0.0': (store) => {
    const settings: Loose = { ...(store.get('settings') as Loose) };
    const old = settings.systemProxy;
    if (isObject(old)) {
      if (typeof old.enabled === 'boolean') settings.systemProxyOnConnect = old.enabled;
      if (old.mode === 'pac' || old.mode === 'manual') settings.proxyMode = old.mode;
      if (Array.isArray(old.bypass)) settings.bypass = old.bypass;
      delete settings.systemProxy;
    }
    if (store.has('defaultProfile')) {
      const id = store.get('defaultProfile');
      if (typeof id === 'string' && settings.defaultProfileId == null) settings.defaultProfileId = id;
      store.delete('defaultProfile');
    }
    store.set('settings', settings);
  },
};

/** Options to build an electron-store (or conf) over the same file with the same rules. */
export const storeOptions = (cwd: string) => ({
  projectName: STORE_PROJECT_NAME,
  projectVersion: STORE_PROJECT_VERSION,
  configName: STORE_CONFIG_NAME,
  cwd,
  defaults: storeDefaults(),
  migrations: storeMigrations,
  configFileMode: 0o600,
  clearInvalidConfig: false,
});

/** The same, spelled for electron-store (`name` instead of `configName`): `new Store(electronStoreOptions(configDir()))`. */
export const electronStoreOptions = (cwd: string) => {
  const { configName, ...rest } = storeOptions(cwd);
  return { ...rest, name: configName };
};
