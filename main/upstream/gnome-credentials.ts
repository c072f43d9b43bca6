/**
 * GNOME keeps the proxy's user name and password in `org.gnome.system.proxy.http`
 * (use-authentication, authentication-user, authentication-password) and applies them to the
 * https proxy too. Pinhole never changes these keys, so the live values are the user's own even
 * while Pinhole holds the system proxy. Read with the sysproxy CommandRunner (argument arrays).
 */
import type { CommandRunner } from '../sysproxy/types.js';
import type { CredentialsReader, ProxyCredentials } from './credentials.js';
import { parseGvString } from './os-proxy.js';

const GNOME_HTTP = 'org.gnome.system.proxy.http';

/** `gsettings list-recursively org.gnome.system.proxy.http` output -> the credentials, when authentication is on. */
export const gnomeCredentialsFrom = (listing: string): ProxyCredentials | undefined => {
  const values = new Map<string, string>();
  for (const line of listing.split('\n')) {
    const match = /^(\S+) (\S+) (.*)$/.exec(line.trimEnd());
    if (match && match[1] === GNOME_HTTP) values.set(match[2] ?? '', match[3] ?? '');
  }
  if (values.get('use-authentication') !== 'true') return undefined;
  const user = parseGvString(values.get('authentication-user'));
  if (user === '') return undefined;
  return { user, password: parseGvString(values.get('authentication-password')), source: 'the GNOME proxy settings' };
};

/** GNOME's proxy credentials, read live (Pinhole never changes them, so they are the user's own). */
export const readGnomeCredentials =
  (runner: CommandRunner, gsettings = 'gsettings'): CredentialsReader =>
  async () =>
    gnomeCredentialsFrom((await runner(gsettings, ['list-recursively', GNOME_HTTP])).stdout);
