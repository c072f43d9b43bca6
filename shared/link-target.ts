/**
 * What a provisioning link connects to, without storing anything: the gateway target, its
 * password and a name. `pinhole connect LINK` and the UI's "connect for this session" both use it.
 */
import { decodeLink } from './link.js';
import { GatewayTargetSchema, type GatewayTarget, type Trust } from './profile.js';

export interface LinkTarget {
  target: GatewayTarget;
  password: string;
  name: string;
}

export const targetFromLink = (link: string): LinkTarget => {
  const payload = decodeLink(link);
  const trust: Trust = payload.pin ? { kind: 'pin', pin: payload.pin } : { kind: 'system' };
  const target = GatewayTargetSchema.parse({
    endpoints: payload.endpoints,
    serverName: payload.serverName,
    trust,
    user: payload.user,
    transport: payload.transport,
    ...(payload.wsPath ? { wsPath: payload.wsPath } : {}),
    domains: payload.domains ?? [],
  });
  return { target, password: payload.secret, name: payload.name ?? payload.serverName };
};
