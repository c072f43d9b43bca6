/**
 * The gateway's destination policy for UDP: the same SSRF ranges and `--restrict-to` as TCP
 * (gateway/policy.ts), with its own port list, since UDP services (DNS 53, OpenVPN 1194,
 * WireGuard 51820, QUIC 443) are not the TCP CONNECT ports. Built from a second DestinationPolicy
 * whose "CONNECT ports" are the UDP ports, so policy.ts needs no change and the two cannot drift.
 */
import { DestinationPolicy, type Resolver } from '../policy.js';
import type { UdpDestinationCheck } from './flows.js';

/** UDP ports allowed by default: DNS and QUIC/HTTP3. Anything else needs the operator's word. */
export const DEFAULT_UDP_PORTS: readonly number[] = [53, 443];

export interface UdpPolicyOptions {
  /** Ports UDP flows may reach (default DEFAULT_UDP_PORTS); ignored when restrictTo is non-empty. */
  readonly udpPorts?: readonly number[];
  /** The gateway's --restrict-to HOST:PORT list: when non-empty, exactly these destinations (for TCP and UDP alike). */
  readonly restrictTo?: readonly string[];
}

export function createUdpDestinationCheck(options: UdpPolicyOptions, resolve: Resolver): UdpDestinationCheck {
  const policy = new DestinationPolicy({ allowPorts: options.udpPorts ?? DEFAULT_UDP_PORTS, restrictTo: options.restrictTo }, resolve);
  return async (target) => {
    const decision = await policy.decide(target, 'connect');
    return { address: decision.address, family: decision.family };
  };
}
