/**
 * Builds an EngineHost from the real engine, profile store and keychain. Those modules are loaded
 * here and adapted to the host's small interfaces (host.ts), so the host never depends on their
 * construction details.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { UiSettings, UiSettingsPatch } from '../../shared/contract.js';
import type { Settings } from '../../shared/settings.js';
import { createAppLookup } from '../apps/index.js';
import { Engine } from '../engine.js';
import { openSecretStore, probeKeychain } from '../keychain/keychain.js';
import { SecretStoreSwitch } from '../keychain/secret-store-switch.js';
import { configDir as defaultConfigDir } from '../profiles/paths.js';
import { ProfileStore } from '../profiles/store.js';
import { applySystemProxy, shellExportLine } from '../sysproxy/index.js';
import { EngineHost, type HostProfiles, type SystemProxyPort } from './host.js';
import { repoRoot } from './renderer-build.js';

/** The store's settings, seen as the UI's settings: everything but the default profile (the Profiles view owns that). */
export const toUiSettings = ({ defaultProfileId: _defaultProfile, ...ui }: Settings): UiSettings => ui;

export const adaptProfileStore = (store: ProfileStore): HostProfiles => ({
  list: () => store.list(),
  save: (profile) => store.save(profile),
  remove: (id) => store.remove(id),
  setDefault: (id) => store.setDefault(id),
  defaultId: () => store.defaultId(),
  getSettings: () => toUiSettings(store.getSettings()),
  updateSettings: (patch: UiSettingsPatch) => toUiSettings(store.updateSettings(patch)),
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
  const engine = new Engine({ logger });
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
    profiles: adaptProfileStore(store),
    secrets,
    secretsControl: secrets,
    version: await readVersion(),
    platform: process.platform,
    shellExportLine,
    systemProxy,
    logger: engine.logger,
  });
  return { host, secretsLocation: secrets.location };
};
