/**
 * One log line for every UDP flow the tunnel could not open (the gateway's refusal, a transport
 * failure), the same from `forward -L udp:` and from SOCKS5 UDP ASSOCIATE: UDP has no answer to
 * carry a refusal back to the application, so the log is where a user learns why.
 */
import { PinholeError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { formatEndpoint } from '../../shared/profile.js';

export function logUdpFlowRefused(logger: Logger | undefined, source: string, target: { host: string; port: number }, err: unknown): void {
  const code = err instanceof PinholeError ? err.code : 'PINHOLE_CONNECT_FAILED';
  const status = err instanceof PinholeError ? err.details?.['status'] : undefined;
  logger?.warn({ source, target: formatEndpoint(target), code, ...(status === undefined ? {} : { status }) }, 'A UDP flow through the tunnel could not be opened.');
}
