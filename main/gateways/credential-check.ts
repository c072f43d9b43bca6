/**
 * The credential is checked when a connection starts (issue 25): a wrong or stale password used to
 * look like success ("Connected") and only each request then failed. The profile GET the refresher
 * makes anyway carries the credential, so one is made before the connection is called connected;
 * a refusal ends the start with what to do. Anything else (a gateway without profiles, a slow
 * answer) is left to the tunnels and the refresher, which say what is wrong.
 */
import { PinholeError } from '../../shared/errors.js';
import type { Transport } from '../tunnel/transport.js';

/** What the user reads (CLI line, UI banner) when the gateway refuses the stored credential. */
export const refusedCredentialSentence = (profileName: string): string =>
  `The gateway refused the password of "${profileName}" (it was changed or revoked): ask your administrator for a new link, then import it (pinhole profile import --link-file FILE, or Profiles in the app).`;

export const checkCredentialAtStart = async (transport: Pick<Transport, 'fetchProfile'>, profileName: string): Promise<void> => {
  if (transport.fetchProfile === undefined) return;
  try {
    await transport.fetchProfile(undefined);
  } catch (err) {
    if (err instanceof PinholeError && err.code === 'PINHOLE_AUTH_REJECTED')
      throw new PinholeError('PINHOLE_AUTH_REJECTED', refusedCredentialSentence(profileName), { cause: err });
  }
};
