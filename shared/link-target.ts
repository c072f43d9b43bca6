/**
 * What a provisioning link connects to, without storing anything: the gateway target, its
 * password (or, for a sign-in link, its identity provider in `target.signIn`) and a name.
 * `pinhole connect LINK` and the UI's "connect for this session" both use it.
 */
import { decodeLink } from './link.js';
import { GatewayTargetSchema, type GatewayTarget, type Trust } from './profile.js';

export interface LinkTarget {
  target: GatewayTarget;
  /** The link's password; empty for a sign-in link (`target.signIn` is set, the credential comes from signing in). */
  password: string;
  name: string;
}

/** The user a sign-in target names until the gateway says who signed in. */
export const SIGN_IN_PENDING_USER = 'signing-in';

export const targetFromLink = (link: string): LinkTarget => {
  const payload = decodeLink(link);
  const trust: Trust = payload.pin ? { kind: 'pin', pin: payload.pin } : { kind: 'system' };
  const target = GatewayTargetSchema.parse({
    endpoints: payload.endpoints,
    serverName: payload.serverName,
    trust,
    user: payload.user ?? SIGN_IN_PENDING_USER,
    transport: payload.transport,
    ...(payload.wsPath ? { wsPath: payload.wsPath } : {}),
    domains: payload.domains ?? [],
    ...(payload.signIn ? { signIn: payload.signIn } : {}),
  });
  return { target, password: payload.signIn ? '' : (payload.secret ?? ''), name: payload.name ?? payload.serverName };
};
