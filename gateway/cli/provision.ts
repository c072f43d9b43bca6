/** `provision`: one line, the provisioning link for a user. */
import { encodeLink } from '../../shared/link.js';
import { parseEndpoint, type Transport } from '../../shared/profile.js';
import { fingerprintOf } from '../certs.js';
import { readCertificate } from '../tls-files.js';
import type { GatewayConfig } from '../config.js';
import { UserStore } from '../users.js';
import { usage } from './common.js';

export interface ProvisionOptions {
  readonly user: string;
  readonly endpoints: readonly string[];
  readonly transport: Transport;
  readonly domains: readonly string[];
  readonly password: string;
  readonly wsPath?: string | undefined;
}

/** What `provision` does for a user, from the user's existence and the flags; refused when the flags do not say. */
export type ProvisionPlan = { kind: 'existing' } | { kind: 'create' } | { kind: 'reset' } | { kind: 'refused'; sentence: string };

export const passwordChangedSentence = (user: string): string =>
  `The password of ${user} was changed: every link made for ${user} before now stops working (the devices using one must import the new link).`;

export function provisionPlan(user: string, exists: boolean, flags: { passwordStdin: boolean; createUser: boolean; resetPassword: boolean }): ProvisionPlan {
  if (flags.createUser && flags.resetPassword) return { kind: 'refused', sentence: 'Give --create-user or --reset-password, not both.' };
  if (flags.createUser) {
    if (exists) return { kind: 'refused', sentence: `The user ${user} already exists: give the password with --password-stdin, or --reset-password for a new one (${user}'s existing links stop working).` };
    return { kind: 'create' };
  }
  if (flags.resetPassword) {
    if (!exists) return { kind: 'refused', sentence: `There is no user ${user} to reset: add --create-user to create it.` };
    return { kind: 'reset' };
  }
  if (!exists) return { kind: 'refused', sentence: `There is no user ${user}: add --create-user to create it with a generated password, or run pinhole-gateway user add ${user} first.` };
  if (flags.passwordStdin) return { kind: 'existing' };
  return {
    kind: 'refused',
    sentence: `The user ${user} exists: give the password with --password-stdin for a link with it, or add --reset-password for a new one (${user}'s existing links stop working).`,
  };
}

export async function provisionLink(config: GatewayConfig, opts: ProvisionOptions): Promise<string> {
  const endpoints = opts.endpoints.length > 0 ? opts.endpoints : [`${config.hostname}:443`];
  for (const e of endpoints) if (parseEndpoint(e) === undefined) usage(`--endpoint ${e} is not HOST:PORT.`);
  const pin = config.operatorCert ? undefined : fingerprintOf(readCertificate(config.certFile));
  return encodeLink({
    name: config.hostname,
    endpoints: [...endpoints],
    serverName: config.hostname,
    ...(pin === undefined ? {} : { pin }),
    user: opts.user,
    secret: opts.password,
    transport: opts.transport,
    ...(opts.wsPath === undefined ? {} : { wsPath: opts.wsPath }),
    ...(opts.domains.length > 0 ? { domains: [...opts.domains] } : {}),
  });
}

export async function checkPassword(config: GatewayConfig, user: string, password: string): Promise<boolean> {
  return new UserStore(config.usersFile).check(user, password);
}
