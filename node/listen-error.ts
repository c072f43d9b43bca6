/**
 * A listen that failed, in words: the errno Node gives (EADDRINUSE, EACCES, EADDRNOTAVAIL, ...)
 * becomes a PinholeError with a start-up code and a sentence that names the address, the flag that
 * set it, the program already holding it, and what to do. Every listener of both CLIs (the local
 * proxy, forwards, the console, the gateway, its admin listener) reports through this.
 */
import type { Server } from 'node:net';
import { PinholeError } from '../shared/errors.js';
import { formatEndpoint } from '../shared/profile.js';
import { findPortHolder } from './port-holder.js';

export interface ListenWhere {
  readonly host: string;
  readonly port: number;
  /** What was listening, as a subject: "The local proxy", "The gateway", "The console". */
  readonly what: string;
  /** The flag that chose the address, for the advice: "--listen", "--admin", "-L". */
  readonly flag?: string;
  readonly protocol?: 'tcp' | 'udp';
}

/** Below this port Linux asks for CAP_NET_BIND_SERVICE (net.ipv4.ip_unprivileged_port_start). */
const FIRST_UNPRIVILEGED_PORT = 1024;

export function listenError(err: unknown, where: ListenWhere): PinholeError {
  if (err instanceof PinholeError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const address = formatEndpoint({ host: where.host, port: where.port });
  const flag = where.flag === undefined ? '' : ` with ${where.flag}`;
  const cannot = `${where.what} cannot listen on ${address}`;
  const details = { address, errno };
  switch (errno) {
    case 'EADDRINUSE': {
      const holder = findPortHolder(where.port, where.protocol ?? 'tcp');
      const by = holder === undefined ? 'another program' : `${holder.name} (pid ${holder.pid})`;
      return new PinholeError('PINHOLE_ADDRESS_IN_USE', `${cannot}: the port is already in use by ${by}. Stop it, or choose another port${flag}.`, {
        cause: err,
        details: { ...details, ...(holder === undefined ? {} : { holderPid: holder.pid, holder: holder.name }) },
      });
    }
    case 'EACCES':
      if (where.port > 0 && where.port < FIRST_UNPRIVILEGED_PORT) {
        return new PinholeError(
          'PINHOLE_PORT_PRIVILEGED',
          `${cannot}: ports below 1024 need the CAP_NET_BIND_SERVICE capability. Give it to node (setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")") or, under systemd, AmbientCapabilities=CAP_NET_BIND_SERVICE in the unit; or listen on a port above 1023${flag} behind the load balancer.`,
          { cause: err, details },
        );
      }
      return new PinholeError('PINHOLE_PORT_PRIVILEGED', `${cannot}: the system does not allow it (EACCES; a security policy such as SELinux or AppArmor may forbid the port). Allow it there, or choose another port${flag}.`, {
        cause: err,
        details,
      });
    case 'EADDRNOTAVAIL':
    case 'EAFNOSUPPORT':
      return new PinholeError('PINHOLE_ADDRESS_NOT_LOCAL', `${cannot}: ${where.host} is not an address of this machine. Choose one of its addresses (ip -brief address)${flag}, or 0.0.0.0 for all of them.`, {
        cause: err,
        details,
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return new PinholeError('PINHOLE_ADDRESS_NOT_LOCAL', `${cannot}: the name ${where.host} does not resolve to an address of this machine. Give an IP address${flag}.`, { cause: err, details });
    default:
      return new PinholeError('PINHOLE_INTERNAL', undefined, { cause: err, details });
  }
}

/** Listen a TCP server on `where` (at `bindHost` when it differs, e.g. "localhost"), failing with listenError's sentence. */
export function listenExplained(server: Server, where: ListenWhere, bindHost = where.host): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (err: Error): void => reject(listenError(err, where));
    server.once('error', failed);
    server.listen({ host: bindHost, port: where.port }, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
