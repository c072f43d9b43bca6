/** Connecting to the destination: policy first, then a TCP connect with a timeout. */
import { lookup } from 'node:dns/promises';
import type { Socket } from 'node:net';
import { destinationError, dial } from '../node/dial.js';
import { formatEndpoint, type Endpoint } from '../shared/profile.js';
import type { DestinationPolicy, Resolver, TargetKind } from './policy.js';

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));

export interface UpstreamOptions {
  readonly policy: DestinationPolicy;
  readonly connectTimeoutMs: number;
}

/**
 * Resolve once through the policy, connect to exactly that address. Resolves with a connected
 * socket (no-delay) or throws PinholeError: DEST/PORT_FORBIDDEN, DNS_FAILED, CONNECT_FAILED, CONNECT_TIMEOUT.
 */
export async function openUpstream(target: Endpoint, kind: TargetKind, options: UpstreamOptions): Promise<Socket> {
  const decision = await options.policy.decide(target, kind);
  const many = decision.all.length > 1;
  try {
    // Only vetted addresses reach the connect: the lookup hands back exactly the policy's answer,
    // and autoSelectFamily races them (Happy Eyeballs, RFC 8305).
    return await dial({
      host: many ? target.host : decision.address,
      port: target.port,
      timeoutMs: options.connectTimeoutMs,
      autoSelectFamily: many,
      lookup: (_host, opts, callback) => {
        if ((opts as { all?: boolean }).all === true) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [...decision.all]);
        else callback(null, decision.address, decision.family);
      },
    });
  } catch (err) {
    throw destinationError(err, formatEndpoint(target));
  }
}
