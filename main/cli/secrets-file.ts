/**
 * A chosen `--secrets-file` is remembered in the settings (issue 25), so it is not needed on every
 * call: given, it is stored (as an absolute path) once the command has a settings file; not given,
 * the remembered one is used. Reading it never creates the settings file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configDir } from '../profiles/paths.js';
import { STORE_CONFIG_NAME } from '../profiles/schema.js';
import type { ProfileStore } from '../profiles/store.js';

/** The secrets file remembered in the settings, if any (the settings file is read, never created). */
export const rememberedSecretsFile = (env: NodeJS.ProcessEnv = process.env): string | undefined => {
  const file = join(configDir(env), `${STORE_CONFIG_NAME}.json`);
  if (!existsSync(file)) return undefined;
  try {
    const remembered = (JSON.parse(readFileSync(file, 'utf8')) as { settings?: { secretsFile?: unknown } }).settings?.secretsFile;
    return typeof remembered === 'string' && remembered !== '' ? remembered : undefined;
  } catch {
    // A damaged settings file is reported by the store when it is opened.
    return undefined;
  }
};

/** The file to use: the one given, else the remembered one. */
export const secretsFileFor = (given: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined =>
  given === undefined ? rememberedSecretsFile(env) : resolve(given);

/** Stores a given file in the settings (nothing when none was given or it is already the one). */
export const rememberSecretsFile = (store: ProfileStore, given: string | undefined): void => {
  if (given === undefined) return;
  const file = resolve(given);
  if (store.getSettings().secretsFile !== file) store.updateSettings({ secretsFile: file });
};
