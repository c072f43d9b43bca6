/**
 * A stored profile and its password, as `pinhole connect NAME` and `pinhole forward ... NAME` find
 * them: first the profile (so "no profile" is said before anything about a keychain), then its
 * password from the keychain or the (remembered) secrets file. No settings file is created here.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PinholeError } from '../../shared/errors.js';
import type { Profile } from '../../shared/profile.js';
import { openSecretStore } from '../keychain/keychain.js';
import type { SecretStore } from '../keychain/secret-store.js';
import { configDir } from '../profiles/paths.js';
import { STORE_CONFIG_NAME } from '../profiles/schema.js';
import { ProfileStore } from '../profiles/store.js';
import { loadManagedForCommand, type ManagedConfiguration } from '../managed/managed-config.js';
import { rememberSecretsFile, secretsFileFor } from './secrets-file.js';

/** What `pinhole connect` says when there is nothing to connect to, before any keychain question. */
export const NO_PROFILE_SENTENCE = 'No profile yet: import one with `pinhole profile import --link-file FILE`, or pass --link-file FILE.';

export interface StoredProfile {
  managed: ManagedConfiguration;
  profile: Profile;
  /** The password; empty for a sign-in profile (its tunnels use a credential from the identity provider). */
  password: string;
  /** A sign-in profile's stored refresh token (absent: never signed in, or signed out). */
  refreshToken?: string;
  store: ProfileStore;
  secrets: SecretStore;
}

export const loadStoredProfile = async (name: string | undefined, secretsFile: string | undefined): Promise<StoredProfile> => {
  const managed = await loadManagedForCommand('pinhole');
  const hasManaged = (managed.current?.profiles?.length ?? 0) > 0;
  // No settings file: no profile was ever stored (and none is created here), unless the administrator provides some.
  if (!hasManaged && !existsSync(join(configDir(), `${STORE_CONFIG_NAME}.json`))) {
    if (name === undefined) throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', NO_PROFILE_SENTENCE);
    throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', `There is no profile named "${name}". ${NO_PROFILE_SENTENCE}`);
  }
  const store = new ProfileStore({ managed });
  if (store.list().length === 0) throw new PinholeError('PINHOLE_PROFILE_NOT_FOUND', NO_PROFILE_SENTENCE);
  const profile = name === undefined ? store.getDefault() : store.require(name);
  if (!profile) throw new PinholeError('PINHOLE_USAGE', 'No profile is marked as the default; give a profile name or --link-file FILE.');
  const file = secretsFileFor(secretsFile);
  const secrets = await openSecretStore({ ...(file !== undefined ? { secretsFile: file } : {}), allowEncryptedFile: file !== undefined || process.env.PINHOLE_SECRETS === 'encrypted-file' });
  rememberSecretsFile(store, secretsFile);
  const stored = await secrets.get(profile.secretRef);
  // A sign-in profile without its refresh token signs in again; a password profile cannot do without its password.
  if (!stored && profile.signIn === undefined) throw new PinholeError('PINHOLE_AUTH_MISSING', `Profile "${profile.name}" has no password ${secrets.location}; import its link again.`);
  if (profile.signIn !== undefined) return { profile, password: '', ...(stored ? { refreshToken: stored } : {}), store, secrets, managed };
  return { profile, password: stored ?? '', store, secrets, managed };
};
