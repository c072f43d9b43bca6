/**
 * What a stored profile needs from the keychain beyond its password, for the CLI and the UI
 * alike: its corporate proxy (the profile's own, else the settings'), with that proxy's password;
 * and every secret the profiles hold, so a diagnostics bundle can remove each one.
 */
import { parseEndpoint, type Profile } from '../../shared/profile.js';
import type { UpstreamProxy } from '../tunnel/transport.js';

type SecretReader = (ref: string) => Promise<string | null | undefined> | string | null | undefined;

/** The corporate proxy Pinhole uses for this profile, or undefined for a direct connection. */
export const upstreamForProfile = async (profile: Profile, settingsUpstream: string, secret: SecretReader): Promise<UpstreamProxy | undefined> => {
  const configured = parseEndpoint(profile.upstreamProxy?.endpoint ?? settingsUpstream);
  if (!configured) return undefined;
  const ref = profile.upstreamProxy?.secretRef;
  const password = ref ? await secret(ref) : undefined;
  return { ...configured, ...(profile.upstreamProxy?.user ? { user: profile.upstreamProxy.user } : {}), ...(password ? { password } : {}) };
};

/** Every secret the profiles refer to (passwords, proxy passwords); one that cannot be read is left out. */
export const profileSecrets = async (profiles: readonly Profile[], secret: SecretReader): Promise<string[]> => {
  const out: string[] = [];
  for (const profile of profiles) {
    for (const ref of [profile.secretRef, profile.upstreamProxy?.secretRef]) {
      if (!ref) continue;
      try {
        const value = await secret(ref);
        if (value) out.push(value);
      } catch {
        // A keychain that does not answer holds nothing this bundle could leak either.
      }
    }
  }
  return out;
};
