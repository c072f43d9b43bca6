/** Connecting to the destination: policy first, then a TCP connect with a timeout. */
import { lookup } from 'node:dns/promises';
import { connect, type Socket } from 'node:net';
import { PinholeError } from '../shared/errors.js';
import type { Endpoint } from '../shared/profile.js';
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
  return new Promise<Socket>((resolve, reject) => {
    // Only vetted addresses reach the connect: the lookup hands back exactly the policy's answer,
    // and autoSelectFamily races them (Happy Eyeballs, RFC 8305).
    const socket = connect({
      host: decision.all.length > 1 ? target.host : decision.address,
      port: target.port,
      noDelay: true,
      autoSelectFamily: decision.all.length > 1,
      lookup: (_host, opts, callback) => {
        if ((opts as { all?: boolean }).all === true) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [...decision.all]);
        else callback(null, decision.address, decision.family);
      },
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new PinholeError('PINHOLE_CONNECT_TIMEOUT', `${target.host}:${target.port} did not answer in time.`));
    }, options.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (cause) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new PinholeError('PINHOLE_CONNECT_FAILED', `${target.host}:${target.port}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause }));
    });
  });
}
